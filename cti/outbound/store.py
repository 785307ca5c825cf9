"""The outbound part's database (SQLAlchemy 2.0 async; SQLite under var/ by default).

Two layer instances may share one database (PostgreSQL, README "In production" step 10): a follow-up is
called by the instance that claimed it (``claim``: one statement, so never by both), which holds it while
the call is live ('calling', then 'answered' during the survey) until a lease ends; a row whose instance
died is released by the other once its lease has passed (``release_expired``).
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from cti import schema
from cti.outbound.models import Base, Campaign, DoNotCall, FollowUp, LinkageEvent
from cti.tickets.db import make_engine

CLOSED_TICKETS = "closed-tickets"   # the campaign fed by the ticket backend's closes
LIVE = ("calling", "answered")       # states of a follow-up whose call one instance has placed
SCHEMA = schema.Schema("outbound", Path(__file__).with_name("migrations"), "outbound_alembic_version", Base.metadata)


class Store:
    def __init__(self, url: str, instance: str = "") -> None:
        self.instance = instance      # this layer's name (monitor.instance): stamped on the rows it calls
        self.engine: AsyncEngine = make_engine(url)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    async def migrate(self) -> None:
        """At start: an empty database is made at head, one at head is used, any other raises
        cti.schema.SchemaError naming the command to run."""
        await schema.ensure(self.engine, SCHEMA)

    async def close(self) -> None:
        await self.engine.dispose()

    # -- campaigns --------------------------------------------------------------------------------------
    async def campaign(self, name: str, now: float) -> Campaign:
        async with self.sessions.begin() as s:
            c = await s.get(Campaign, name)
            if c is None:
                c = Campaign(name=name, state="active", created_at=now)
                s.add(c)
            return c

    async def set_state(self, name: str, state: str) -> bool:
        async with self.sessions.begin() as s:
            c = await s.get(Campaign, name)
            if c is None:
                return False
            c.state = state
            return True

    async def campaigns(self) -> list[dict]:
        async with self.sessions() as s:
            rows = (await s.execute(select(Campaign).order_by(Campaign.name))).scalars().all()
            counts = (await s.execute(select(FollowUp.campaign, FollowUp.state, func.count())
                                      .group_by(FollowUp.campaign, FollowUp.state))).all()
        out = []
        for c in rows:
            states = {st: n for camp, st, n in counts if camp == c.name}
            out.append({"name": c.name, "state": c.state, "followups": states})
        return out

    async def active_campaigns(self) -> set[str]:
        async with self.sessions() as s:
            return set((await s.execute(select(Campaign.name).where(Campaign.state == "active"))).scalars())

    # -- follow-ups -------------------------------------------------------------------------------------
    async def add_followup(self, campaign: str, number: str, ticket_id: str, at: float, now: float) -> FollowUp:
        async with self.sessions.begin() as s:
            f = FollowUp(campaign=campaign, ticket_id=ticket_id, number=number, state="pending", attempts=0,
                         next_attempt_at=at, created_at=now, updated_at=now)
            if await s.get(DoNotCall, number) is not None:
                f.state = "do_not_call"
            s.add(f)
        return f

    async def claim(self, campaigns: set[str], now: float, lease: float) -> FollowUp | None:
        """The next due pending follow-up of ``campaigns``, set 'calling' by this instance until ``now +
        lease`` (epoch seconds) with its attempt counted, in one statement: of two instances on one database
        only one gets a row (PostgreSQL: the row is locked, SKIP LOCKED sends the other to the next one, as
        the tickets outbox claims; SQLite: one writer at a time). None when nothing is due (or, on
        PostgreSQL, when the row went to the other instance meanwhile: the next round looks again)."""
        f = FollowUp
        due = (select(f.id).where(f.state == "pending", f.next_attempt_at <= now, f.campaign.in_(campaigns))
               .order_by(f.next_attempt_at, f.id).limit(1).with_for_update(skip_locked=True))
        # "id = (...)", not "id IN (...)": PostgreSQL may run an IN subquery once per row (seen: one claim
        # took every due row); a scalar subquery runs once (an InitPlan)
        stmt = (update(f).where(f.id == due.scalar_subquery(), f.state == "pending")
                .values(state="calling", attempts=f.attempts + 1, claimed_by=self.instance,
                        claimed_until=now + lease, updated_at=now)
                .returning(f).execution_options(synchronize_session=False))
        async with self.sessions.begin() as s:
            return (await s.execute(stmt)).scalars().first()

    async def get(self, fid: int) -> FollowUp | None:
        async with self.sessions() as s:
            return await s.get(FollowUp, fid)

    async def update(self, fid: int, **values) -> None:
        async with self.sessions.begin() as s:
            await s.execute(update(FollowUp).where(FollowUp.id == fid).values(**values))

    async def followups(self, campaign: str | None = None) -> list[FollowUp]:
        async with self.sessions() as s:
            q = select(FollowUp).order_by(FollowUp.id)
            if campaign:
                q = q.where(FollowUp.campaign == campaign)
            return list((await s.execute(q)).scalars())

    async def release_calling(self, now: float) -> int:
        """At this instance's start none of its calls is live: its 'calling' rows (and those of a layer from
        before claims, which has no name on them) go back to pending, the attempt counts. Another
        instance's live calls stay its own, unless their lease has passed (``release_expired``)."""
        f = FollowUp
        mine = or_(f.claimed_by == self.instance, f.claimed_by.is_(None))
        return await self._release(now, (f.state == "calling") & mine) + await self.release_expired(now)

    async def release_expired(self, now: float) -> int:
        """Follow-ups still 'calling' or 'answered' after their lease (the instance calling them died, or
        never came back) go back to pending, next attempt now; the attempt counts."""
        f = FollowUp
        return await self._release(now, f.state.in_(LIVE) & (f.claimed_until < now))

    async def _release(self, now: float, which) -> int:
        async with self.sessions.begin() as s:
            r = await s.execute(update(FollowUp).where(which).values(
                state="pending", next_attempt_at=now, claimed_by=None, claimed_until=None, updated_at=now))
            return r.rowcount or 0

    # -- do-not-call ------------------------------------------------------------------------------------
    async def add_do_not_call(self, number: str, now: float, note: str = "") -> None:
        async with self.sessions.begin() as s:
            if await s.get(DoNotCall, number) is None:
                s.add(DoNotCall(number=number, added_at=now, note=note))
            await s.execute(update(FollowUp).where(FollowUp.number == number, FollowUp.state == "pending")
                            .values(state="do_not_call", updated_at=now))

    async def is_do_not_call(self, number: str) -> bool:
        async with self.sessions() as s:
            return await s.get(DoNotCall, number) is not None

    # -- linkage ----------------------------------------------------------------------------------------
    async def add_linkage(self, direction: str, call_id: str, at: float, outcome: str) -> None:
        async with self.sessions.begin() as s:
            s.add(LinkageEvent(direction=direction, call_id=call_id, at=at, outcome=outcome))

    async def linkage_counts(self, since: float = 0.0, until: float = float("inf")) -> dict[str, int]:
        async with self.sessions() as s:
            q = (select(LinkageEvent.direction, func.count()).where(LinkageEvent.at >= since)
                 .where(LinkageEvent.at < min(until, 1e18)).group_by(LinkageEvent.direction))
            got = dict((await s.execute(q)).all())
        return {"from_110": got.get("from_110", 0), "to_110": got.get("to_110", 0)}
