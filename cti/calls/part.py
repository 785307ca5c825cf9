"""The call-control part of the layer: ``cti.calls.part:CallsPart(layer)``."""

from __future__ import annotations

import logging
from pathlib import Path
from zoneinfo import ZoneInfo

from cti.ami import TOPIC_EVENT, TOPIC_RESYNCED
from cti.calendar import WorkCalendar
from cti.calls.agents import Agents
from cti.calls.api import AgentHub, CallsApi
from cti.calls.service import CallControl
from cti.calls.settings import CallsSettings
from cti.calls.specialist_calls import SpecialistCalls
from cti.hotlines import load_directory
from cti.specialists import SpecialistDirectory, load_specialists
from ivr_flows.record import TOPIC_SESSION as TOPIC_IVR_SESSION

log = logging.getLogger(__name__)
DEFAULT_SPECIALISTS = Path("config/specialists.yaml")


class CallsPart:
    """Loads the hotline directory (a bad file stops the start with file:line), then serves the desktop."""

    def __init__(self, layer) -> None:
        self.layer = layer
        self.settings = s = getattr(layer.settings, "calls", None) or CallsSettings()
        flows = getattr(layer.settings, "flows", None)
        self.directory = load_directory(s.hotlines_file)
        self.calendar = WorkCalendar.from_file(getattr(flows, "calendar_override", None),
                                               hours=getattr(flows, "working_hours", None),
                                               warn_days=getattr(flows, "calendar_warn_days", 90))
        tz = ZoneInfo(getattr(flows, "timezone", "Asia/Shanghai"))
        self.control = CallControl(layer.bus, layer.ami, self.directory, self.calendar, tz, s)
        self.agents = Agents(self.control)
        self.hub = AgentHub(layer.bus)
        self.specialists = SpecialistCalls(self.control, self.load_specialists(layer.settings))
        self.api = CallsApi(self.control, self.agents, self.hub, self.specialists)
        layer.bus.subscribe(TOPIC_EVENT, self.control.on_ami_event)
        layer.bus.subscribe(TOPIC_RESYNCED, self.control.on_resynced)
        layer.bus.subscribe(TOPIC_IVR_SESSION, self.control.on_ivr_session)

    def load_specialists(self, settings) -> SpecialistDirectory | None:
        """The specialist directory (settings ``specialists``), checked against the hotlines and the flows;
        a bad file raises (SpecialistError: file:line of each problem), a missing one turns the feature off."""
        path = Path(getattr(settings, "specialists", None) or DEFAULT_SPECIALISTS)
        if not path.exists():
            log.warning("calls: no specialist directory at %s: three-way calls to specialists are off", path)
            return None
        flows = getattr(settings, "flows", None)
        return load_specialists(path, self.directory, getattr(flows, "flows_dir", None))

    def reload(self, settings) -> None:
        """SIGHUP: read the hotline directory and the specialist directory again, both checked before
        either is swapped in; a bad file raises and the ones in force stay (cti/app.py logs why)."""
        hotlines = load_directory((getattr(settings, "calls", None) or self.settings).hotlines_file)
        in_force, self.directory = self.directory, hotlines    # specialists are checked against the new one
        try:
            directory = self.load_specialists(settings)
        except Exception:
            self.directory = in_force
            raise
        self.control.directory = hotlines
        if directory is not None:
            self.specialists.reload(directory)

    def setup_web(self, app) -> None:
        self.api.setup(app)

    async def start(self) -> None:
        # After hours a transfer request becomes a ticket: through the tickets part when it runs here.
        tickets = next((p.tickets for p in getattr(self.layer, "parts", ())
                        if hasattr(getattr(p, "tickets", None), "create")), None)
        self.control.make_ticket = tickets.create if tickets is not None else None
        if tickets is None:
            log.info("calls: no tickets part; after-hours requests go out on the bus (tickets.request)")

    async def stop(self) -> None:
        await self.hub.close()
        await self.control.drain()
