"""Whether a dissatisfied citizen can be handed to an agent now (pure): QueueSummary in, yes or no out.

A personal follow-up takes an agent only when one is available and no inbound caller waits in that
queue: the inbound 12345 traffic keeps the first claim on agents.
"""

from __future__ import annotations


def agents_free(reply, queue: str) -> bool:
    """``reply``: the messages of ``QueueSummary`` (Available = logged in, unpaused, not in a call)."""
    for msg in reply if isinstance(reply, list) else [reply]:
        if getattr(msg, "name", "") == "QueueSummary" and msg.get("Queue") == queue:
            try:
                return int(msg.get("Available") or 0) > 0 and int(msg.get("Callers") or 0) == 0
            except ValueError:
                return False
    return False
