"""The online answer rate (在线解答率) and requests by line (在线答复 / 部门办理) from call dispositions; pure,
one implementation shared by the wall, /api/figures, /metrics, /api/reports and `cti report`.

Rules (Nantong's 2022 report, seed 002, table 诉求总量与办理 and the "尚贤" table; Rugao's "一企来" rules,
seed 004): a request (诉求) with a disposition is either answered online (在线解答: by the agent, or with
a policy specialist on a three-way call) or handled by a department (部门办理); the online answer rate is
answered online over requests with a disposition (一企来 53,080 / 64,380 = 82.4%; 尚贤 7,185 / 7,286 =
98.6%). A call that is no request (无效来电) is left out of both; a call with no disposition within its
wrap-up window (未小结) is never guessed: it is counted apart, outside the rate. The wrap-up time (call end to
disposition) is the agent's after-call work (话后处理).

A disposition counts in the period containing its call's end: in reports, in the live windows and in the
windows rebuilt at a start alike (one recorded during its call, its end not known yet: when it was heard).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from cti.dispositions.messages import NOT_RECORDED, RECORDED, DispositionOutcome
from queue_monitor.tally import CountBoard

COUNTS = ("requests", "online", "department", "invalid", "not_recorded", "wrapup_count")
LABELS = {"requests": "诉求总量 requests", "online": "在线解答 answered online", "department": "部门办理 by departments",
          "invalid": "无效来电 not a request", "not_recorded": "未小结 not recorded",
          "online_rate": "在线解答率 online answer rate", "average_wrapup": "平均话后处理时长 avg after-call work s"}
PUBLIC = "public"


@dataclass(frozen=True, slots=True)
class DispositionRecord:
    call_id: str
    queue: str
    line: str
    line_name: str
    status: str                  # recorded | not_recorded
    name: str | None             # the disposition's Chinese name (在线答复...), None when not recorded
    online: bool | None
    request: bool | None
    wrapup_seconds: float | None
    at: float                    # epoch seconds: when it counts


def record_from(outcome: DispositionOutcome, at: float) -> DispositionRecord:
    return DispositionRecord(outcome.call_id, outcome.queue, outcome.line or PUBLIC, outcome.line_name,
                             outcome.status, outcome.name, outcome.online, outcome.request, outcome.wrapup_seconds,
                             at)


def _empty() -> dict:
    return {**dict.fromkeys(COUNTS, 0), "wrapup_seconds": 0.0, "by_disposition": {}}


def _add(fig: dict, r: DispositionRecord) -> None:
    if r.status == NOT_RECORDED:
        fig["not_recorded"] += 1
        return
    if r.status != RECORDED:
        return
    fig["by_disposition"][r.name] = fig["by_disposition"].get(r.name, 0) + 1
    if r.request:
        fig["requests"] += 1
        fig["online" if r.online else "department"] += 1
    else:
        fig["invalid"] += 1
    if r.wrapup_seconds is not None:
        fig["wrapup_count"] += 1
        fig["wrapup_seconds"] += r.wrapup_seconds


def finish(fig: dict) -> dict:
    """The rates of summed counters: online over requests with a disposition; the mean after-call work."""
    fig["online_rate"] = fig["online"] / fig["requests"] if fig["requests"] else None
    fig["average_wrapup"] = fig["wrapup_seconds"] / fig["wrapup_count"] if fig["wrapup_count"] else None
    return fig


def figures(records: Iterable[DispositionRecord], start: float, end: float) -> dict:
    """{"lines": {line id: fig + name}, "queues": {queue: fig}, "total": fig} for records in [start, end)."""
    lines: dict[str, dict] = {}
    queues: dict[str, dict] = {}
    total = _empty()
    for r in records:
        if not start <= r.at < end:
            continue
        line = lines.setdefault(r.line, {"name": r.line_name or r.line, **_empty()})
        for fig in (line, queues.setdefault(r.queue or "-", _empty()), total):
            _add(fig, r)
    return {"lines": {k: finish(v) for k, v in sorted(lines.items(), key=_line_order)},
            "queues": {k: finish(v) for k, v in sorted(queues.items())}, "total": finish(total)}


def _line_order(item: tuple[str, dict]) -> tuple[bool, str]:
    return item[0] != PUBLIC, item[0]      # the seed's table: 群众诉求 first, then the special lines


def merge(parts: Iterable[dict | None]) -> dict:
    """Several instances' figures of one period summed (each counts the calls it stored), rates recomputed."""
    out = {"lines": {}, "queues": {}, "total": _empty()}
    for part in parts:
        if not part:
            continue
        for scope in ("lines", "queues"):
            for key, fig in part.get(scope, {}).items():
                into = out[scope].setdefault(key, {"name": fig["name"], **_empty()} if "name" in fig else _empty())
                _sum(into, fig)
        _sum(out["total"], part.get("total") or {})
    for scope in ("lines", "queues"):
        out[scope] = {k: finish(v) for k, v in sorted(out[scope].items(), key=_line_order)}
    out["total"] = finish(out["total"])
    return out


def _sum(into: dict, fig: dict) -> None:
    for k in (*COUNTS, "wrapup_seconds"):
        into[k] += fig.get(k, 0)
    for name, n in (fig.get("by_disposition") or {}).items():
        into["by_disposition"][name] = into["by_disposition"].get(name, 0) + n


def report_section(records: Iterable[DispositionRecord], start: float, end: float) -> dict:
    return {"dispositions": figures(records, start, end) | {"labels": dict(LABELS)}}


class DispositionBoard(CountBoard):
    """The live figures per window and since local midnight; a call's outcome heard twice counts once."""

    def __init__(self, windows: dict[str, float], timezone: str = "Asia/Shanghai") -> None:
        super().__init__(windows, timezone, key=lambda r: r.call_id or None, count=figures, labels=LABELS)


def merge_boards(snaps: Iterable[dict | None]) -> dict:
    """Several instances' live boards merged per window."""
    snaps = [s for s in snaps if s]
    names = {name for s in snaps for name in (s.get("windows") or {})}
    return {"labels": dict(LABELS),
            "windows": {name: merge((s.get("windows") or {}).get(name) for s in snaps) for name in sorted(names)}}


# -- the seed's table: requests by line, 在线答复 / 部门办理 -------------------------------------------------
LINE_COLUMNS = [("name", "诉求类别 line"), ("requests", "诉求总量 requests"), ("online", "在线答复 online"),
                ("department", "部门办理 departments"), ("online_rate", "在线解答率 online rate"),
                ("not_recorded", "未小结 not recorded"), ("invalid", "无效来电 invalid"),
                ("average_wrapup", "平均话后处理 avg after-call s")]


def line_rows(section: dict) -> list[dict]:
    """One row per line, then the total (总计), in the seed's table's order."""
    rows = [{"line": k, **v} for k, v in (section.get("lines") or {}).items()]
    return [*rows, {"line": "total", **section["total"], "name": "总计 total"}] if rows else []
