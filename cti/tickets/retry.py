"""When to try a delivery again: exponential schedule with jitter, Retry-After. Pure functions."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime


def next_delay(failures: int, schedule: Sequence[float], jitter: float,
               rng: random.Random | None = None) -> float | None:
    """Seconds before attempt ``failures + 1``, or None once the schedule is used up (dead letter)."""
    if failures > len(schedule):
        return None
    base = schedule[failures - 1]
    # Jitter spreads the retries of many messages failed together, so a recovering backend is not stormed.
    factor = 1.0 + (rng or random).uniform(-jitter, jitter)
    return max(0.0, base * factor)


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds asked for by a Retry-After header (delta-seconds or HTTP date), None if absent or bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def schedule_span(schedule: Sequence[float]) -> float:
    """Seconds between the first attempt and the last retry, jitter aside."""
    return float(sum(schedule))
