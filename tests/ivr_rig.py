"""The IVR engine on a real FastAGI server, called by the PBX simulator's scripted callers."""

from __future__ import annotations

import contextlib
import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

from cti.agi import AgiServer, Registry
from cti.bus import EventBus
from cti.simulator import QueueConfig, SimConfig, Simulator
from cti.simulator.scripted import ScriptedCaller, place_scripted_call
from ivr_flows.engine import FlowEngine
from ivr_flows.loader import read_catalogue
from ivr_flows.part import build_calendar, build_engine, build_store
from ivr_flows.record import TOPIC_SESSION, IvrSession
from ivr_flows.settings import FlowsSettings
from ivr_flows.store import FlowStore

ROOT = Path(__file__).resolve().parents[1]
FLOWS = ROOT / "config" / "flows"
PROMPTS = ROOT / "config" / "prompts"
TZ = ZoneInfo("Asia/Shanghai")
SECONDS = {name: float(entry.get("seconds", 2.0)) for name, entry in read_catalogue(PROMPTS).items()}

# Dates with a known meaning for the work calendar (10:00 local time, inside working hours).
WORKDAY = "2026-03-02T10:00"          # Monday
SUNDAY = "2026-03-01T10:00"
MAKEUP_SATURDAY = "2026-02-14T10:00"  # 调休上班 before the 2026 Spring Festival
NATIONAL_DAY = "2026-10-01T10:00"     # Thursday, statutory holiday
OVERRIDE_2027_HOLIDAY = "2027-02-08T10:00"  # Monday, Spring Festival 2027: known from the override file only
WEEKDAY_NIGHT = "2026-03-02T21:00"


def epoch(when: str) -> float:
    return dt.datetime.fromisoformat(when).replace(tzinfo=TZ).timestamp()


def flows_settings(flows_dir: Path = FLOWS, **kw) -> FlowsSettings:
    return FlowsSettings(flows_dir=flows_dir, prompts_dir=PROMPTS,
                         calendar_override=ROOT / "config" / "calendar-override.yaml",
                         hotlines_file=ROOT / "config" / "no-hotline-directory.yaml", **kw)


@dataclass
class Rig:
    sim: Simulator
    server: AgiServer
    store: FlowStore
    engine: FlowEngine
    records: list[IvrSession] = field(default_factory=list)

    def call(self, steps: list[tuple], caller: str = "13800000001", exten: str = "12345") -> ScriptedCaller:
        return place_scripted_call(self.sim, steps, caller, exten)

    def record_of(self, caller: ScriptedCaller, script: str = "ivr") -> IvrSession:
        uid = caller.call.pstn.uniqueid
        return next(r for r in self.records if r.uniqueid == uid and r.script == script)

    @staticmethod
    def channel_vars(caller: ScriptedCaller) -> dict[str, str]:
        return dict(caller.call.pstn.variables)


@contextlib.asynccontextmanager
async def rig(when: str = WORKDAY, flows_dir: Path = FLOWS, speed: float = 50.0, bus: EventBus | None = None,
              **settings):
    """``bus``: a layer's bus, so its parts consume the sessions (default: a bus of the rig's own)."""
    s = flows_settings(flows_dir, **settings)
    bus = bus or EventBus()
    records: list[IvrSession] = []
    bus.subscribe(TOPIC_SESSION, lambda _t, record: records.append(record))
    store = build_store(s)
    store.reload()
    sim = Simulator(SimConfig(
        ami_port=0, agi_port=1, speed=speed, seed=7, start_epoch=epoch(when), prompts=dict(SECONDS),
        queues=[QueueConfig("public", ["6001", "6002"], timeout=20, retry=1),
                QueueConfig("enterprise", ["6101"], timeout=12, retry=1),
                QueueConfig("supervision", ["6201"], timeout=12, retry=1)]))
    engine = build_engine(s, store, build_calendar(s), bus=bus, clock=sim.clock.now)
    registry = Registry()
    registry.add("ivr", engine.ivr)
    registry.add("survey", engine.survey)
    server = AgiServer(registry, port=0, shutdown_grace=1.0)
    await server.start()
    sim.config.agi_port = server.port
    await sim.start()
    try:
        yield Rig(sim, server, store, engine, records)
    finally:
        await sim.stop()
        await server.stop(1.0)
        await store.stop()
