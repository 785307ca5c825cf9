"""What the tickets part publishes on the bus (topics ``tickets.*``) for the wallboard and reports."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

TOPIC_CREATED = "tickets.created"
TOPIC_DELIVERED = "tickets.delivered"
TOPIC_RETRY = "tickets.retry"                  # a delivery attempt failed and is scheduled again
TOPIC_DEAD = "tickets.dead_letter"             # retries exhausted (or 410): an admin must replay
TOPIC_ENDPOINT = "tickets.endpoint_failed"     # the backend answered 410 Gone
TOPIC_CALLBACK = "tickets.callback"            # a status change from the backend
TOPIC_LIGHT = "tickets.light"                  # a deadline light changed colour


@dataclass(frozen=True)
class TicketEvent:
    ticket_id: str | None                      # None: an outbox message of no ticket (call.disposition)
    at: datetime
    status: str | None = None
    light: str | None = None
    request_type: str | None = None
    message_id: str | None = None
    attempts: int | None = None
    outcome: str | None = None                 # callbacks: applied, older, duplicate
    detail: str = ""
