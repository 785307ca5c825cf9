"""Retention: a recording goes after N days, and never while a ticket that carries it is open."""

from __future__ import annotations

from collections.abc import Iterable

DAY = 86400.0


def deletable(captured_at: float, now: float, days: int, ticket_statuses: Iterable[str | None]) -> bool:
    """True when the recording is old enough and every ticket linked to its call is closed.

    An unknown ticket status (``None``: the tickets part could not say) keeps the recording.
    """
    if days <= 0 or now - captured_at < days * DAY:
        return False
    return all(status == "closed" for status in ticket_statuses)
