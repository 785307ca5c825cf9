"""Tickets: create (ticket and its outgoing message in one transaction), read, apply callbacks."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import String, cast, insert, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from cti.bus import EventBus
from cti.privacy import mask_number
from cti.tickets import events, payload
from cti.tickets.db import sessionmaker
from cti.tickets.models import CALLBACK_STATUSES, CallbackReceipt, OutboxMessage, Ticket, TicketFollowup
from cti.tickets.outbox import Clock, new_message, utcnow
from cti.tickets.settings import TicketsSettings

log = logging.getLogger(__name__)

URGENCIES = ("normal", "urgent")
SOURCES = ("agent", "after_hours", "survey", "layer")


class TicketError(ValueError):
    """Bad ticket input; the message is safe to return to the caller."""


class UnknownTicket(LookupError):
    pass


@dataclass(frozen=True)
class Deadlines:
    acknowledge_by: datetime | None
    answer_by: datetime | None
    return_by: datetime | None


DeadlineFn = Callable[[datetime, str, str], Deadlines]
LightFn = Callable[[Ticket, datetime], str | None]
RecordingLinkFn = Callable[[Sequence[str]], Awaitable[str | None]]


def no_deadlines(created: datetime, request_type: str, urgency: str) -> Deadlines:
    return Deadlines(None, None, None)


class TicketService:
    def __init__(self, engine: AsyncEngine, settings: TicketsSettings, bus: EventBus | None = None,
                 deadlines: DeadlineFn = no_deadlines, light: LightFn | None = None,
                 clock: Clock = utcnow, on_enqueued: Callable[[], None] | None = None) -> None:
        self.engine = engine
        self.sessions = sessionmaker(engine)
        self.settings = settings
        self.bus = bus
        self.deadlines = deadlines
        self.light = light
        self.clock = clock
        self.on_enqueued = on_enqueued
        self.recording_link: RecordingLinkFn | None = None   # the recordings part's, when it runs

    def _publish(self, topic: str, event: events.TicketEvent) -> None:
        if self.bus is not None:
            self.bus.publish(topic, event)

    def _check(self, request_type: str, urgency: str, source: str, rating: int | None) -> None:
        if request_type not in self.settings.request_types:
            raise TicketError(f"unknown request_type {request_type!r}; known: {', '.join(self.settings.request_types)}")
        if urgency not in URGENCIES:
            raise TicketError(f"unknown urgency {urgency!r}; known: {', '.join(URGENCIES)}")
        if source not in SOURCES:
            raise TicketError(f"unknown source {source!r}; known: {', '.join(SOURCES)}")
        if rating is not None and rating not in (1, 2, 3):
            raise TicketError("rating must be 1 (satisfied), 2 (basically satisfied) or 3 (dissatisfied)")

    async def create(self, *, request_type: str, caller_number: str = "", call_ids: Sequence[str] = (),
                     hotline: str | None = None, channel: str = "phone", summary: str = "",
                     ivr_path: Sequence[str] = (), tags: Sequence[str] = (), agent: str | None = None,
                     department: str | None = None, urgency: str = "normal", source: str = "agent",
                     recording_ref: str | None = None, rating: int | None = None) -> dict[str, Any]:
        """Store a ticket and its ``ticket.created`` message atomically; return the ticket as JSON data."""
        self._check(request_type, urgency, source, rating)
        if recording_ref is None and call_ids and self.recording_link is not None:
            try:
                recording_ref = await self.recording_link([str(c) for c in call_ids])
            except Exception:  # a ticket is never lost for want of its recording link
                log.exception("tickets: cannot get the recording link of calls %s", list(call_ids))
        now = self.clock()
        d = self.deadlines(now, request_type, urgency)
        values = dict(
            id=uuid.uuid4().hex, call_ids=[str(c) for c in call_ids], caller_number=caller_number or "",
            hotline=hotline or self.settings.hotline, channel=channel, request_type=request_type,
            summary=summary, ivr_path=[str(s) for s in ivr_path], tags=[str(s) for s in tags], agent=agent,
            department=department, urgency=urgency, source=source, recording_ref=recording_ref, rating=rating,
            created_at=now, acknowledge_by=d.acknowledge_by, answer_by=d.answer_by, return_by=d.return_by,
            status="created", status_changed_at=now, light=None)
        ticket = Ticket(**values)
        ticket.light = values["light"] = self.light(ticket, now) if self.light else None
        data = payload.ticket_data(ticket, self.settings.recording_base_url)
        body = payload.envelope(payload.EVENT_CREATED, data, now)
        # Core inserts (not the ORM unit of work): the same single transaction, a third of the cost.
        async with self.engine.begin() as conn:
            await conn.execute(insert(Ticket), [values])
            await conn.execute(insert(OutboxMessage), [new_message(ticket.id, payload.EVENT_CREATED, body, now)])
        log.info("ticket %s created (%s, %s, caller %s)", ticket.id, request_type, source,
                 mask_number(caller_number) if caller_number else "-")
        self._publish(events.TOPIC_CREATED, events.TicketEvent(
            ticket.id, now, status="created", light=ticket.light, request_type=request_type))
        if self.on_enqueued:
            self.on_enqueued()
        return data | {"light": ticket.light}

    async def recording_ready(self, ready) -> list[str]:
        """A call's recording is converted: every ticket of that call (by uniqueid or linkedid) gets a
        ``recording.ready`` message in the outbox, and its link if it had none; return the ticket ids."""
        call_ids = {c for c in (ready.uniqueid, ready.linkedid) if c}
        if not call_ids:
            return []
        now = self.clock()
        # call_ids is a JSON list: a text match narrows, the exact membership test decides
        like = or_(*(cast(Ticket.call_ids, String).like(f'%"{c}"%') for c in call_ids))
        done: list[str] = []
        async with self.sessions.begin() as s:
            for t in (await s.execute(select(Ticket).where(like))).scalars():
                if not call_ids & set(t.call_ids or ()):
                    continue
                if not t.recording_ref:
                    t.recording_ref = ready.link
                body = payload.envelope(payload.EVENT_RECORDING_READY, payload.recording_ready_data(t.id, ready), now)
                s.add(OutboxMessage(**new_message(t.id, payload.EVENT_RECORDING_READY, body, now)))
                done.append(t.id)
        for ticket_id in done:
            log.info("ticket %s: recording %s ready, recording.ready queued", ticket_id, ready.uniqueid)
        if done and self.on_enqueued:
            self.on_enqueued()
        return done

    async def record_followup(self, ticket_id: str, rating: int, settled: bool | None, call_id: str | None = None,
                              outcome: str | None = None) -> dict[str, Any]:
        """Store a follow-up answer on the ticket (its rating becomes the answer's) and its ``ticket.followup``
        message in one transaction; return the message data. Raise UnknownTicket, TicketError."""
        if rating not in (1, 2, 3):
            raise TicketError("rating must be 1 (satisfied), 2 (basically satisfied) or 3 (dissatisfied)")
        if settled is not None and not isinstance(settled, bool):
            raise TicketError("settled must be true, false or null")
        if outcome is not None and outcome not in payload.FOLLOWUP_OUTCOMES:
            raise TicketError(f"unknown outcome {outcome!r}; known: {', '.join(payload.FOLLOWUP_OUTCOMES)}")
        now = self.clock()
        async with self.sessions.begin() as s:
            q = select(Ticket).where(Ticket.id == ticket_id).with_for_update()
            t = (await s.execute(q)).scalar_one_or_none()
            if t is None:
                raise UnknownTicket(ticket_id)
            f = TicketFollowup(ticket_id=ticket_id, rating=rating, settled=settled, call_id=call_id,
                               outcome=outcome, recorded_at=now)
            t.rating = rating
            s.add(f)
            data = payload.followup_data(f)
            body = payload.envelope(payload.EVENT_FOLLOWUP, data, now)
            s.add(OutboxMessage(**new_message(ticket_id, payload.EVENT_FOLLOWUP, body, now)))
        log.info("ticket %s: follow-up answer rating %s, settled %s; ticket.followup queued", ticket_id, rating, settled)
        if self.on_enqueued:
            self.on_enqueued()
        return data

    async def get(self, ticket_id: str) -> dict[str, Any] | None:
        async with self.sessions() as s:
            t = await s.get(Ticket, ticket_id)
            if t is None:
                return None
            now = self.clock()
            q = select(TicketFollowup).where(TicketFollowup.ticket_id == ticket_id).order_by(TicketFollowup.id)
            followups = [payload.followup_data(f) for f in (await s.execute(q)).scalars()]
            return payload.ticket_data(t, self.settings.recording_base_url) | {
                "light": self.light(t, now) if self.light else None,
                "status_changed_at": payload.iso(t.status_changed_at), "followups": followups}

    async def recent_for_caller(self, caller_number: str, limit: int = 5) -> list[dict[str, Any]]:
        """The caller's latest ``limit`` tickets, newest first, each with its light now (the agent
        toolbar's 历史工单: type, status, deadline light)."""
        if not caller_number:
            return []
        now = self.clock()
        q = (select(Ticket).where(Ticket.caller_number == caller_number)
             .order_by(Ticket.created_at.desc()).limit(limit))
        async with self.sessions() as s:
            rows = list((await s.execute(q)).scalars())
        return [{"id": t.id, "request_type": t.request_type, "status": t.status, "summary": t.summary[:200],
                 "created_at": payload.iso(t.created_at), "answer_by": payload.iso(t.answer_by),
                 "light": self.light(t, now) if self.light else t.light} for t in rows]

    async def apply_status(self, webhook_id: str, ticket_id: str, status: str, changed_at: datetime,
                           answer_by: datetime | None = None) -> str:
        """Apply a backend status change once per webhook-id; return applied, older or duplicate."""
        if status not in CALLBACK_STATUSES:
            raise TicketError(f"unknown status {status!r}; known: {', '.join(CALLBACK_STATUSES)}")
        now = self.clock()
        try:
            async with self.sessions.begin() as s:
                if await s.get(CallbackReceipt, webhook_id) is not None:
                    return "duplicate"
                q = select(Ticket).where(Ticket.id == ticket_id).with_for_update()
                t = (await s.execute(q)).scalar_one_or_none()
                if t is None:
                    raise UnknownTicket(ticket_id)
                # No ordering is guaranteed: a status stamped earlier than the stored one is stale.
                outcome = "older" if changed_at < t.status_changed_at else "applied"
                if outcome == "applied":
                    t.status, t.status_changed_at = status, changed_at
                    if status == "extended" and answer_by is not None:
                        t.answer_by = answer_by
                s.add(CallbackReceipt(webhook_id=webhook_id, received_at=now, ticket_id=ticket_id,
                                      status=status, outcome=outcome))
        except IntegrityError:
            return "duplicate"  # the same id raced in through another connection
        log.info("ticket %s callback %s: %s (%s)", ticket_id, webhook_id, status, outcome)
        self._publish(events.TOPIC_CALLBACK, events.TicketEvent(
            ticket_id, now, status=status, message_id=webhook_id, outcome=outcome))
        return outcome

    async def refresh_lights(self) -> int:
        """Recompute the light of every open ticket; store and publish those that changed."""
        if self.light is None:
            return 0
        now = self.clock()
        changed: list[events.TicketEvent] = []
        q = select(Ticket).where(or_(Ticket.status != "closed", Ticket.light.is_not(None)))
        async with self.sessions.begin() as s:
            for t in (await s.execute(q)).scalars():
                light = self.light(t, now)
                if light != t.light:
                    t.light = light
                    changed.append(events.TicketEvent(t.id, now, status=t.status, light=light,
                                                      request_type=t.request_type))
        for event in changed:  # after the commit: nobody hears of a change that was rolled back
            self._publish(events.TOPIC_LIGHT, event)
        return len(changed)
