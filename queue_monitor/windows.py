"""Time-bucketed tallies for one scope (a queue, a hotline, the centre): rolling windows, today, since start.

Memory is bounded by the longest rolling window (in buckets) plus one day of sparkline slots.
A contribution lands in every period that contains its time, even when it arrives late (talk time
is known only when the call ends), as long as that period is still kept.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from queue_monitor.figures import Tally


class DayClock:
    """Start and end of the local day containing an epoch (Asia/Shanghai by default), cached."""

    def __init__(self, timezone: str = "Asia/Shanghai") -> None:
        self.tz = ZoneInfo(timezone)
        self.start = self.end = 0.0

    def day_of(self, ts: float) -> float:
        if not self.start <= ts < self.end:
            local = datetime.fromtimestamp(ts, self.tz)
            midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
            self.start = midnight.timestamp()
            self.end = (midnight + timedelta(days=1)).replace(tzinfo=self.tz).timestamp()
        return self.start


class ScopeWindows:
    def __init__(self, windows: dict[str, float], bucket: float, slot: float, day: DayClock) -> None:
        self.windows = windows           # name -> seconds
        self.bucket = bucket
        self.span = int(max(windows.values(), default=bucket) // bucket) + 1
        self.slot = slot
        self.day = day
        self.buckets: dict[int, Tally] = {}
        self.day_start = 0.0
        self.slots: dict[int, Tally] = {}
        self.total = Tally()
        self.newest = 0                  # newest bucket index seen

    def tallies_at(self, ts: float, now: float) -> list[Tally]:
        """Every kept tally whose period contains ``ts`` (creating the bucket or slot if needed)."""
        self._advance(now)
        out = [self.total]
        idx = int(ts // self.bucket)
        if idx > self.newest - self.span:
            b = self.buckets.get(idx)
            if b is None:
                b = self.buckets[idx] = Tally()
            out.append(b)
        if self.day.day_of(ts) == self.day_start:
            s = int((ts - self.day_start) // self.slot)
            t = self.slots.get(s)
            if t is None:
                t = self.slots[s] = Tally()
            out.append(t)
        return out

    def _advance(self, now: float) -> None:
        idx = int(now // self.bucket)
        if idx > self.newest:
            self._roll(idx, now)

    def _roll(self, idx: int, now: float) -> None:
        # a new day starts on a bucket boundary (buckets divide the day), so it is checked here only
        self.newest = idx
        if len(self.buckets) > self.span:
            for k in [k for k in self.buckets if k <= idx - self.span]:
                del self.buckets[k]
        start = self.day.day_of(now)
        if start > self.day_start:  # a new day: today's counters restart at 00:00
            self.day_start = start
            self.slots = {}

    def window(self, name: str, now: float) -> Tally:
        self._advance(now)
        if name == "today":  # the sum of today's sparkline slots
            out = Tally()
            for t in self.slots.values():
                out.merge(t)
            return out
        if name == "total":
            return Tally().merge(self.total)
        first = int((now - self.windows[name]) // self.bucket) + 1
        out = Tally()
        for k, b in self.buckets.items():
            if k >= first:
                out.merge(b)
        return out

    def sparkline(self, now: float) -> list[dict]:
        """Per slot of today: start offset (s since 00:00) and the tally of that slot."""
        self._advance(now)
        return [{"slot": k, "tally": self.slots[k]} for k in sorted(self.slots)]
