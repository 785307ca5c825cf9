"""A full day at the centre for the wallboard's layout test: Asterisk events (as the AMI client publishes
them on the bus) for thousands of calls over today in every shipped queue, the 110 linkage queue included,
hotlines with the longest numbers, department legs of the departments with the longest names of
config/hotlines.yaml, test dials, 110 hand-overs and follow-ups; agents with pause reasons.

The events go through the layer's own bus into the real engine, so the page shows four-digit counts and
a filled sparkline in a second, not after hours of simulated traffic."""

from __future__ import annotations

import random
from datetime import datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml

from cti.ami import TOPIC_EVENT
from cti.ami.message import AmiMessage
from cti.calls.stats import TOPIC_DEPARTMENT_LEG, DepartmentLeg
from cti.dispositions.messages import TOPIC_OUTCOME as TOPIC_DISPOSITION
from cti.dispositions.messages import DispositionOutcome
from cti.messages import Rating
from cti.outbound.followups import TOPIC_FOLLOWUP, FollowupAttempt
from cti.outbound.linkage import FROM_110, TO_110, TOPIC_LINKAGE, Handover
from cti.outbound.testdial import TOPIC_TEST_DIAL

ROOT = Path(__file__).resolve().parents[1]
SHANGHAI = ZoneInfo("Asia/Shanghai")
# queue -> calls of the day (four digits where a centre has them), share answered within 15 s
QUEUES = {"public": 4321, "enterprise": 1234, "supervision": 1012, "linkage110": 1001}
PAUSES = ["小休", "用餐", "培训", "会议", "话后处理", "break"]     # the shipped calls.pause_reasons, and one in English


def day_start() -> float:
    """00:00 today at the centre."""
    return datetime.combine(datetime.now(SHANGHAI).date(), time(), SHANGHAI).timestamp()


def directory() -> list[dict]:
    return yaml.safe_load((ROOT / "config" / "hotlines.yaml").read_text(encoding="utf-8"))["hotlines"]


def _ev(name: str, ts: float, **fields: str) -> AmiMessage:
    return AmiMessage.of(Event=name, Timestamp=f"{ts:.6f}", **fields)


def publish_day(bus, until_hour: float = 21.5, seed: int = 18) -> dict:
    """Publish a day of queue calls from 00:00 to ``until_hour`` (centre time) on ``bus``; return what was
    published (offered per queue, the last event time)."""
    rnd = random.Random(seed)
    start = day_start()
    span = until_hour * 3600
    hotlines = ["12345"] * 6 + [h["number"] for h in directory() if h["kind"] == "direct-merged"] + ["110"]
    events: list[tuple[float, AmiMessage]] = []
    n = 0
    for queue, calls in QUEUES.items():
        for _ in range(calls):
            n += 1
            uid = f"{start:.0f}.{n}"
            join = start + 60 + rnd.random() * (span - 1800)
            hotline = "110" if queue == "linkage110" else rnd.choice(hotlines)
            events.append((join - 0.5, _ev("VarSet", join - 0.5, Uniqueid=uid, Linkedid=uid, Variable="__CTI_HOTLINE",
                                           Value=hotline)))
            events.append((join, _ev("QueueCallerJoin", join, Uniqueid=uid, Linkedid=uid, Queue=queue,
                                     CallerIDNum=f"139{n:08d}", CallerIDName="市民")))
            wait = rnd.choice([2.0, 3.0, 4.5, 6.0, 8.0, 9.9, 11.0, 12.0, 13.5, 14.9] * 4 + [18.0, 25.0])
            if rnd.random() < 0.06:     # an abandon
                events.append((join + wait, _ev("QueueCallerAbandon", join + wait, Uniqueid=uid, Queue=queue)))
                events.append((join + wait + 0.1, _ev("Hangup", join + wait + 0.1, Uniqueid=uid, Linkedid=uid)))
                continue
            agent = f"{uid}-a"
            talk = 6856.0 if n == 7 else rnd.uniform(60, 400)    # Nantong's longest call of 2022: 6,856 s
            events.append((join + wait, _ev("AgentConnect", join + wait, Uniqueid=uid, Linkedid=uid, Queue=queue,
                                            DestUniqueid=agent, MemberName=f"坐席{6000 + n % 107}",
                                            Interface=f"Local/{6000 + n % 107}@agents/n", HoldTime=f"{wait:.0f}")))
            events.append((join + wait + talk, _ev("Hangup", join + wait + talk, Uniqueid=agent, Linkedid=uid)))
            events.append((join + wait + talk + 0.1, _ev("Hangup", join + wait + talk + 0.1, Uniqueid=uid,
                                                         Linkedid=uid)))
    now = start + span
    # callers waiting now, the longest for 1,234 s
    for k, wait in enumerate((1234.0, 620.0, 33.0, 12.0)):
        uid = f"{start:.0f}.w{k}"
        events.append((now - wait, _ev("QueueCallerJoin", now - wait, Uniqueid=uid, Linkedid=uid,
                                       Queue=list(QUEUES)[k % len(QUEUES)])))
    events.sort(key=lambda e: e[0])
    for ts, ev in events:
        if ts <= now:
            bus.publish(TOPIC_EVENT, ev)
    # 107 seats over the queues: talking, idle, paused with each reason, ringing, busy, wrap-up
    for i in range(107):
        iface = f"Local/{6000 + i}@agents/n"
        for queue in list(QUEUES)[: 1 + i % 3]:
            status = "1" if i % 5 else "6" if i % 10 == 0 else "2"
            paused = "1" if i % 9 == 0 else "0"
            bus.publish(TOPIC_EVENT, _ev("QueueMemberStatus", now, Queue=queue, Interface=iface,
                                         MemberName=f"坐席{6000 + i}", Status=status, Paused=paused,
                                         PausedReason=PAUSES[(i // 9) % len(PAUSES)] if paused == "1" else "",
                                         InCall="0"))
    return {"offered": dict(QUEUES), "now": now}


def publish_lines(bus, now: float) -> None:
    """Department legs (the longest department names and numbers of the directory), test dials, 110
    hand-overs, follow-up calls and dispositions, as the other parts publish them."""
    parallel = sorted((h for h in directory() if h["kind"] != "direct-merged"),
                      key=lambda h: (-len(h["owner"]), -len(h["number"])))
    for k, h in enumerate(parallel):
        for j in range(max(1, 24 - k)):     # the longest names the busiest: on the wall, not in "more"
            answer = None if j % 11 == 5 else 3.0 + (j * 1.7) % 16
            bus.publish(TOPIC_DEPARTMENT_LEG, DepartmentLeg(
                f"d{k}-{j}", h["number"], h["owner"], "threeway" if j % 2 else "blind",
                h["kind"] == "emergency", now - 3000 + 60 * j, answer, "handed_off" if answer else "no_answer"))
    for k, h in enumerate(parallel[:3]):
        bus.publish(TOPIC_TEST_DIAL, DepartmentLeg(f"test-{h['number']}", h["number"], h["owner"], "test", False,
                                                   now - 600 + k, 4.0 if k else None, "connected" if k else "no_answer"))
    for k in range(1234):
        bus.publish(TOPIC_LINKAGE, Handover(FROM_110 if k % 3 else TO_110, f"l{k}", now - k, "queued"))
    for k in range(1111):
        rating = (Rating.SATISFIED, Rating.BASICALLY_SATISFIED, Rating.DISSATISFIED)[k % 3]
        if k % 4:
            bus.publish(TOPIC_FOLLOWUP, FollowupAttempt(k, "surveyed", 1, "done", f"T{k}", rating, True))
        else:
            bus.publish(TOPIC_FOLLOWUP, FollowupAttempt(k, "no_answer", 1, "pending", f"T{k}"))
    # dispositions (话后小结) on the three lines, in the proportions of Nantong's 2022 table (seed 002)
    for line, name, queue, online, department in (("public", "市民热线", "public", 77, 23),
                                                  ("enterprise", "一企来", "enterprise", 82, 18),
                                                  ("talent", "尚贤", "talent", 99, 1)):
        for k in range(online + department + 3):
            call = f"{line}-{k}"
            if k >= online + department:      # three calls of each line with no disposition in the window
                bus.publish(TOPIC_DISPOSITION, DispositionOutcome(call, "6001", queue, line, name, "not_recorded"))
                continue
            code, label = ("answered_online", "在线答复") if k < online else ("ticket", "转办工单")
            bus.publish(TOPIC_DISPOSITION, DispositionOutcome(call, "6001", queue, line, name, "recorded", code,
                                                              label, k < online, True, now - k, 20.0 + k % 40))


def shanghai_clock(ts: float) -> str:
    return datetime.fromtimestamp(ts, SHANGHAI).strftime("%H:%M")


def minutes_apart(a: str, b: str) -> int:
    """Minutes between two HH:MM readings of a clock, across midnight."""
    ta, tb = (datetime.strptime(x, "%H:%M") for x in (a, b))
    d = abs(ta - tb)
    return int(min(d, timedelta(days=1) - d).total_seconds() // 60)
