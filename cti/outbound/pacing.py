"""Pacing of follow-up calls (pure): calls per minute, concurrent channels, inbound callers waiting."""

from __future__ import annotations

import datetime as dt
from collections import deque
from dataclasses import dataclass, field

from cti.calendar import parse_hours


def allowed(when: dt.datetime, spans: list[str]) -> bool:
    """Whether local time ``when`` lies in one of the HH:MM-HH:MM spans (any day of the week)."""
    t = when.time()
    return any(a <= t < b for a, b in parse_hours(spans))


@dataclass
class Pacer:
    per_minute: int
    max_channels: int
    backoff_waiting: int
    sent: deque = field(default_factory=deque)     # monotonic times of recent originates

    def hold_reason(self, now: float, active: int, waiting: int) -> str | None:
        """Why no call may start now (None: one may)."""
        while self.sent and now - self.sent[0] >= 60.0:
            self.sent.popleft()
        if waiting >= self.backoff_waiting:
            return f"inbound callers waiting: {waiting}"
        if active >= self.max_channels:
            return f"{active} outbound channels busy"
        if len(self.sent) >= self.per_minute:
            return f"{self.per_minute} calls in the last minute"
        return None

    def note(self, now: float) -> None:
        self.sent.append(now)
