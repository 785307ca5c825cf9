"""Finished queue calls in a database (SQLAlchemy 2.0, async): written by the layer, read by reports."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

from sqlalchemy import Boolean, Float, Index, Integer, String, UniqueConstraint, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from cti import schema
from cti.calls.stats import DepartmentLeg
from queue_monitor.engine import QueueCall
from queue_monitor.followups import FollowupRecord
from queue_monitor.linkage import LinkageRecord

log = logging.getLogger(__name__)


class Base(DeclarativeBase):
    pass


class QueueCallRow(Base):
    """One stay of a caller in one queue (a leg); legs sharing a linkedid are one call for the centre."""

    __tablename__ = "monitor_queue_calls"
    __table_args__ = (UniqueConstraint("instance", "uniqueid", "joined_at"), Index("ix_mqc_left", "left_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    instance: Mapped[str] = mapped_column(String(64), default="")
    uniqueid: Mapped[str] = mapped_column(String(64))
    linkedid: Mapped[str] = mapped_column(String(64), index=True)
    queue: Mapped[str] = mapped_column(String(128))
    hotline: Mapped[str] = mapped_column(String(32))
    joined_at: Mapped[float] = mapped_column(Float)
    left_at: Mapped[float] = mapped_column(Float)
    outcome: Mapped[str] = mapped_column(String(16))     # answered | abandoned | timeout
    connected_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    ended_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    agent: Mapped[str] = mapped_column(String(128), default="")
    tags: Mapped[str] = mapped_column(String(256), default="")

    def to_call(self) -> QueueCall:
        return QueueCall(self.uniqueid, self.linkedid, self.queue, self.hotline, self.joined_at, self.left_at,
                         self.outcome, self.connected_at, self.ended_at, self.agent, self.tags)


class DepartmentLegRow(Base):
    """One department leg of a transferred or three-way call (部门热线), for the department's own rate."""

    __tablename__ = "monitor_department_legs"
    __table_args__ = (UniqueConstraint("instance", "call_id", "number", "ringing_at"),
                      Index("ix_mdl_ringing", "ringing_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    instance: Mapped[str] = mapped_column(String(64), default="")
    call_id: Mapped[str] = mapped_column(String(64), index=True)
    number: Mapped[str] = mapped_column(String(32))
    owner: Mapped[str] = mapped_column(String(128), default="")
    kind: Mapped[str] = mapped_column(String(16))              # threeway | blind | test (拨测)
    emergency: Mapped[bool] = mapped_column(Boolean, default=False)
    ringing_at: Mapped[float] = mapped_column(Float)
    answer_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    outcome: Mapped[str] = mapped_column(String(16))

    def to_leg(self) -> DepartmentLeg:
        return DepartmentLeg(self.call_id, self.number, self.owner, self.kind, self.emergency, self.ringing_at,
                             self.answer_seconds, self.outcome)


class LinkageRow(Base):
    """One 110 hand-over (110联动): 110 to 12345 or 12345 to 110."""

    __tablename__ = "monitor_linkage"

    id: Mapped[int] = mapped_column(primary_key=True)
    instance: Mapped[str] = mapped_column(String(64), default="")
    call_id: Mapped[str] = mapped_column(String(64), default="")
    direction: Mapped[str] = mapped_column(String(16))         # from_110 | to_110
    at: Mapped[float] = mapped_column(Float, index=True)

    def to_record(self) -> LinkageRecord:
        return LinkageRecord(self.call_id, self.direction, self.at)


class FollowupRow(Base):
    """One finished follow-up call attempt (回访): its outcome and, when answered, the citizen's rating."""

    __tablename__ = "monitor_followups"

    id: Mapped[int] = mapped_column(primary_key=True)
    instance: Mapped[str] = mapped_column(String(64), default="")
    followup_id: Mapped[str] = mapped_column(String(64), default="")
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    outcome: Mapped[str] = mapped_column(String(32))            # surveyed | to_agent | no_answer | busy ...
    exhausted: Mapped[bool] = mapped_column(Boolean, default=False)
    rating: Mapped[int | None] = mapped_column(Integer, nullable=True)   # 1 satisfied .. 3 dissatisfied
    settled: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    at: Mapped[float] = mapped_column(Float, index=True)

    def to_record(self) -> FollowupRecord:
        return FollowupRecord(self.followup_id, self.attempt, self.outcome, self.exhausted, self.rating,
                              self.settled, self.at)


SCHEMA = schema.Schema("monitor", Path(__file__).with_name("migrations"), "monitor_alembic_version", Base.metadata)


def make_engine(url: str) -> AsyncEngine:
    u = make_url(url)
    if u.get_backend_name() == "sqlite" and u.database and u.database != ":memory:":
        Path(u.database).parent.mkdir(parents=True, exist_ok=True)
        return create_async_engine(u, connect_args={"timeout": 30})
    return create_async_engine(u, pool_pre_ping=True)


class CallStore:
    def __init__(self, url: str, instance: str = "") -> None:
        self.url = url
        self.instance = instance
        self.engine = make_engine(url)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    async def create(self) -> None:
        """At start: an empty database is made at head, one at head is used, any other raises
        cti.schema.SchemaError naming the command to run."""
        await schema.at_url(self.url, schema.ensure, SCHEMA)

    async def _insert(self, rows: list) -> int:
        if rows:
            async with self.sessions.begin() as session:
                session.add_all(rows)
        return len(rows)

    async def _select(self, stmt) -> list:
        async with self.sessions() as session:
            return list((await session.scalars(stmt)).all())

    async def _between(self, row_type, at, start: float, end: float, instance: str | None = None) -> list:
        """Rows whose ``at`` column is in [start, end), in that order; of every instance, or of one."""
        stmt = select(row_type).where(at >= start, at < end)
        if instance is not None:
            stmt = stmt.where(row_type.instance == instance)
        return await self._select(stmt.order_by(at))

    async def add(self, calls: Iterable[QueueCall]) -> int:
        return await self._insert([QueueCallRow(instance=self.instance, **vars_of(c)) for c in calls])

    async def calls(self, start: float, end: float, queue: str | None = None,
                    instance: str | None = None) -> list[QueueCall]:
        """Legs that may count in [start, end): left the queue or were answered in it (talk comes with them);
        of every instance, or of one (a restarted instance rebuilds only its own figures: the wall adds the
        others' from Redis)."""
        stmt = select(QueueCallRow).where(QueueCallRow.left_at < end, QueueCallRow.left_at >= start - 86400)
        if queue:
            stmt = stmt.where(QueueCallRow.queue == queue)
        if instance is not None:
            stmt = stmt.where(QueueCallRow.instance == instance)
        return [r.to_call() for r in await self._select(stmt.order_by(QueueCallRow.joined_at))]

    async def latest(self, instance: str) -> float | None:
        """The newest moment (epoch s) a stored leg of ``instance`` was decided at, or None."""
        stmt = select(func.max(func.coalesce(QueueCallRow.connected_at, QueueCallRow.left_at))).where(
            QueueCallRow.instance == instance)
        async with self.sessions() as session:
            return await session.scalar(stmt)

    async def queues(self) -> list[str]:
        """Names of the queues with stored calls, sorted."""
        async with self.sessions() as session:
            return sorted((await session.scalars(select(QueueCallRow.queue).distinct())).all())

    async def add_legs(self, legs: Iterable[DepartmentLeg]) -> int:
        return await self._insert([DepartmentLegRow(instance=self.instance, **leg.as_dict()) for leg in legs])

    async def legs(self, start: float, end: float, instance: str | None = None) -> list[DepartmentLeg]:
        """Department legs rung in [start, end)."""
        return [r.to_leg() for r in await self._between(DepartmentLegRow, DepartmentLegRow.ringing_at, start, end,
                                                                  instance)]

    async def add_linkage(self, records: Iterable[LinkageRecord]) -> int:
        return await self._insert([LinkageRow(instance=self.instance, call_id=r.call_id, direction=r.direction,
                                              at=r.at) for r in records])

    async def linkage(self, start: float, end: float, instance: str | None = None) -> list[LinkageRecord]:
        """110 hand-overs heard in [start, end)."""
        return [r.to_record() for r in await self._between(LinkageRow, LinkageRow.at, start, end, instance)]

    async def add_followups(self, records: Iterable[FollowupRecord]) -> int:
        return await self._insert([
            FollowupRow(instance=self.instance, followup_id=r.followup_id, attempt=r.attempt, outcome=r.outcome,
                        exhausted=r.exhausted, rating=r.rating, settled=r.settled, at=r.at)
            for r in records])

    async def followups(self, start: float, end: float, instance: str | None = None) -> list[FollowupRecord]:
        """Follow-up call attempts heard in [start, end)."""
        return [r.to_record() for r in await self._between(FollowupRow, FollowupRow.at, start, end, instance)]

    async def close(self) -> None:
        await self.engine.dispose()


def vars_of(call: QueueCall) -> dict:
    return {f: getattr(call, f) for f in QueueCall.__dataclass_fields__}
