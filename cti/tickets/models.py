"""The tickets schema: tickets, their outgoing messages (the outbox), callback receipts, endpoints.

All times are stored as naive UTC (SQLite has no time zone type) and read back as aware UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, DateTime, Index, Integer, String, Text, TypeDecorator
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

TICKET_STATUSES = ("created", "delivered", "acknowledged", "returned", "extended", "closed")
CALLBACK_STATUSES = ("acknowledged", "returned", "extended", "closed")
OUTBOX_STATUSES = ("pending", "delivered", "dead")


class UtcDateTime(TypeDecorator):
    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UtcDateTime, dict[str, Any]: JSON, list[str]: JSON}


class Ticket(Base):
    __tablename__ = "tickets"
    # a caller's latest tickets (the agent toolbar's 历史工单, on every screen pop): migration 0003
    __table_args__ = (Index("ix_tickets_caller_number_created_at", "caller_number", "created_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    call_ids: Mapped[list[str]] = mapped_column(default=list)
    caller_number: Mapped[str] = mapped_column(String(40), default="")
    hotline: Mapped[str] = mapped_column(String(40), default="12345")      # the number the caller dialled
    channel: Mapped[str] = mapped_column(String(20), default="phone")
    request_type: Mapped[str] = mapped_column(String(40))
    summary: Mapped[str] = mapped_column(Text, default="")
    ivr_path: Mapped[list[str]] = mapped_column(default=list)
    tags: Mapped[list[str]] = mapped_column(default=list)
    agent: Mapped[str | None] = mapped_column(String(80))
    department: Mapped[str | None] = mapped_column(String(120))
    urgency: Mapped[str] = mapped_column(String(20), default="normal")
    source: Mapped[str] = mapped_column(String(20), default="agent")       # agent, after_hours, survey
    recording_ref: Mapped[str | None] = mapped_column(String(400))
    rating: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime]
    acknowledge_by: Mapped[datetime | None]
    answer_by: Mapped[datetime | None]
    return_by: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(20), default="created", index=True)
    status_changed_at: Mapped[datetime]                                    # backend time of that status
    light: Mapped[str | None] = mapped_column(String(10))                  # last light pushed on the bus


class OutboxMessage(Base):
    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                    autoincrement=True)
    message_id: Mapped[str] = mapped_column(String(60), unique=True)     # webhook-id, stable across retries
    ticket_id: Mapped[str | None] = mapped_column(String(40), index=True)  # None: a call's disposition or a
    event_type: Mapped[str] = mapped_column(String(60))                     # knowledge item without a ticket
    body: Mapped[str] = mapped_column(Text)                               # the exact JSON that is signed
    created_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(12), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    claimed_by: Mapped[str | None] = mapped_column(String(80))
    claimed_until: Mapped[datetime | None]
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None]


class TicketFollowup(Base):
    """A follow-up (回访) answer given on a ticket: the citizen's rating and whether the request was settled."""

    __tablename__ = "ticket_followups"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                    autoincrement=True)
    ticket_id: Mapped[str] = mapped_column(String(40), index=True)
    rating: Mapped[int] = mapped_column(Integer)                          # 1 satisfied, 2 basically, 3 dissatisfied
    settled: Mapped[bool | None] = mapped_column(Boolean)                 # None: the citizen did not say
    call_id: Mapped[str | None] = mapped_column(String(80))               # uniqueid of the follow-up call
    outcome: Mapped[str | None] = mapped_column(String(40))               # surveyed, to_agent, followup_ticket
    recorded_at: Mapped[datetime]


class CallbackReceipt(Base):
    """Every callback webhook-id ever accepted, kept for good: a replay is never applied twice."""

    __tablename__ = "callback_receipts"

    webhook_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    received_at: Mapped[datetime]
    ticket_id: Mapped[str] = mapped_column(String(40), index=True)
    status: Mapped[str] = mapped_column(String(20))
    outcome: Mapped[str] = mapped_column(String(20))                      # applied, older


class Endpoint(Base):
    """Delivery state of a backend URL: a 410 Gone marks it failed until an admin replays."""

    __tablename__ = "webhook_endpoints"

    url: Mapped[str] = mapped_column(String(500), primary_key=True)
    state: Mapped[str] = mapped_column(String(10), default="active")      # active, failed
    reason: Mapped[str | None] = mapped_column(Text)
    changed_at: Mapped[datetime]
