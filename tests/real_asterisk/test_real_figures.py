"""Queue figures on a real Asterisk 22: the layer's numbers against an independent count of the same AMI
stream and against Asterisk's own ServicelevelPerf / ServicelevelPerf2 / Completed / Abandoned."""

from __future__ import annotations

import asyncio
import itertools
import random

from cti.ami import TOPIC_EVENT
from queue_monitor.engine import EngineConfig, QueueEngine
from queue_monitor.figures import Definitions
from real_asterisk.desk import api, login
from real_asterisk.switch import poll, until

DENOMINATORS = ("answered", "offered", "offered_minus_short_abandons", "asterisk_sl2")
ROUNDINGS = ("exact", "asterisk")


def independent_outcomes(switch, queue: str) -> list[tuple[str, float, float]]:
    """(outcome, join, end) per caller leg of ``queue``, from the observer's unfiltered stream: answered at
    AgentConnect; otherwise left at QueueCallerAbandon, a timeout when the dialplan's QueueResult says so."""
    joins = {e["Uniqueid"]: float(e["Timestamp"]) for e in switch.events("QueueCallerJoin", Queue=queue)}
    connects = {e["Uniqueid"]: float(e["Timestamp"]) for e in switch.events("AgentConnect", Queue=queue)}
    abandons = {e["Uniqueid"]: float(e["Timestamp"]) for e in switch.events("QueueCallerAbandon", Queue=queue)}
    statuses: dict[str, str] = {}
    for e in switch.events("UserEvent", UserEvent="QueueResult"):
        statuses.setdefault(e.get("Uniqueid", ""), e.get("QueueStatus", ""))
    out = []
    for uid, join in joins.items():
        if uid in connects:
            out.append(("answered", join, connects[uid]))
        elif uid in abandons:
            out.append(("timeout" if statuses.get(uid) == "TIMEOUT" else "abandoned", join, abandons[uid]))
    return out


def independent_rate(outcomes, denominator: str, rounding: str, level: float = 15.0, short: float = 5.0):
    """The 15 s answer rate of DESIGN.md section 5, written out without the project's code."""
    def waited(a: float, b: float) -> float:
        return float(int(b) - int(a)) if rounding == "asterisk" else b - a

    answered = [(j, e) for o, j, e in outcomes if o == "answered"]
    unanswered = [(o, j, e) for o, j, e in outcomes if o != "answered"]
    met = sum(waited(j, e) <= level for j, e in answered)
    offered = len(outcomes)
    if denominator == "answered":
        den = len(answered)
    elif denominator == "offered":
        den = offered
    elif denominator == "offered_minus_short_abandons":
        den = offered - sum(o == "abandoned" and waited(j, e) < short for o, j, e in unanswered)
    else:
        met += sum(waited(j, e) <= level for _, j, e in unanswered)
        den = offered
    return None if den == 0 else met / den


async def test_given_a_busy_hour_of_mixed_outcomes_then_every_preset_matches_the_stream_and_asterisk(
        switch, layer):
    received = []
    layer.bus.subscribe(TOPIC_EVENT, lambda _t, ev: received.append(ev))
    rng = random.Random(12345)
    agents = [f"60{n:02d}" for n in range(1, 6)]
    for agent in agents:
        switch.agent(agent, ring=1, talk=rng.choice([3, 4, 6]))
        await login(layer, agent, "public")
    calls = 110
    numbers = [f"139{n:08d}" for n in range(calls)]
    for n, number in enumerate(numbers):
        kind = n % 10
        if kind < 3:
            patience, timeout = rng.uniform(1, 4.5), 600           # short abandons
        elif kind < 5:
            patience, timeout = rng.uniform(8, 25), 600            # abandons after a while
        elif kind < 7:
            patience, timeout = 60, rng.choice([12, 18])           # Queue() timeouts
        else:
            patience, timeout = 60, 600                            # waits until answered
        await switch.queue_caller(number, patience, timeout)
        await asyncio.sleep(rng.uniform(0.2, 0.6))                 # arrivals: about 2.5 calls a second
    # every caller's leg is settled and every answered call is over (Asterisk counts Completed at the end)
    def gone() -> set[str]:
        return {e.get("CallerIDNum", "") for e in switch.events("Hangup")
                if "@test-queue" in e.get("Channel", "") and e["Channel"].endswith(";2")}

    await until(lambda: gone() >= set(numbers), 240, f"all {calls} callers to hang up", lambda: len(gone()))
    outcomes = independent_outcomes(switch, "public")
    kinds = {o for o, _, _ in outcomes}
    assert len(outcomes) == calls and kinds == {"answered", "abandoned", "timeout"}, (len(outcomes), kinds)
    waits = [e - j for o, j, e in outcomes if o == "answered"]
    assert any(w <= 15 for w in waits) and any(w > 15 for w in waits), "need answers within and after 15 s"
    await until(lambda: len(switch.events("AgentComplete", Queue="public")) >= len(waits), 60, "every talk to end")

    # the live figures the supervisor sees, under the shipped preset
    status, wall = await poll(lambda: api(layer, "GET", "/api/figures"),
                              lambda r: r[1]["queues"].get("public", {}).get("windows", {}).get("total", {})
                              .get("offered") == calls, 30, f"{calls} calls offered on /api/figures")
    total = wall["queues"]["public"]["windows"]["total"]
    defs = wall["definitions"]
    assert total["answer_rate_15s"] == independent_rate(outcomes, defs["denominator"], defs["rounding"])
    assert (total["answered"], total["abandoned"], total["timed_out"]) == (
        sum(o == "answered" for o, _, _ in outcomes), sum(o == "abandoned" for o, _, _ in outcomes),
        sum(o == "timeout" for o, _, _ in outcomes))
    line = layer.status_line()
    assert (f"接通 answered {total['answered']}, 放弃 abandoned {total['abandoned']}, "
            f"超时 timeout {total['timed_out']}") in line, line

    # every preset and rounding, on the events the layer received through the shipped manager user
    for denominator, rounding in itertools.product(DENOMINATORS, ROUNDINGS):
        engine = QueueEngine(EngineConfig(definitions=Definitions(denominator=denominator, rounding=rounding)))
        for ev in received:
            engine.on_event(ev)
        fig = engine.snapshot()["queues"]["public"]["windows"]["total"]
        assert fig["answer_rate_15s"] == independent_rate(outcomes, denominator, rounding), (denominator, rounding)

    # Asterisk's own counters of the same calls
    params = await switch.queue_status("public")
    asterisk = {d: QueueEngine(EngineConfig(definitions=Definitions(denominator=d, rounding="asterisk")))
                for d in ("answered", "asterisk_sl2")}
    for engine in asterisk.values():
        for ev in received:
            engine.on_event(ev)
    answered_fig = asterisk["answered"].snapshot()["queues"]["public"]["windows"]["total"]
    sl2_fig = asterisk["asterisk_sl2"].snapshot()["queues"]["public"]["windows"]["total"]
    assert int(params["Completed"]) == answered_fig["answered"], params
    assert int(params["Abandoned"]) == answered_fig["abandoned"] + answered_fig["timed_out"], params
    assert f"{100 * answered_fig['answer_rate_15s']:.1f}" == params["ServicelevelPerf"], params
    assert f"{100 * sl2_fig['answer_rate_15s']:.1f}" == params["ServicelevelPerf2"], params


async def test_given_a_directly_merged_hotline_when_a_citizen_calls_it_then_the_call_counts_under_that_hotline(
        switch, layer):
    switch.agent("6001", ring=0.5, talk=2)
    await login(layer, "6001", "public")
    caller = await switch.call(dialled="12316", keys="1")
    status, wall = await poll(lambda: api(layer, "GET", "/api/figures"),
                              lambda r: r[1]["hotlines"].get("12316", {}).get("windows", {}).get("total", {})
                              .get("answered") == 1, 60, "the 12316 call answered under hotline 12316")
    assert wall["hotlines"].get("12345", {}).get("windows", {}).get("total", {}).get("offered", 0) == 0
    tags = [e.get("Value", "") for e in switch.caller_events(caller, "VarSet") if e.get("Variable", "").lstrip("_") == "CTI_TAGS"]
    assert tags and "热线:12316" in tags[-1].split(","), tags
