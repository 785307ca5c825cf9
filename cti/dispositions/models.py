"""The dispositions tables, in the tickets database (its Alembic migrations: 0004_dispositions, 0005).

One ``call_dispositions`` row per call an agent answered, made when the call ends (status ``pending``);
the agent's disposition fills it (``recorded``); a call still pending when its wrap-up window has passed
becomes ``not_recorded`` and stays so: a disposition is never guessed. Times are aware UTC, stored naive.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cti.tickets.models import Base

STATUSES = ("pending", "recorded", "not_recorded")


class CallDisposition(Base):
    __tablename__ = "call_dispositions"
    __table_args__ = (Index("ix_call_dispositions_ended_at", "ended_at"),
                      Index("ix_call_dispositions_status", "status"))

    call_id: Mapped[str] = mapped_column(String(80), primary_key=True)   # the citizen's queue-channel uniqueid
    agent: Mapped[str] = mapped_column(String(80), default="")
    caller_number: Mapped[str] = mapped_column(String(40), default="")
    hotline: Mapped[str] = mapped_column(String(40), default="")
    queue: Mapped[str] = mapped_column(String(80), default="")
    tags: Mapped[list[str]] = mapped_column(default=list)
    line: Mapped[str] = mapped_column(String(40), default="public")       # cti/specialists.py line id
    line_name: Mapped[str] = mapped_column(String(40), default="")
    connected_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]                                      # None: disposed during the call
    status: Mapped[str] = mapped_column(String(12), default="pending")
    code: Mapped[str | None] = mapped_column(String(40))
    name: Mapped[str | None] = mapped_column(String(40))                   # the choice's Chinese name then
    online: Mapped[bool | None] = mapped_column(Boolean)                   # the choice's flags then
    request: Mapped[bool | None] = mapped_column(Boolean)
    request_type: Mapped[str | None] = mapped_column(String(40))
    summary: Mapped[str] = mapped_column(Text, default="")
    ticket_id: Mapped[str | None] = mapped_column(String(40))
    rating: Mapped[int | None]
    recorded_at: Mapped[datetime | None]
    wrapup_seconds: Mapped[float | None] = mapped_column(Float)            # call end to disposition (话后处理)
    instance: Mapped[str] = mapped_column(String(80), default="", server_default="")   # who recorded or swept it


class KnowledgeItem(Base):
    """One question and its answer from a specialist three-way call (一问一答)."""

    __tablename__ = "knowledge_items"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    call_id: Mapped[str] = mapped_column(String(80), index=True)
    agent: Mapped[str] = mapped_column(String(80), default="")
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    field: Mapped[str] = mapped_column(String(40), default="")
    department: Mapped[str] = mapped_column(String(120), default="")
    specialist_id: Mapped[str] = mapped_column(String(80), default="")
    specialist_name: Mapped[str] = mapped_column(String(80), default="")
    line: Mapped[str] = mapped_column(String(40), default="public")
    leg_started_at: Mapped[datetime | None]
    leg_ended_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
