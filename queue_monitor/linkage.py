"""110 linkage figures (110联动): calls 110 handed to 12345 and calls 12345 handed to 110, counted per period;
pure, shared by the live wall and the reports (the 2022 report gives both counts for the year).

A hand-over counts in the period containing the moment the monitor heard of it (``outbound.linkage``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from queue_monitor.windows import DayClock

FROM_110, TO_110 = "from_110", "to_110"
DIRECTIONS = (FROM_110, TO_110)
LABELS = {FROM_110: "110转12345", TO_110: "12345转110"}


@dataclass(frozen=True, slots=True)
class LinkageRecord:
    call_id: str
    direction: str       # from_110 | to_110
    at: float            # Asterisk clock


def counts(records: Iterable[LinkageRecord], start: float, end: float) -> dict[str, int]:
    out = dict.fromkeys(DIRECTIONS, 0)
    for r in records:
        if r.direction in out and start <= r.at < end:
            out[r.direction] += 1
    return out


def report_section(records: Iterable[LinkageRecord], start: float, end: float) -> dict:
    return {"linkage": counts(records, start, end) | {"labels": dict(LABELS)}}


class LinkageBoard:
    """The live linkage counts per window and since local midnight; a hand-over heard twice counts once."""

    def __init__(self, windows: dict[str, float], timezone: str = "Asia/Shanghai") -> None:
        self.windows = windows
        self.day = DayClock(timezone)
        self.records: list[LinkageRecord] = []
        self._seen: set[tuple[str, str]] = set()

    def add(self, record: LinkageRecord) -> bool:
        if record.direction not in DIRECTIONS:
            return False
        key = (record.direction, record.call_id)
        if record.call_id and key in self._seen:
            return False
        self._seen.add(key)
        self.records.append(record)
        return True

    def snapshot(self, now: float) -> dict:
        today = self.day.day_of(now)
        horizon = min([today, *(now - s for s in self.windows.values())])
        self.records = [r for r in self.records if r.at >= horizon]
        self._seen = {(r.direction, r.call_id) for r in self.records}
        periods = {**{name: now - s for name, s in self.windows.items()}, "today": today}
        return {"labels": dict(LABELS),
                "windows": {name: counts(self.records, start, float("inf")) for name, start in periods.items()}}


def merge_linkage(snaps: Iterable[dict | None]) -> dict:
    """Several instances' linkage counts summed per window."""
    windows: dict[str, dict[str, int]] = {}
    for snap in snaps:
        for name, c in ((snap or {}).get("windows") or {}).items():
            w = windows.setdefault(name, dict.fromkeys(DIRECTIONS, 0))
            for d in DIRECTIONS:
                w[d] += int(c.get(d, 0))
    return {"labels": dict(LABELS), "windows": windows}
