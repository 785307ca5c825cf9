"""Reports from stored queue calls: the same counting rules as the live engine, for any period.

A queue leg counts in the period containing its decisive moment (answer, or leaving the queue
unanswered); a call (legs sharing a linkedid) counts once for the centre and its hotline: answered
if any leg was answered (wait from its first join), otherwise the outcome of its last leg.
"""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import asdict

from cti.calls.stats import DepartmentLeg
from queue_monitor.departments import report_rows
from queue_monitor.dispositions import LINE_COLUMNS, DispositionRecord, line_rows
from queue_monitor.dispositions import report_section as disposition_section
from queue_monitor.engine import CENTRE, QueueCall
from queue_monitor.figures import Definitions, Tally, count
from queue_monitor.followups import FIGURES as FOLLOWUP_FIGURES
from queue_monitor.followups import LABELS as FOLLOWUP_LABELS
from queue_monitor.followups import FollowupRecord
from queue_monitor.followups import report_section as followup_section
from queue_monitor.linkage import LABELS, LinkageRecord, report_section

Scope = tuple[str, str]          # ("queue", name) | ("hotline", number) | engine.CENTRE
Contribution = tuple[Scope, float, str, tuple]   # (scope, at: epoch s, kind, arguments): figures.count


def contributions(calls: Iterable[QueueCall]) -> Iterator[Contribution]:
    """Every counter change the stored legs make, at the moment the live engine makes it: a leg counts
    for its queue at its answer (talk too) or when it left unanswered; a call (legs sharing a linkedid)
    once for the centre and its first leg's hotline, answered if any leg was (wait from its first join),
    else with its last leg's outcome. The reports and the engine's restart (QueueEngine.restore) share it."""
    by_call: dict[str, list[QueueCall]] = defaultdict(list)
    for c in distinct_legs(calls):
        by_call[c.linkedid].append(c)
        yield from _decided(("queue", c.queue), c, c.joined_at)
    for legs in by_call.values():
        legs.sort(key=lambda c: c.joined_at)
        answered = next((c for c in legs if c.outcome == "answered"), None)
        for key in (CENTRE, ("hotline", legs[0].hotline)):
            yield from _decided(key, answered or legs[-1], legs[0].joined_at)


def distinct_legs(calls: Iterable[QueueCall]) -> list[QueueCall]:
    """Each leg once: two instances reading one switch (two hosts) both store every leg, under their own
    instance name, with the same Uniqueid and join time (Asterisk's Timestamp). Of two copies the one that
    saw the talk end is kept (the other may be a stopping instance's talk in progress, without an end)."""
    kept: dict[tuple[str, float], QueueCall] = {}
    for c in calls:
        key = (c.uniqueid, c.joined_at)
        if key not in kept or (kept[key].ended_at is None and c.ended_at is not None):
            kept[key] = c
    return list(kept.values())


def _decided(key: Scope, c: QueueCall, joined: float) -> Iterator[Contribution]:
    if c.outcome == "answered":
        yield key, c.connected_at, "answered", (joined, c.connected_at)
        if c.ended_at is not None:
            yield key, c.connected_at, "talk", (max(0.0, c.ended_at - c.connected_at),)
    else:
        yield key, c.left_at, "unanswered", (c.outcome, joined, c.left_at)


def tallies(calls: Iterable[QueueCall], defs: Definitions, start: float, end: float) -> dict:
    """{'queues': {q: Tally}, 'hotlines': {h: Tally}, 'centre': Tally} for calls decided in [start, end)."""
    out: dict[Scope, Tally] = defaultdict(Tally)
    for key, at, kind, args in contributions(calls):
        if start <= at < end:
            count(out[key], defs, kind, args)
    return {"queues": {k[1]: t for k, t in out.items() if k[0] == "queue"},
            "hotlines": {k[1]: t for k, t in out.items() if k[0] == "hotline" and t.offered},
            "centre": out.get(CENTRE) or Tally()}


def report(calls: Iterable[QueueCall], defs: Definitions, start: float, end: float,
           legs: Iterable[DepartmentLeg] = (), linkage: Iterable[LinkageRecord] = (),
           followups: Iterable[FollowupRecord] = (), dispositions: Iterable[DispositionRecord] = ()) -> dict:
    """JSON-ready report: per queue, per hotline and the total, the department hotlines (部门热线) with their
    test calls (拨测) apart, the 110 linkage counts, the follow-up calls (回访), requests by line split into
    在线答复 / 部门办理 with the online answer rate (dispositions), with the definitions used."""
    t = tallies(calls, defs, start, end)

    def row(name: str, tally: Tally) -> dict:
        fig = tally.figures(defs)
        fig["answered_share"] = tally.answered / tally.offered if tally.offered else None  # 接通率
        return {"name": name, **fig, "counters": asdict(tally)}

    return {
        "from": start, "to": end, "definitions": defs.describe(),
        "queues": [row(q, t["queues"][q]) for q in sorted(t["queues"])],
        "hotlines": [row(h, t["hotlines"][h]) for h in sorted(t["hotlines"])],
        "total": row("合计 total", t["centre"]),
        **report_rows(legs, defs, start, end),
        **report_section(linkage, start, end),
        **followup_section(followups, start, end),
        **disposition_section(dispositions, start, end),
    }


COLUMNS = [
    ("name", "队列 queue"), ("offered", "话务量 offered"), ("answered", "接通量 answered"),
    ("answered_share", "接通率 answered %"), ("answer_rate_15s", "15秒接通率 15 s rate"),
    ("answer_rate_10s", "10秒接通率 10 s rate"), ("abandoned", "放弃 abandoned"),
    ("short_abandoned", "短时放弃 short abandons"), ("timed_out", "超时 timed out"),
    ("average_wait", "平均等待时长 avg wait s"), ("average_talk", "平均通话时长 avg talk s"),
    ("longest_talk", "最长通话时间 longest talk s"),
]


DEPARTMENT_COLUMNS = [
    ("number", "部门热线 hotline"), ("owner", "部门 department"), ("offered", "转接量 legs offered"),
    ("answered", "接通量 answered"), ("answered_15s", "15秒内接通 within 15 s"),
    ("answer_rate_15s", "15秒接通率 15 s rate"), ("average_answer_seconds", "平均振铃时长 avg ring-to-answer s"),
]


SPECIALIST_COLUMNS = [("number", "政策专员 specialist"), *DEPARTMENT_COLUMNS[1:]]
SPECIALIST_DEPARTMENT_COLUMNS = [("owner", "部门 department"), *DEPARTMENT_COLUMNS[2:]]


def _cell(key: str, value) -> str:
    if value is None:
        return "-"
    if key in ("answered_share", "answer_rate_15s", "answer_rate_10s", "online_rate"):
        return f"{100 * value:.2f}%"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


LINKAGE_COLUMNS = [("direction", "110联动 linkage"), ("label", "方向 direction"), ("count", "数量 calls")]


def linkage_rows(rep: dict) -> list[dict]:
    counts = rep.get("linkage") or {}
    return [{"direction": d, "label": label, "count": counts.get(d, 0)} for d, label in LABELS.items()]


FOLLOWUP_COLUMNS = [("figure", "回访 follow-ups"), ("label", "项目 figure"), ("count", "数量 count")]


def followup_rows(rep: dict) -> list[dict]:
    counts = rep.get("followups") or {}
    return [{"figure": k, "label": FOLLOWUP_LABELS[k], "count": counts.get(k, 0)} for k in FOLLOWUP_FIGURES]


def render(rep: dict, fmt: str = "table") -> str:
    """json: the whole report; csv: the queue table, then (blank-line separated) the 部门热线 table when any
    department was rung, the 拨测 test-call table when any test call was made, the two 110 linkage
    counts, the 回访 follow-up counts and the requests by line (在线答复 / 部门办理, 在线解答率); table: the same
    tables for a person."""
    rows = [*rep["queues"], rep["total"]]
    departments = [*rep.get("departments", ()), rep["departments_total"]] if rep.get("departments") else []
    tests = [*rep.get("test_dials", ()), rep["test_dials_total"]] if rep.get("test_dials") else []
    specialists = [*rep.get("specialists", ()), rep["specialists_total"]] if rep.get("specialists") else []
    specialist_departments = rep.get("specialist_departments") or []
    linkage = linkage_rows(rep)
    followups = followup_rows(rep)
    by_line = line_rows(rep["dispositions"]) if rep.get("dispositions") else []
    if fmt == "json":
        return json.dumps(rep, ensure_ascii=False, indent=2)
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf)
        sections = ((COLUMNS, rows), (DEPARTMENT_COLUMNS, departments), (DEPARTMENT_COLUMNS, tests),
                    (SPECIALIST_COLUMNS, specialists), (SPECIALIST_DEPARTMENT_COLUMNS, specialist_departments),
                    (LINKAGE_COLUMNS, linkage), (FOLLOWUP_COLUMNS, followups), (LINE_COLUMNS, by_line))
        for n, (columns, section) in enumerate(sections):
            if not section:
                continue
            if n:
                w.writerow([])
            w.writerow([k for k, _ in columns])
            for r in section:
                w.writerow(["" if r[k] is None else r[k] for k, _ in columns])
        return buf.getvalue()
    lines = _table(COLUMNS, rows)
    if departments:
        lines += ["", "部门热线 department hotlines (转接/三方通话 legs; 15秒接通率 = 15 s answers / legs offered)"]
        lines += _table(DEPARTMENT_COLUMNS, departments)
    if tests:
        lines += ["", "拨测 test calls of department hotlines (counted apart from citizens' legs)"]
        lines += _table(DEPARTMENT_COLUMNS, tests)
    if specialists:
        lines += ["", "政策专员 policy specialists (三方通话 legs; 15秒接通率 = 15 s answers / legs offered)"]
        lines += _table(SPECIALIST_COLUMNS, specialists)
        lines += ["", "政策专员 by department"]
        lines += _table(SPECIALIST_DEPARTMENT_COLUMNS, specialist_departments)
    lines += ["", "110联动 110 linkage: " + "; ".join(f"{r['label']} {r['count']}" for r in linkage)]
    lines += ["", "回访 follow-up calls (one per attempt; ratings of surveyed citizens)"]
    lines += _table(FOLLOWUP_COLUMNS[1:], followups)
    lines += ["", "诉求总量与办理 requests by line (话后小结 dispositions; 在线解答率 = 在线答复 / 诉求总量; "
                  "未小结 and 无效来电 apart)"]
    lines += _table(LINE_COLUMNS, by_line) if by_line else ["(no disposition recorded in this period)"]
    d = rep["definitions"]
    lines.append("")
    lines.append(f"口径 definitions: denominator={d['denominator']} ({d['denominator_label']}); "
                 f"rounding={d['rounding']} ({d['rounding_label']}); short abandon < {d['short_abandon']:g} s")
    return "\n".join(lines) + "\n"


def text_table(columns: list[tuple[str, str]], rows: list[dict]) -> str:
    """A plain-text table for a terminal (CJK characters count two columns): ``columns`` are (key, label)."""
    return "\n".join(_table(columns, rows)) + "\n"


def _table(columns: list[tuple[str, str]], rows: list[dict]) -> list[str]:
    table = [[label for _, label in columns]] + [[_cell(k, r[k]) for k, _ in columns] for r in rows]
    widths = [max(_width(row[i]) for row in table) for i in range(len(columns))]
    return ["  ".join(_pad(cell, widths[i]) for i, cell in enumerate(row)).rstrip() for row in table]


def _width(text: str) -> int:
    return sum(2 if ord(ch) > 0x2E7F else 1 for ch in text)  # CJK characters take two columns


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))
