"""A 12345 centre for the call-control tests: the PBX simulator and a layer running cti.calls."""

from __future__ import annotations

from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from waiting import until  # noqa: F401  (the tests import it from here)

from cti.app import Layer
from cti.calls.part import CallsPart
from cti.settings import Settings
from cti.simulator import SimConfig, Simulator
from cti.simulator.config import DepartmentTiming

ROOT = Path(__file__).resolve().parents[1]


def settings_for(tmp_path: Path, ami_port: int) -> Settings:
    s = Settings(data_dir=tmp_path)
    return s.model_copy(update={
        "ami": s.ami.model_copy(update={"port": ami_port, "reconnect_min": 0.05, "reconnect_max": 0.2}),
        "agi": s.agi.model_copy(update={"port": 0}),
        "http": s.http.model_copy(update={"port": 0, "token": "desk-token"}),
        "flows": s.flows.model_copy(update={
            "flows_dir": ROOT / "config/flows", "prompts_dir": ROOT / "config/prompts",
            "hotlines_file": ROOT / "config/hotlines.yaml",
            "calendar_override": ROOT / "config/calendar-override.yaml"}),
    })




@dataclass
class Centre:
    sim: Simulator
    layer: Layer
    part: CallsPart
    events: list = field(default_factory=list)
    transfers: list = field(default_factory=list)
    pops: list = field(default_factory=list)

    @property
    def control(self):
        return self.part.control

    def department(self, number: str, **timing) -> None:
        self.sim.config.departments[number] = DepartmentTiming(**timing)

    async def citizen(self, number: str = "13800000002", exten: str = "99", script: str = "silent") -> str:
        """A caller reaches an agent; returns the call id once the layer knows the call."""
        known = set(self.control.tracker.calls)
        await self.layer.ami.action({"Action": "Originate", "Channel": f"Local/{exten}@from-pstn",
                                     "Context": "caller", "Exten": script, "Priority": 1,
                                     "CallerID": f'"Citizen" <{number}>', "Timeout": 30000})
        def mine() -> list[str]:     # another test caller may reach an agent at the same moment
            return [i for i, call in self.control.tracker.calls.items() if i not in known and call.caller == number]
        await until(mine, 10)
        return mine()[0]

    async def state(self, call_id: str, *states: str, timeout: float = 10.0):
        call = self.control.tracker.get(call_id)
        transfer = call.transfer if call else None
        if transfer is None:
            transfer = next(t for t in reversed(self.transfers) if t.call_id == call_id)
            raise AssertionError(f"no live transfer on {call_id}: last published {transfer}")
        await until(lambda: transfer.state in states, timeout)
        return transfer

    async def channels(self) -> dict[str, dict]:
        reply = await self.layer.ami.action({"Action": "CoreShowChannels"})
        return {m["Channel"]: dict(m) for m in reply if m.name == "CoreShowChannel"}


@asynccontextmanager
async def centre(tmp_path: Path, parts=(), speed: float = 40, configure=None, **sim):
    """``configure(settings) -> settings``: changes a test needs (a webhook receiver, a short window...)."""
    simulator = Simulator(SimConfig(ami_port=0, agi_port=1, speed=speed, seed=1, **sim))
    await simulator.start()
    for agent in ("6001", "6002", "6101"):
        simulator.pbx.set_agent(agent, 1, 3600)        # agents answer after 1 s and stay on the line
    simulator.config.default_department = DepartmentTiming(answer_delay=3, talk_time=3600)
    settings = settings_for(tmp_path, simulator.ami_port)
    layer = Layer(configure(settings) if configure else settings, parts=[*parts, CallsPart])
    part = layer.parts[-1]
    c = Centre(simulator, layer, part)
    layer.bus.subscribe("ami.event", lambda _t, m: c.events.append(m))
    layer.bus.subscribe("calls.transfer", lambda _t, m: c.transfers.append(m))
    layer.bus.subscribe("calls.screen_pop", lambda _t, m: c.pops.append(m))
    await layer.start()
    simulator.config.agi_port = layer.agi.port
    try:
        await layer.ami.wait_connected(5)
        yield c
    finally:
        await layer.stop()
        await simulator.stop()
