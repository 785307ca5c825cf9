"""110 linkage figures (110联动): calls 110 handed to 12345 and calls 12345 handed to 110, counted per period;
pure, shared by the live wall and the reports (the 2022 report gives both counts for the year).

A hand-over counts in the period containing the moment the monitor heard of it (``outbound.linkage``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from queue_monitor.tally import CountBoard, merge_counts

FROM_110, TO_110 = "from_110", "to_110"
DIRECTIONS = (FROM_110, TO_110)
LABELS = {FROM_110: "110转12345", TO_110: "12345转110"}


@dataclass(frozen=True, slots=True)
class LinkageRecord:
    call_id: str
    direction: str       # from_110 | to_110
    at: float            # Asterisk clock


def counts(records: Iterable[LinkageRecord], start: float, end: float) -> dict[str, int]:
    """Hand-overs per direction in [start, end), each call once: two instances reading one switch (two
    hosts) both store a hand-over from 110, with the same call id."""
    out = dict.fromkeys(DIRECTIONS, 0)
    seen: set[tuple[str, str]] = set()
    for r in records:
        if r.direction in out and start <= r.at < end:
            if r.call_id and (r.direction, r.call_id) in seen:
                continue
            seen.add((r.direction, r.call_id))
            out[r.direction] += 1
    return out


def report_section(records: Iterable[LinkageRecord], start: float, end: float) -> dict:
    return {"linkage": counts(records, start, end) | {"labels": dict(LABELS)}}


class LinkageBoard(CountBoard):
    """The live linkage counts per window and since local midnight; a hand-over heard twice counts once."""

    def __init__(self, windows: dict[str, float], timezone: str = "Asia/Shanghai") -> None:
        super().__init__(windows, timezone, key=lambda r: (r.direction, r.call_id) if r.call_id else None,
                         count=counts, labels=LABELS)

    def add(self, record: LinkageRecord) -> bool:
        return record.direction in DIRECTIONS and super().add(record)


def merge_linkage(snaps: Iterable[dict | None]) -> dict:
    """Several instances' linkage counts summed per window."""
    return merge_counts(snaps, DIRECTIONS, LABELS)
