"""The dispositions part of the layer: ``cti.dispositions.part:DispositionsPart(layer)``.

Listens to the end of answered calls (``calls.call_ended``), survey ratings (``ivr.session``) and specialist
legs (``calls.specialist_leg``); serves the routes of cti/dispositions/api.py; sweeps calls whose wrap-up
window passed. Its rows live in the tickets database, its messages go out through the tickets outbox
(the tickets part's dispatcher delivers them, in this process or another).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from pathlib import Path

from cti.calls.messages import TOPIC_CALL_ENDED, TOPIC_SPECIALIST_LEG, CallEnded, SpecialistLeg
from cti.dispositions.api import DispositionsApi, openapi_paths  # noqa: F401  (cti/openapi_routes.py)
from cti.dispositions.service import DispositionService, LiveCall
from cti.dispositions.settings import DispositionsSettings
from cti.specialists import PUBLIC_LINE as PUBLIC
from cti.specialists import SpecialistDirectory, load_specialists
from cti.tickets.db import ensure, make_engine
from ivr_flows.record import TOPIC_SESSION as TOPIC_IVR_SESSION

log = logging.getLogger(__name__)

DEFAULT_SPECIALISTS = Path("config/specialists.yaml")


def load_lines(settings) -> SpecialistDirectory | None:
    """The specialist directory whose ``line_for`` names a call's line; None when its file is absent (every
    call is then on the public line). A bad file raises SpecialistError."""
    path = Path(getattr(settings, "specialists", None) or DEFAULT_SPECIALISTS)
    return load_specialists(path) if path.exists() else None


class DispositionsPart:
    def __init__(self, layer) -> None:
        self.layer = layer
        s = layer.settings
        self.settings = getattr(s, "dispositions", None) or DispositionsSettings()
        self.engine = make_engine(s.tickets.database_url)
        self.lines = load_lines(s)
        self.service = DispositionService(self.engine, self.settings, s.tickets.request_types, layer.bus,
                                          line_of=self.line_of, line_name=self.line_name,
                                          recording_base_url=s.tickets.recording_base_url,
                                          instance=s.monitor.instance or socket.gethostname())
        self.api = DispositionsApi(self.service, self.live_call)
        self._sweep: asyncio.Task | None = None
        self._pending: set[asyncio.Task] = set()
        layer.bus.subscribe(TOPIC_CALL_ENDED, self._on_call_ended)
        layer.bus.subscribe(TOPIC_IVR_SESSION, self._on_ivr_session)
        layer.bus.subscribe(TOPIC_SPECIALIST_LEG, self._on_specialist_leg)

    # -- lines ------------------------------------------------------------------------------------------
    def directory(self) -> SpecialistDirectory | None:
        """The calls part's specialist directory when it runs here (its SIGHUP reload applies), else ours."""
        for part in self._parts():
            found = getattr(getattr(part, "specialists", None), "directory", None)
            if isinstance(found, SpecialistDirectory):
                return found
        return self.lines

    def line_of(self, queue: str, tags) -> tuple[str, str]:
        directory = self.directory()
        line = directory.line_for(queue or None, tags) if directory is not None else PUBLIC
        return line.id, line.name

    def line_name(self, line_id: str) -> str:
        directory = self.directory()
        found = next((x for x in (directory.lines if directory else ()) if x.id == line_id), None)
        return found.name if found else (PUBLIC.name if line_id == PUBLIC.id else line_id)

    def reload(self, settings) -> None:
        """SIGHUP: read the specialists file again; a bad file raises and the old lines stay in force."""
        self.lines = load_lines(settings)

    # -- other parts, looked up when needed (they may start after us) -----------------------------------
    def _parts(self):
        return getattr(self.layer, "parts", None) or ()

    def live_call(self, call_id: str) -> LiveCall | None:
        """The call as call control still holds it (connected, or just ended), None when it does not."""
        for part in self._parts():
            control = getattr(part, "control", None)
            call = control.tracker.get(call_id) if hasattr(control, "tracker") else None
            if call is not None and call.agent:   # an ended one too: its end may not be stored yet
                hotline, tags = control.hotline_and_tags(call)
                return LiveCall(call.id, call.agent, call.caller, call.queue, hotline, tuple(tags), call.connected_at)
        return None

    async def _recording_link(self, call_ids: list[str]) -> str | None:
        for part in self._parts():
            link_of = getattr(part, "recording_link", None)
            if link_of is not None:
                return await link_of(call_ids)
        return None

    def _wake(self) -> None:
        for part in self._parts():
            dispatcher = getattr(part, "dispatcher", None)
            if dispatcher is not None and hasattr(dispatcher, "wake"):
                dispatcher.wake()

    # -- bus --------------------------------------------------------------------------------------------
    def _spawn(self, coro) -> None:
        task = asyncio.ensure_future(coro)
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    def _on_call_ended(self, _topic: str, ended: CallEnded) -> None:
        self._spawn(self._call_ended(ended))

    async def _call_ended(self, ended: CallEnded) -> None:
        try:
            await self.service.call_ended(ended)
        except Exception:
            log.exception("dispositions: storing the end of call %s failed", ended.call_id)

    def _on_ivr_session(self, _topic: str, session) -> None:
        if session.rating is not None and session.uniqueid:
            self.service.remember_rating(session.uniqueid, int(session.rating))

    def _on_specialist_leg(self, _topic: str, leg: SpecialistLeg) -> None:
        if leg.answered:
            self.service.remember_leg(leg)

    # -- lifecycle --------------------------------------------------------------------------------------
    def setup_web(self, app) -> None:
        self.api.setup(app)

    async def start(self) -> None:
        await ensure(self.engine)   # the tickets schema at head (cti.schema): its migration 0004 made our tables
        self.service.recording_link = self._recording_link
        self.service.on_enqueued = self._wake
        self._sweep = asyncio.create_task(self._sweep_loop(), name="dispositions-sweep")

    async def _sweep_loop(self) -> None:
        while True:
            try:
                await self.service.expire()
            except Exception:
                log.exception("dispositions: the wrap-up window sweep failed")
            await asyncio.sleep(self.settings.expire_interval)

    async def stop(self) -> None:
        if self._sweep is not None:
            self._sweep.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweep
        if self._pending:
            await asyncio.wait(self._pending, timeout=5)
        await self.engine.dispose()
