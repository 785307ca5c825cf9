"""Stored state of the outbound part: follow-ups, campaigns, the do-not-call list, linkage counts."""

from __future__ import annotations

from sqlalchemy import Float, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Campaign(Base):
    """A follow-up campaign: ``closed-tickets`` (fed by the backend's closes) or an uploaded list."""
    __tablename__ = "outbound_campaigns"
    name: Mapped[str] = mapped_column(String(80), primary_key=True)
    state: Mapped[str] = mapped_column(String(10), default="active")       # active | paused
    created_at: Mapped[float] = mapped_column(Float)


class FollowUp(Base):
    __tablename__ = "outbound_followups"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    campaign: Mapped[str] = mapped_column(String(80), index=True)
    ticket_id: Mapped[str] = mapped_column(String(40), default="", index=True)
    number: Mapped[str] = mapped_column(String(40))
    # pending | calling | answered | done | exhausted | do_not_call
    state: Mapped[str] = mapped_column(String(12), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)                # calls placed
    # of those, calls the trunk or network could not put through (congested, unreachable): the citizen's
    # phone never rang, so they do not count against outbound.max_attempts
    network_failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[float] = mapped_column(Float)
    last_outcome: Mapped[str | None] = mapped_column(String(20))
    rating: Mapped[int | None] = mapped_column(Integer)                     # 1 satisfied .. 3 dissatisfied
    settled: Mapped[bool | None]
    result_ticket: Mapped[str | None] = mapped_column(String(40))          # the ticket that carried the answer
    # the layer instance (monitor.instance) whose call this is while 'calling' or 'answered', and until when
    # (epoch seconds) that claim holds: past it another instance may release the row (cti.outbound.store)
    claimed_by: Mapped[str | None] = mapped_column(String(80))
    claimed_until: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)


class DoNotCall(Base):
    __tablename__ = "outbound_do_not_call"
    number: Mapped[str] = mapped_column(String(40), primary_key=True)
    added_at: Mapped[float] = mapped_column(Float)
    note: Mapped[str] = mapped_column(Text, default="")


class LinkageEvent(Base):
    """One hand-over between 110 and 12345, either way."""
    __tablename__ = "outbound_linkage"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    direction: Mapped[str] = mapped_column(String(12), index=True)        # from_110 | to_110
    call_id: Mapped[str] = mapped_column(String(64), default="")
    at: Mapped[float] = mapped_column(Float, index=True)
    outcome: Mapped[str] = mapped_column(String(20), default="")
