"""Dispositions (话后小结) and knowledge items: stored in the tickets database with their outgoing message.

A call an agent answered gets a ``pending`` row when it ends (``calls.call_ended``). The agent records one
disposition from ``dispositions.choices`` (with a request type and a short summary) within the wrap-up
window; its row and its signed ``call.disposition`` message are written in one transaction, so the backend
gets it exactly once through the outbox (cti/tickets/outbox.py). A call still pending once the window has
passed becomes ``not_recorded`` (the expire sweep): a disposition is never guessed, and a late one is refused.

A specialist three-way that ended answered (``SpecialistLeg``) lets the agent record the question and the
specialist's answer as one knowledge item (一问一答, Rugao "一企来" rules, seed 004 section 二.3), sent as a
signed ``knowledge.item`` message with the field, department, specialist and line taken from the leg.
"""

from __future__ import annotations

import logging
import math
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import String, cast, insert, or_, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from cti.bus import EventBus
from cti.dispositions.messages import NOT_RECORDED, RECORDED, TOPIC_OUTCOME, DispositionOutcome
from cti.dispositions.models import CallDisposition, KnowledgeItem
from cti.dispositions.settings import DispositionsSettings
from cti.privacy import mask_number
from cti.specialists import PUBLIC_LINE as PUBLIC
from cti.tickets import payload
from cti.tickets.db import async_url, make_engine, sessionmaker
from cti.tickets.models import OutboxMessage, Ticket
from cti.tickets.outbox import new_message

log = logging.getLogger(__name__)

PUBLIC_LINE = (PUBLIC.id, PUBLIC.name)   # a call on no special line (市民热线: needs no entry in the directory)
REMEMBERED = 20_000                      # ratings and specialist legs kept per call id, oldest forgotten

LineFn = Callable[[str, Sequence[str]], tuple[str, str]]        # (queue, tags) -> (line id, line name)
LineNameFn = Callable[[str], str]                               # line id -> its name
RecordingLinkFn = Callable[[Sequence[str]], Awaitable[str | None]]


def public_line(_queue: str, _tags: Sequence[str]) -> tuple[str, str]:
    return PUBLIC_LINE


class DispositionError(Exception):
    """Refused input; ``field`` names the bad field of a 400, ``status`` is the HTTP status."""

    def __init__(self, status: int, error: str, detail: str, field: str | None = None) -> None:
        super().__init__(detail)
        self.status, self.error, self.detail, self.field = status, error, detail, field


@dataclass(frozen=True)
class LiveCall:
    """A call as call control still holds it (connected, or just ended before its end was stored)."""

    call_id: str
    agent: str
    caller: str = ""
    queue: str = ""
    hotline: str = ""
    tags: tuple[str, ...] = ()
    connected_at: float | None = None


def _utc(epoch: float | None) -> datetime | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC)


def _epoch(when: datetime | None) -> float | None:
    return None if when is None else when.timestamp()


def _remember(memory: OrderedDict, key: str, value: Any) -> None:
    memory[key] = value
    memory.move_to_end(key)
    while len(memory) > REMEMBERED:
        memory.popitem(last=False)


class DispositionService:
    def __init__(self, engine: AsyncEngine, settings: DispositionsSettings, request_types: Sequence[str],
                 bus: EventBus | None = None, line_of: LineFn = public_line,
                 line_name: LineNameFn = lambda line_id: PUBLIC_LINE[1] if line_id == "public" else line_id,
                 clock: Callable[[], float] = time.time, recording_base_url: str = "", instance: str = "") -> None:
        self.engine = engine
        self.instance = instance          # this layer's name (monitor.instance): stamped on what it decides
        self.sessions = sessionmaker(engine)
        self.settings = settings
        self.request_types = tuple(request_types)
        self.bus = bus
        self.line_of = line_of
        self.line_name = line_name
        self.clock = clock
        self.recording_base_url = recording_base_url
        self.recording_link: RecordingLinkFn | None = None
        self.on_enqueued: Callable[[], None] | None = None
        self.ratings: OrderedDict[str, int] = OrderedDict()        # call id -> the survey's rating (1..3)
        self.legs: OrderedDict[str, list] = OrderedDict()          # call id -> its answered SpecialistLegs

    # -- inputs from the bus ----------------------------------------------------------------------------
    def remember_rating(self, call_id: str, rating: int) -> None:
        _remember(self.ratings, call_id, int(rating))

    def remember_leg(self, leg) -> None:
        """An answered specialist leg (cti.calls.messages.SpecialistLeg) of a call."""
        _remember(self.legs, leg.call_id, [*self.legs.get(leg.call_id, ()), leg])

    async def call_ended(self, ended) -> None:
        """``ended``: a cti.calls.messages.CallEnded. Its pending row, or the end time of a row recorded
        during the call (after-call work 0)."""
        line_id, line_name = self.line_of(ended.queue, ended.tags)
        try:
            async with self.sessions.begin() as s:
                row = await s.get(CallDisposition, ended.call_id, with_for_update=True)
                if row is None:
                    s.add(CallDisposition(
                        call_id=ended.call_id, agent=ended.agent, caller_number=ended.caller, hotline=ended.hotline,
                        queue=ended.queue, tags=list(ended.tags), line=line_id, line_name=line_name,
                        connected_at=_utc(ended.connected_at), ended_at=_utc(ended.ended_at), status="pending",
                        summary=""))
                elif row.ended_at is None:
                    row.ended_at = _utc(ended.ended_at)
        except IntegrityError:
            pass   # another instance reading the same switch stored this call's end first

    # -- dispositions -----------------------------------------------------------------------------------
    async def owner(self, call_id: str, live: LiveCall | None) -> str | None:
        """The agent of the call (stored or live), None when the call is unknown."""
        async with self.sessions() as s:
            row = await s.get(CallDisposition, call_id)
        return row.agent if row is not None else (live.agent if live is not None else None)

    async def get(self, call_id: str) -> dict[str, Any] | None:
        async with self.sessions() as s:
            row = await s.get(CallDisposition, call_id)
        return None if row is None else self._view(row)

    def check(self, code: str, request_type: str | None, summary: str):
        """The choice of ``code``; DispositionError 400 naming a bad field (no call needed to tell)."""
        choice = self.settings.choices.get(code)
        if choice is None:
            known = ", ".join(f"{k} ({c.name})" for k, c in self.settings.choices.items())
            raise DispositionError(400, "bad_request", f"unknown disposition {code!r}; known: {known}", "code")
        if request_type is None and choice.request:
            raise DispositionError(400, "bad_request", f"a request type is needed for {choice.name}; known: "
                                   f"{', '.join(self.request_types)}", "request_type")
        if request_type is not None and request_type not in self.request_types:
            raise DispositionError(400, "bad_request", f"unknown request type {request_type!r}; known: "
                                   f"{', '.join(self.request_types)}", "request_type")
        if len(summary) > self.settings.summary_max:
            raise DispositionError(400, "bad_request", f"at most {self.settings.summary_max} characters",
                                   "summary")
        return choice

    async def record(self, call_id: str, code: str, request_type: str | None, summary: str,
                     ticket_id: str | None, live: LiveCall | None) -> dict[str, Any]:
        """Store the call's disposition and its ``call.disposition`` message in one transaction; return the
        stored disposition. Raise DispositionError (400 field, 404 unknown call, 409 already recorded or
        the wrap-up window has passed)."""
        choice = self.check(code, request_type, summary)
        recording = None
        if self.recording_link is not None:
            try:
                recording = await self.recording_link([call_id])
            except Exception:  # a disposition is never lost for want of its recording link
                log.exception("dispositions: cannot get the recording link of call %s", call_id)
        now = self.clock()
        async with self.sessions.begin() as s:
            row = await s.get(CallDisposition, call_id, with_for_update=True)
            if row is None:
                if live is None:
                    raise DispositionError(404, "unknown call", f"没有这个已接通的通话 (no answered call {call_id})")
                line_id, line_name = self.line_of(live.queue, live.tags)
                row = CallDisposition(call_id=call_id, agent=live.agent, caller_number=live.caller,
                                      hotline=live.hotline, queue=live.queue, tags=list(live.tags), line=line_id,
                                      line_name=line_name, connected_at=_utc(live.connected_at), ended_at=None,
                                      status="pending", summary="")
                s.add(row)
            if row.status == RECORDED:
                raise DispositionError(409, "already recorded", f"该通话已提交话后小结：{row.name} "
                                       f"(call {call_id} has its disposition already)")
            ended = _epoch(row.ended_at)
            if row.status == NOT_RECORDED or (ended is not None and now - ended > self.settings.wrapup_window):
                raise DispositionError(409, "wrap-up window passed", f"通话结束已超过 {self.settings.wrapup_window:g} "
                                       f"秒，计为未小结，不能再提交 (call {call_id} ended more than "
                                       f"{self.settings.wrapup_window:g} s ago: it counts as not recorded)")
            tickets = await self._tickets_of(s, call_id)
            if ticket_id is not None:
                if await s.get(Ticket, ticket_id) is None:
                    raise DispositionError(400, "bad_request", f"unknown ticket {ticket_id!r}", "ticket_id")
                tickets = [ticket_id, *(t for t in tickets if t != ticket_id)]
            row.status, row.code, row.name = RECORDED, code, choice.name
            row.online, row.request, row.request_type = choice.online, choice.request, request_type
            row.summary, row.ticket_id = summary, ticket_id or (tickets[0] if tickets else None)
            row.rating = self.ratings.get(call_id) or await self._ticket_rating(s, tickets)
            row.recorded_at, row.instance = _utc(now), self.instance
            row.wrapup_seconds = max(0.0, now - ended) if ended is not None else 0.0
            data = payload.disposition_data(row, tickets, recording, self.recording_base_url)
            body = payload.envelope(payload.EVENT_DISPOSITION, data, row.recorded_at)
            await s.execute(insert(OutboxMessage), [new_message(None, payload.EVENT_DISPOSITION, body, row.recorded_at)])
            view = self._view(row)
        log.info("call %s: disposition %s (%s) by agent %s, caller %s, wrap-up %.1f s; call.disposition queued",
                 call_id, code, choice.name, row.agent, mask_number(row.caller_number) or "-",
                 row.wrapup_seconds)
        self._publish(row)
        if self.on_enqueued:
            self.on_enqueued()
        return view

    async def _tickets_of(self, s, call_id: str) -> list[str]:
        # call_ids is a JSON list: a text match narrows, the exact membership test decides
        q = select(Ticket.id, Ticket.call_ids).where(cast(Ticket.call_ids, String).like(f'%"{call_id}"%'))
        return [tid for tid, ids in (await s.execute(q)).all() if call_id in (ids or ())]

    async def _ticket_rating(self, s, tickets: list[str]) -> int | None:
        if not tickets:
            return None
        q = select(Ticket.rating).where(Ticket.id.in_(tickets), Ticket.rating.is_not(None))
        return (await s.execute(q)).scalars().first()

    async def expire(self) -> int:
        """Mark every pending call whose wrap-up window has passed ``not_recorded``; publish each; return
        how many. Fenced by the status, so two instances sweeping at once mark each call once."""
        cutoff = _utc(self.clock() - self.settings.wrapup_window)
        c = CallDisposition
        stmt = (update(c).where(c.status == "pending", c.ended_at.is_not(None), c.ended_at < cutoff)
                .values(status=NOT_RECORDED, instance=self.instance).returning(c))
        async with self.sessions.begin() as s:
            rows = list((await s.scalars(stmt, execution_options={"synchronize_session": False})).all())
        for row in rows:
            log.info("call %s of agent %s: no disposition within %g s, counted as not recorded (未小结)",
                     row.call_id, row.agent, self.settings.wrapup_window)
            self._publish(row)
        return len(rows)

    def _publish(self, row: CallDisposition) -> None:
        if self.bus is not None:
            self.bus.publish(TOPIC_OUTCOME, DispositionOutcome(
                row.call_id, row.agent, row.queue, row.line, row.line_name, row.status, row.code, row.name,
                row.online, row.request, _epoch(row.ended_at), row.wrapup_seconds))

    @staticmethod
    def _view(row: CallDisposition) -> dict[str, Any]:
        return {"call_id": row.call_id, "agent": row.agent, "queue": row.queue, "hotline": row.hotline,
                "tags": list(row.tags), "line": {"id": row.line, "name": row.line_name}, "status": row.status,
                "code": row.code, "name": row.name, "online": row.online, "request": row.request,
                "request_type": row.request_type, "summary": row.summary, "ticket_id": row.ticket_id,
                "rating": row.rating, "ended_at": payload.iso(row.ended_at),
                "recorded_at": payload.iso(row.recorded_at), "wrapup_seconds": row.wrapup_seconds}

    # -- knowledge items --------------------------------------------------------------------------------
    async def add_knowledge(self, call_id: str, question: str, answer: str, agent: str,
                            specialist_id: str | None = None) -> dict[str, Any]:
        """Store one question and answer of the call's answered specialist leg (the latest, or the one of
        ``specialist_id``) with its ``knowledge.item`` message; return the message data. Raise
        DispositionError 409 when the call has no such leg."""
        legs = [leg for leg in self.legs.get(call_id, ()) if specialist_id in (None, leg.specialist_id)]
        if not legs:
            who = f" with specialist {specialist_id}" if specialist_id else ""
            raise DispositionError(409, "no specialist answer", f"该通话没有政策专员接通的三方通话，不能记录知识条目 "
                                   f"(call {call_id} has no answered specialist three-way{who})")
        leg = legs[-1]
        now = _utc(self.clock())
        item = KnowledgeItem(id=uuid.uuid4().hex, call_id=call_id, agent=agent, question=question, answer=answer,
                             field=leg.field or "", department=leg.department or "",
                             specialist_id=leg.specialist_id or "", specialist_name=leg.specialist_name or "",
                             line=leg.line or PUBLIC_LINE[0], leg_started_at=_utc(leg.started_at),
                             leg_ended_at=_utc(leg.ended_at), created_at=now)
        data = payload.knowledge_data(item, self.line_name(item.line))
        body = payload.envelope(payload.EVENT_KNOWLEDGE, data, now)
        async with self.sessions.begin() as s:
            s.add(item)
            await s.execute(insert(OutboxMessage), [new_message(None, payload.EVENT_KNOWLEDGE, body, now)])
        log.info("call %s: knowledge item %s (%s, %s %s) queued", call_id, item.id, item.field, item.department,
                 item.specialist_name)
        if self.on_enqueued:
            self.on_enqueued()
        return data


async def stored(engine: AsyncEngine, start: float, end: float, now: float, window: float,
                 instance: str | None = None) -> list[DispositionOutcome]:
    """The outcomes of calls that ended (or were disposed during the call) in [start, end), epoch seconds:
    for the reports. A pending call whose window has passed by ``now`` counts as not recorded (its sweep
    did not run: the layer was down); one still inside its window is left out. ``instance``: only those
    that layer instance recorded or swept (a monitor's restart)."""
    c = CallDisposition
    lo = _utc(start)
    hi = _utc(end) if math.isfinite(end) else datetime.max.replace(tzinfo=UTC)   # open end: today so far
    q = select(c).where(or_(c.ended_at.between(lo, hi), (c.ended_at.is_(None) & c.recorded_at.between(lo, hi))))
    if instance is not None:
        q = q.where(c.instance == instance)
    async with engine.connect() as conn:
        rows = (await conn.execute(q)).all()
    out = []
    for r in rows:
        at = _epoch(r.ended_at) if r.ended_at is not None else _epoch(r.recorded_at)
        if not start <= at < end:
            continue
        status = r.status
        if status == "pending":
            if r.ended_at is None or now - at <= window:
                continue
            status = NOT_RECORDED
        out.append(DispositionOutcome(r.call_id, r.agent, r.queue, r.line, r.line_name, status, r.code, r.name,
                                      r.online, r.request, at, r.wrapup_seconds))
    return out



async def load_outcomes(url: str, start: float, end: float, now: float, window: float,
                        queue: str | None = None, instance: str | None = None) -> list[DispositionOutcome]:
    """``stored`` read from the tickets database at ``url`` (the monitor and `cti report` use it); [] with a
    warning when that database has no dispositions yet (an SQLite file never made is not created)."""
    u = make_url(async_url(url))
    if u.get_backend_name() == "sqlite" and (not u.database or not Path(u.database).exists()):
        return []
    engine = make_engine(url)
    try:
        found = await stored(engine, start, end, now, window, instance)
    except SQLAlchemyError as exc:
        log.warning("dispositions: cannot read %s (%s): no dispositions counted", u.render_as_string(), exc)
        return []
    finally:
        await engine.dispose()
    return [o for o in found if queue in (None, "", o.queue)]
