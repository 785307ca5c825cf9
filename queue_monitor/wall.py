"""The wall: this instance's figures merged with those other instances published (Redis), pure.

Queue tiles keep their instance in the label when several switches share a wall; the centre total
is recomputed from the instances' raw counters, so its rates are true rates, not averages of rates.
Two instances on one switch (two hosts, one Asterisk) both count every call: the wall takes one of them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from urllib.parse import quote
from zoneinfo import ZoneInfo

from queue_monitor.departments import by_department, merge_departments
from queue_monitor.dispositions import merge_boards
from queue_monitor.engine import QueueCall
from queue_monitor.figures import Definitions, Tally
from queue_monitor.followups import merge_followups
from queue_monitor.linkage import FROM_110, merge_linkage

LIVE_SUMS = ("waiting", "talking")
# Shown in the wall's header while an instance's Asterisk sends events without Timestamp (manager.conf
# [general] timestampevents defaults to no): supervisors are told which setting to change.
UNSTAMPED_NOTICE = ("Asterisk 事件无时间戳: 请在 manager.conf [general] 设置 timestampevents = yes 并重载 manager; "
                    "目前按接收时间与 Asterisk 整秒的 HoldTime / TalkTime 计时")
LIVE_MAX = ("longest_wait", "longest_talk_now")


def merge_scopes(figs: list[dict], defs: Definitions, name: str) -> dict:
    if len(figs) == 1:
        return figs[0]
    out = {"scope": figs[0]["scope"], "name": name}
    for k in LIVE_SUMS:
        out[k] = sum(f[k] for f in figs)
    for k in LIVE_MAX:
        out[k] = max(f[k] for f in figs)
    agents: dict = {}
    for f in figs:
        for k, v in f["agents"].items():
            if k == "pause_reasons":
                reasons = agents.setdefault(k, {})
                for r, n in v.items():
                    reasons[r] = reasons.get(r, 0) + n
            else:
                agents[k] = agents.get(k, 0) + v
    out["agents"] = agents
    out["windows"] = {}
    for w in figs[0]["windows"]:
        tally = Tally()
        for f in figs:
            if w in f["windows"]:
                tally.merge(Tally(**f["windows"][w]["counters"]))
        fig = tally.figures(defs)
        fig["longest_talk"] = max(fig["longest_talk"], out["longest_talk_now"])
        fig["counters"] = _asdict(tally)
        out["windows"][w] = fig
    slots: dict[int, Tally] = {}
    for f in figs:
        for s in f.get("sparkline", []):
            slots.setdefault(s["slot"], Tally()).merge(Tally(**s["counters"]))
    out["sparkline"] = [{"slot": k, "answer_rate_15s": slots[k].answer_rate(defs, "15s"),
                         "counters": _asdict(slots[k])} for k in sorted(slots)]
    out["sparkline_slot_seconds"] = figs[0].get("sparkline_slot_seconds", 900)
    return out


def _asdict(t: Tally) -> dict:
    return {f: getattr(t, f) for f in t.__dataclass_fields__}


def calls_today(snap: dict) -> int:
    """Calls the snapshot's centre counted today (offered), 0 when it has none."""
    return (snap.get("centre") or {}).get("windows", {}).get("today", {}).get("offered", 0)


def one_per_switch(local_name: str, snapshots: dict[str, dict]) -> dict[str, dict]:
    """The snapshots whose queue figures the wall shows: one per switch. Instances reading the same
    Asterisk (``switch``: its SYSTEMNAME/ENTITYID, queue_monitor.switch) each count every call of it,
    so adding them up would count each call twice; the one that counted the most today is shown (it
    watched longest: a restarted twin rebuilt only its own stored calls), the local one on a tie. An
    instance whose switch is not known yet (no AMI session so far) stands alone."""
    chosen: dict[str, str] = {}
    for inst in sorted(snapshots):
        key = snapshots[inst].get("switch") or f"instance:{inst}"
        best = chosen.get(key)
        rank = (calls_today(snapshots[inst]), inst == local_name)
        if best is None or rank > (calls_today(snapshots[best]), best == local_name):
            chosen[key] = inst
    return {inst: snapshots[inst] for inst in sorted(chosen.values())}


def switches(snapshots: dict[str, dict]) -> dict[str, list[str]]:
    """Switch identity -> the instances reading it (instances not identified yet left out)."""
    out: dict[str, list[str]] = {}
    for inst in sorted(snapshots):
        if snapshots[inst].get("switch"):
            out.setdefault(snapshots[inst]["switch"], []).append(inst)
    return out


def build_wall(local_name: str, snapshots: dict[str, dict], defs: Definitions) -> dict:
    """``snapshots``: instance name -> engine snapshot (the local one included). Queue, hotline and centre
    figures come once per switch (``one_per_switch``); the boards (department legs, test calls, 110
    hand-overs, follow-ups) add up every instance's, each of which counts what it made itself."""
    names = sorted(snapshots)
    counted = one_per_switch(local_name, snapshots)
    several = len(counted) > 1
    queues: dict[str, dict] = {}
    hotlines: dict[str, list[dict]] = {}
    for inst in counted:
        snap = snapshots[inst]
        for q, fig in snap["queues"].items():
            label = f"{q}@{inst}" if several else q
            queues[label] = {**fig, "queue": q, "instance": inst, "label": label}
        for h, fig in snap["hotlines"].items():
            hotlines.setdefault(h, []).append(fig)
    centre = merge_scopes([snapshots[i]["centre"] for i in counted if snapshots[i].get("centre")], defs, "全中心")
    return {
        "type": "figures", "instance": local_name, "instances": names, "switches": switches(snapshots),
        "definitions": defs.describe(), "centre": centre,
        "queues": {k: queues[k] for k in sorted(queues)},
        "hotlines": {h: merge_scopes(v, defs, h) for h, v in sorted(hotlines.items())},
        "departments": merge_departments(snapshots[i].get("departments", []) for i in names),
        "test_dials": merge_departments(snapshots[i].get("test_dials", []) for i in names),   # 拨测, apart
        **_specialists(merge_departments(snapshots[i].get("specialists", []) for i in names)),
        "linkage": merge_linkage_per_switch(snapshots, counted),
        "followups": merge_followups(snapshots[i].get("followups") for i in names),
        # 在线解答率 by line: each instance counts the dispositions recorded or swept through it
        "dispositions": merge_boards(snapshots[i].get("dispositions") for i in names),
        "event_time": event_time(snapshots),
    }


def _specialists(rows: list[dict]) -> dict:
    """政策专员: per specialist (number = its id) and per department, like the department hotlines."""
    return {"specialists": rows, "specialist_departments": by_department(rows)}


def merge_linkage_per_switch(snapshots: dict[str, dict], counted: dict[str, dict]) -> dict:
    """110 hand-overs: to 110 each instance's own (its agents' transfers), added up; from 110 heard by every
    instance on the switch (the dialplan's UserEvent CTILinkage), so taken once per switch (``counted``)."""
    out = merge_linkage(snapshots[i].get("linkage") for i in sorted(snapshots))
    heard = merge_linkage(snap.get("linkage") for snap in counted.values())
    for name, window in out["windows"].items():
        window[FROM_110] = heard["windows"].get(name, {}).get(FROM_110, 0)
    return out


def event_time(snapshots: dict[str, dict]) -> dict:
    """The wall's event-time flag: which instances count from unstamped events, and the header's notice."""
    unstamped = sorted(i for i, snap in snapshots.items() if snap.get("event_time") == "unstamped")
    return {"unstamped": bool(unstamped), "instances": unstamped,
            "setting": "timestampevents = yes", "notice": UNSTAMPED_NOTICE if unstamped else ""}


def recent_calls(rows: Iterable[QueueCall], callers: Mapping[str, str], recorded: Mapping[str, str],
                 timezone: str, limit: int = 10, links: Mapping[str, str] | None = None) -> list[dict]:
    """The last answered calls, newest first, for the wall's 最近通话 panel.

    ``callers``: uniqueid -> masked number (only masked numbers are kept); ``recorded``: call id
    (uniqueid or linkedid) -> uniqueid of its converted recording, whose playback page the row links;
    ``links``: recording uniqueid -> its signed download link, for the walls of other instances.
    """
    links = links or {}
    tz = ZoneInfo(timezone)
    done = [r for r in rows if r.outcome == "answered" and r.connected_at is not None and r.ended_at is not None]
    out = []
    for r in sorted(done, key=lambda r: r.ended_at, reverse=True)[:limit]:
        rec = recorded.get(r.uniqueid) or recorded.get(r.linkedid)
        out.append({
            "uniqueid": r.uniqueid, "linkedid": r.linkedid, "queue": r.queue, "hotline": r.hotline,
            "agent": r.agent, "caller": callers.get(r.uniqueid, "-"), "ended_at": r.ended_at,
            "time": datetime.fromtimestamp(r.ended_at, tz).strftime("%H:%M:%S"),
            "wait": round(r.connected_at - r.joined_at, 1), "talk": round(r.ended_at - r.connected_at, 1),
            "recording": rec, "play": f"/recordings/{quote(rec, safe='.-_')}/play" if rec else None,
            "link": links.get(rec) if rec else None,
        })
    return out


def merge_recent(local_name: str, snapshots: dict[str, dict], limit: int = 10) -> list[dict]:
    """Every switch's recent calls (one instance's each: ``one_per_switch``), newest first. A local row opens this instance's playback page
    (with this wall's token); another instance's row opens that instance's signed download link, which
    needs no token (so this wall's token never travels to another server)."""
    rows = []
    for inst, snap in one_per_switch(local_name, snapshots).items():
        for row in snap.get("recent_calls") or []:
            row = {**row, "instance": inst}
            if inst != local_name:
                row.update(play=row.get("link"), signed=True)
            rows.append(row)
    return sorted(rows, key=lambda r: r["ended_at"], reverse=True)[:limit]

