"""The IVR part of the layer: loads config/flows/, hot-reloads it, serves the ``ivr`` and ``survey``
AGI handlers, publishes each finished session on the bus (``ivr.session``), and watches the end of
the work calendar's known range.

Wiring (cti/app.py default_parts): ``from ivr_flows.part import FlowsPart``.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from pathlib import Path
from zoneinfo import ZoneInfo

from aiohttp import web

from cti.calendar import CalendarError, WorkCalendar
from ivr_flows.engine import FlowEngine
from ivr_flows.interpreter import Interpreter
from ivr_flows.loader import context_from_settings
from ivr_flows.store import FlowStore

log = logging.getLogger("ivr_flows")

CALENDAR_CHECK_INTERVAL = 6 * 3600.0  # the range warning is repeated in the log four times a day


def build_calendar(settings) -> WorkCalendar:
    """The work calendar from the ``flows:`` settings; a broken override file is logged, not fatal."""
    try:
        return WorkCalendar.from_file(Path(settings.calendar_override), settings.working_hours,
                                      settings.calendar_warn_days)
    except CalendarError as exc:
        log.error("calendar override ignored: %s", exc)
        return WorkCalendar.from_file(None, settings.working_hours, settings.calendar_warn_days)


def build_store(settings) -> FlowStore:
    return FlowStore(Path(settings.flows_dir), lambda: context_from_settings(settings),
                     (settings.entry_flow, settings.survey_flow))


def build_engine(settings, store: FlowStore, calendar: WorkCalendar, bus=None, clock=time.time) -> FlowEngine:
    interpreter = Interpreter(calendar, settings.default_queue, settings.max_steps, settings.max_goto_depth)
    return FlowEngine(store, interpreter, bus=bus, timezone=settings.timezone, clock=clock,
                      entry_flow=settings.entry_flow, survey_flow=settings.survey_flow,
                      default_queue=settings.default_queue)


def process_agi_registry(settings):
    """The ``ivr`` and ``survey`` handlers for ``cti agi-script`` (one call per process, no bus)."""
    from cti.agi import default_registry

    store = build_store(settings)
    store.reload()
    engine = build_engine(settings, store, build_calendar(settings))
    registry = default_registry()
    registry.add("ivr", engine.ivr)
    registry.add("survey", engine.survey)
    return registry


class FlowsPart:
    def __init__(self, layer) -> None:
        self.settings = layer.settings.flows
        self.calendar = build_calendar(self.settings)
        self.store = build_store(self.settings)
        self.store.reload()  # loaded before the AGI server starts taking calls
        self.engine = build_engine(self.settings, self.store, self.calendar, bus=layer.bus)
        layer.registry.add("ivr", self.engine.ivr)        # replaces the built-in placeholder
        layer.registry.add("survey", self.engine.survey)
        self._calendar_task: asyncio.Task | None = None

    async def start(self) -> None:
        self.store.start_watching(self.settings.reload_interval)
        self._calendar_task = asyncio.get_running_loop().create_task(self._watch_calendar())

    def reload(self, settings) -> None:
        """SIGHUP (cti/app.py): load the flow files now, with the prompt catalogue and hotline directory
        they are checked against; a rejected set raises and the version in service keeps serving.
        Calls keep the version they started with (store.py). The ``flows:`` settings themselves (folders,
        working hours, queues) are read at start only: a change to them is logged as waiting for a restart."""
        changed = [key for key in type(self.settings).model_fields
                   if getattr(settings.flows, key) != getattr(self.settings, key)]
        if changed:
            log.warning("SIGHUP: flows settings %s changed: they take effect at the next restart", ", ".join(changed))
        if not self.store.reload() and self.store.last_errors:
            version = self.store.current.version if self.store.current else None
            raise ValueError(f"flows in {self.store.flows_dir} rejected ({len(self.store.last_errors)} error(s), "
                             f"logged above); version {version} keeps serving")

    async def _watch_calendar(self) -> None:
        tz = ZoneInfo(self.settings.timezone)
        while True:
            self.calendar.check_range(dt.datetime.now(tz).date())
            await asyncio.sleep(CALENDAR_CHECK_INTERVAL)

    async def stop(self) -> None:
        await self.store.stop()
        if self._calendar_task is not None:
            self._calendar_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._calendar_task

    def setup_web(self, app: web.Application) -> None:
        app.router.add_get("/api/flows", self._status)

    async def _status(self, _request: web.Request) -> web.Response:
        first, last = self.calendar.known_range
        return web.json_response({
            **self.store.status(),   # version, since, flows, rejected, history
            "calendar": {"known_from": str(first), "known_to": str(last),
                         "warning": self.calendar.range_warning(dt.date.today())},
            "sessions": self.engine.sessions,
        })
