"""The outbox table: messages written with their ticket, claimed by one dispatcher at a time.

A claim is a lease (``claimed_by`` token + ``claimed_until``) taken by one UPDATE whose subquery
uses ``FOR UPDATE SKIP LOCKED`` on PostgreSQL (SQLite has one writer at a time, so the statement is
atomic there). Results are fenced by the token: a dispatcher whose lease ran out and was taken over
changes nothing. A crashed dispatcher's messages come back when the lease expires.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from cti.tickets.models import Endpoint, OutboxMessage, Ticket

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Claimed:
    id: int
    message_id: str
    ticket_id: str | None      # None: a message of no ticket (call.disposition, knowledge.item)
    event_type: str
    body: str
    attempts: int          # including this one
    token: str


@dataclass(frozen=True)
class Outcome:
    claim: Claimed
    kind: str                          # delivered, retry, dead
    status: int | None = None          # the HTTP status, None when no answer came
    error: str = ""
    retry_at: datetime | None = None


def new_message_id() -> str:
    return "msg_" + uuid.uuid4().hex


def new_message(ticket_id: str | None, event_type: str, body: str, now: datetime) -> dict:
    """The column values of a fresh outbox row."""
    return dict(message_id=new_message_id(), ticket_id=ticket_id, event_type=event_type, body=body,
                created_at=now, status="pending", attempts=0, next_attempt_at=now)


class Outbox:
    def __init__(self, engine: AsyncEngine, clock: Clock = utcnow) -> None:
        self.engine = engine
        self.clock = clock
        self.instance = uuid.uuid4().hex[:12]

    async def claim(self, limit: int, lease: float) -> list[Claimed]:
        now = self.clock()
        token = f"{self.instance}:{uuid.uuid4().hex[:8]}"
        o = OutboxMessage
        due = (select(o.id)
               .where(o.status == "pending", o.next_attempt_at <= now,
                      or_(o.claimed_until.is_(None), o.claimed_until < now))
               .order_by(o.next_attempt_at, o.id).limit(limit)
               .with_for_update(skip_locked=True))
        stmt = (update(o).where(o.id.in_(due.scalar_subquery()))
                .values(claimed_by=token, claimed_until=now + timedelta(seconds=lease), attempts=o.attempts + 1)
                .returning(o.id, o.message_id, o.ticket_id, o.event_type, o.body, o.attempts))
        async with self.engine.begin() as conn:
            rows = (await conn.execute(stmt)).all()
        return sorted((Claimed(*row, token=token) for row in rows), key=lambda c: c.id)

    async def record(self, outcomes: Sequence[Outcome]) -> set[int]:
        """Write a batch's results in one transaction; return the ids whose claim was still ours."""
        now = self.clock()
        o = OutboxMessage
        applied: set[int] = set()
        delivered = [x for x in outcomes if x.kind == "delivered"]
        async with self.engine.begin() as conn:
            by_token: dict[str, list[Outcome]] = {}
            for x in delivered:
                by_token.setdefault(x.claim.token, []).append(x)
            for token, group in by_token.items():
                rows = (await conn.execute(
                    update(o).where(o.id.in_([x.claim.id for x in group]), o.claimed_by == token, o.status == "pending")
                    .values(status="delivered", delivered_at=now, last_status=group[0].status, last_error=None,
                            claimed_by=None, claimed_until=None)
                    .returning(o.id, o.ticket_id))).all()
                applied.update(r.id for r in rows)
                tickets = [r.ticket_id for r in rows if r.ticket_id is not None]
                if tickets:
                    await conn.execute(update(Ticket).where(Ticket.id.in_(tickets),
                                                            Ticket.status == "created").values(status="delivered"))
            for x in outcomes:
                if x.kind == "retry":
                    values = dict(next_attempt_at=x.retry_at, last_status=x.status, last_error=x.error[:2000],
                                  claimed_by=None, claimed_until=None)
                elif x.kind == "dead":
                    values = dict(status="dead", last_status=x.status, last_error=x.error[:2000],
                                  claimed_by=None, claimed_until=None)
                else:
                    continue
                if (await conn.execute(self._fenced(x.claim).values(**values))).rowcount:
                    applied.add(x.claim.id)
        return applied

    def _fenced(self, claim: Claimed):
        o = OutboxMessage
        return update(o).where(o.id == claim.id, o.claimed_by == claim.token, o.status == "pending")

    async def release(self, claims: Sequence[Claimed]) -> None:
        """Give unstarted claims back (clean stop), without counting an attempt."""
        async with self.engine.begin() as conn:
            for c in claims:
                await conn.execute(self._fenced(c).values(claimed_by=None, claimed_until=None,
                                                          attempts=OutboxMessage.attempts - 1))

    # --- endpoints ---

    async def endpoint_failed(self, url: str) -> str | None:
        """The reason the endpoint is marked failed, or None while it is usable."""
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(Endpoint.state, Endpoint.reason).where(Endpoint.url == url))).first()
        return row.reason or "failed" if row is not None and row.state == "failed" else None

    async def failed_endpoints(self) -> dict[str, str]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(select(Endpoint.url, Endpoint.reason).where(Endpoint.state == "failed"))
            return {url: reason or "failed" for url, reason in rows.all()}

    async def set_endpoint(self, url: str, state: str, reason: str | None) -> None:
        now = self.clock()
        async with self.engine.begin() as conn:
            done = await conn.execute(update(Endpoint).where(Endpoint.url == url)
                                      .values(state=state, reason=reason, changed_at=now))
            if not done.rowcount:
                await conn.execute(Endpoint.__table__.insert().values(url=url, state=state, reason=reason,
                                                                      changed_at=now))

    # --- admin ---

    async def list(self, status: str | None = None, limit: int = 100) -> list[OutboxMessage]:
        q = select(OutboxMessage).order_by(OutboxMessage.id).limit(limit)
        if status:
            q = q.where(OutboxMessage.status == status)
        async with self.engine.connect() as conn:
            return list((await conn.execute(q)).all())

    async def counts(self) -> dict[str, int]:
        q = select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
        async with self.engine.connect() as conn:
            return {status: n for status, n in (await conn.execute(q)).all()}

    async def replay(self, ids: Sequence[int] = (), message_ids: Sequence[str] = (),
                     all_dead: bool = False) -> int:
        """Put dead letters back in the queue for a fresh schedule; return how many."""
        o = OutboxMessage
        if not (ids or message_ids or all_dead):
            return 0
        cond = [o.status == "dead"]
        if not all_dead:
            cond.append(or_(o.id.in_(list(ids)), o.message_id.in_(list(message_ids))))
        async with self.engine.begin() as conn:
            done = await conn.execute(update(o).where(*cond).values(
                status="pending", attempts=0, next_attempt_at=self.clock(), claimed_by=None, claimed_until=None))
            await conn.execute(update(Endpoint).values(state="active", reason=None, changed_at=self.clock()))
        return done.rowcount
