"""The tickets part of the layer: service, dispatcher, lights, HTTP routes, bus subscriptions."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from cti.messages import TOPIC_TICKET_REQUEST, Rating, TicketRequest
from cti.tickets import deadlines
from cti.tickets.api import TicketsApi
from cti.tickets.db import ensure, make_engine
from cti.tickets.dispatcher import Dispatcher
from cti.tickets.outbox import Outbox
from cti.tickets.service import TicketError, TicketService
from ivr_flows import record as ivr_record

log = logging.getLogger(__name__)

TOPIC_IVR_SESSION = ivr_record.TOPIC_SESSION
TOPIC_REQUEST = TOPIC_TICKET_REQUEST   # any part without the tickets part in its process sends a TicketRequest
TOPIC_RECORDING_READY = "recording.ready"   # recordings.pipeline.TOPIC_READY (not imported: no pydub here)


class TicketsPart:
    """``cti.tickets.part:TicketsPart(layer)``; ``part.tickets`` is the service the desktop calls."""

    def __init__(self, layer) -> None:
        self.settings = s = layer.settings.tickets
        self.bus = layer.bus
        self.engine = make_engine(s.database_url)
        self.outbox = Outbox(self.engine)
        self.dispatcher = Dispatcher(self.outbox, s, self.bus)
        self.calendar, tz = deadlines.calendar_for(getattr(layer.settings, "flows", None))
        self.tickets = TicketService(self.engine, s, self.bus, deadlines=deadlines.for_settings(s, self.calendar, tz),
                                     light=deadlines.light_for_settings(s, self.calendar, tz),
                                     on_enqueued=self.dispatcher.wake)
        self.tickets.recording_link = self._recording_link
        self.layer = layer
        self.api = TicketsApi(self.tickets, s.secrets, s.callback_tolerance)
        self._lights: asyncio.Task | None = None
        self._pending: set[asyncio.Task] = set()
        self.bus.subscribe(TOPIC_IVR_SESSION, self._on_ivr_session)
        self.bus.subscribe(TOPIC_REQUEST, self._on_request)
        self.bus.subscribe(TOPIC_RECORDING_READY, self._on_recording_ready)

    def setup_web(self, app) -> None:
        self.api.setup(app)

    async def start(self) -> None:
        await ensure(self.engine)   # refuses a database of another version (cti.schema)
        await self.dispatcher.start()
        self._lights = asyncio.create_task(self._light_loop(), name="tickets-lights")

    async def stop(self) -> None:
        if self._lights is not None:
            self._lights.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._lights
        if self._pending:
            await asyncio.wait(self._pending, timeout=5)
        await self.dispatcher.stop()
        await self.engine.dispose()

    async def _light_loop(self) -> None:
        while True:
            try:
                await self.tickets.refresh_lights()
            except Exception:
                log.exception("tickets: light refresh failed")
            await asyncio.sleep(self.settings.light_interval)

    def _spawn(self, fields: dict[str, Any]) -> None:
        self._spawn_task(self._create(fields))

    def _spawn_task(self, coro) -> None:
        task = asyncio.ensure_future(coro)
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _create(self, fields: dict[str, Any]) -> None:
        try:
            await self.tickets.create(**fields)
        except (TicketError, TypeError) as exc:
            log.error("tickets: cannot make a ticket from %s: %s", sorted(fields), exc)
        except Exception:
            log.exception("tickets: storing a ticket failed")

    # Recordings: the link must be inside the ticket.created body, which is signed and stored once in the
    # create transaction, so the tickets side asks for it then (the recordings part starts after us: lazy).
    async def _recording_link(self, call_ids: list[str]) -> str | None:
        for part in getattr(self.layer, "parts", None) or ():
            link_of = getattr(part, "recording_link", None)
            if link_of is not None:
                return await link_of(call_ids)
        return None

    def _on_recording_ready(self, _topic: str, ready: Any) -> None:
        if all(hasattr(ready, f) for f in ("uniqueid", "linkedid", "link", "duration", "sha256", "size", "format")):
            self._spawn_task(self._recording_ready(ready))
        else:
            log.error("tickets: %s message without the RecordingReady fields ignored", _topic)

    async def _recording_ready(self, ready: Any) -> None:
        try:
            await self.tickets.recording_ready(ready)
        except Exception:
            log.exception("tickets: queueing recording.ready for call %s failed", ready.uniqueid)

    def _on_request(self, _topic: str, request: TicketRequest) -> None:
        self._spawn(request.create_kwargs())

    def _on_ivr_session(self, _topic: str, session: ivr_record.IvrSession) -> None:
        """A finished IVR session: a 'dissatisfied' survey rating makes a survey ticket."""
        if session.rating is not Rating.DISSATISFIED or not self.settings.survey_tickets:
            return
        types = self.settings.request_types
        request = TicketRequest(
            request_type="complaint" if "complaint" in types else types[0], source="survey",
            caller_number=session.caller, call_ids=(session.uniqueid,) if session.uniqueid else (),
            hotline=session.hotline or None, ivr_path=tuple(str(step) for step in session.path),
            tags=session.tags, rating=session.rating,
            summary=f"满意度回访：{session.rating.text} (survey rating: {session.rating.label})")
        self._spawn(request.create_kwargs())
