"""Live counts of small event records (110 hand-overs, follow-up attempts) per window; pure.

Each record counts in the period containing the moment the monitor heard of it; a record whose key
was already heard counts once. Kept only as long as the longest window (or today) needs it.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from typing import Any

from queue_monitor.windows import DayClock

Counter = Callable[[list[Any], float, float], dict[str, int]]


class CountBoard:
    def __init__(self, windows: dict[str, float], timezone: str, *, key: Callable[[Any], Hashable | None],
                 count: Counter, labels: dict[str, str]) -> None:
        self.windows = windows
        self.day = DayClock(timezone)
        self.records: list[Any] = []
        self._key, self._count, self._labels = key, count, labels
        self._seen: set[Hashable] = set()

    def add(self, record: Any) -> bool:
        key = self._key(record)  # None: the record cannot be told apart from another, always counted
        if key is not None and key in self._seen:
            return False
        if key is not None:
            self._seen.add(key)
        self.records.append(record)
        return True

    def snapshot(self, now: float) -> dict:
        today = self.day.day_of(now)
        horizon = min([today, *(now - s for s in self.windows.values())])
        self.records = [r for r in self.records if r.at >= horizon]
        self._seen = {k for r in self.records if (k := self._key(r)) is not None}
        periods = {**{name: now - s for name, s in self.windows.items()}, "today": today}
        return {"labels": dict(self._labels),
                "windows": {name: self._count(self.records, start, float("inf")) for name, start in periods.items()}}


def merge_counts(snaps: Iterable[dict | None], figures: Iterable[str], labels: dict[str, str]) -> dict:
    """Several instances' counts summed per window."""
    figures = tuple(figures)
    windows: dict[str, dict[str, int]] = {}
    for snap in snaps:
        for name, c in ((snap or {}).get("windows") or {}).items():
            w = windows.setdefault(name, dict.fromkeys(figures, 0))
            for k in figures:
                w[k] += int(c.get(k, 0))
    return {"labels": dict(labels), "windows": windows}
