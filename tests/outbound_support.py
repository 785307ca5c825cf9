"""A centre for the outbound tests: the simulator with its outbound additions and a layer with the outbound part."""

from __future__ import annotations

from contextlib import asynccontextmanager
from pathlib import Path
from types import SimpleNamespace

from calls_support import centre

from cti.outbound.part import OutboundPart
from cti.outbound.settings import OutboundSettings
from cti.simulator import outbound as sim_outbound
from cti.simulator.config import QueueConfig


def outbound_settings(tmp_path: Path, **kw) -> OutboundSettings:
    return OutboundSettings(database_url=f"sqlite+aiosqlite:///{tmp_path}/outbound.db", tick=0.05,
                            citizen_context="citizens", **kw)


@asynccontextmanager
async def outbound_centre(tmp_path: Path, settings: OutboundSettings, parts=(), speed: float = 40, **sim):
    queues = sim.pop("queues", None) or [QueueConfig("public", ["6001", "6002"], timeout=20, retry=1),
                                          QueueConfig("enterprise", ["6101"], timeout=12, retry=1),
                                          QueueConfig("linkage110", ["6201"], timeout=20, retry=1)]
    holder = {}

    def factory(layer):
        holder["part"] = OutboundPart(layer, settings)
        return holder["part"]

    async with centre(tmp_path, parts=(*parts, factory), speed=speed, queues=queues, **sim) as c:
        c.outbound = holder["part"]
        c.ext = sim_outbound.install(c.sim.pbx, settings.linkage_did, settings.linkage_queue)
        yield c


@asynccontextmanager
async def followup_centre(tmp_path: Path, settings: OutboundSettings, receiver, secret: str, speed: float = 40,
                          agents: tuple[str, ...] = ("6001", "6002"), **sim):
    """The simulator and a layer running the real tickets part (delivering to ``receiver``), the queue
    monitor (whose waiting callers pace the follow-ups) and the outbound part, as default_parts() orders
    them: tickets first, outbound last."""
    from calls_support import settings_for

    from cti.app import Layer
    from cti.simulator import SimConfig, Simulator
    from cti.tickets.part import TicketsPart
    from queue_monitor.part import MonitorPart

    simulator = Simulator(SimConfig(ami_port=0, agi_port=1, speed=speed, seed=1, **sim))
    await simulator.start()
    for agent in agents:
        simulator.pbx.set_agent(agent, 1, 3600)
    base = settings_for(tmp_path, simulator.ami_port)
    s = base.model_copy(update={"tickets": base.tickets.model_copy(update={
        "database_url": f"sqlite+aiosqlite:///{tmp_path / 'cti.db'}", "endpoint_url": receiver.url,
        "secrets": [secret], "poll_interval": 0.05}),
        "monitor": base.monitor.model_copy(update={"database_url": f"sqlite+aiosqlite:///{tmp_path / 'monitor.db'}"})})
    layer = Layer(s, parts=[TicketsPart, MonitorPart, lambda lay: OutboundPart(lay, settings)])
    c = SimpleNamespace(sim=simulator, layer=layer, tickets=layer.parts[0], monitor=layer.parts[1],
                        outbound=layer.parts[2], events=[])
    layer.bus.subscribe("ami.event", lambda _t, m: c.events.append(m))
    await layer.start()
    simulator.config.agi_port = layer.agi.port
    try:
        await layer.ami.wait_connected(5)
        c.ext = sim_outbound.install(simulator.pbx, settings.linkage_did, settings.linkage_queue)
        yield c
    finally:
        await layer.stop()
        await simulator.stop()


async def hand_over_from_110(c, settings: OutboundSettings) -> None:
    """The 110 centre hands a caller to 12345: a call on the linkage DID (outbound.linkage_did)."""
    await c.layer.ami.action({"Action": "Originate", "Channel": f"Local/{settings.linkage_did}@from-pstn",
                              "Context": "caller", "Exten": "silent", "Priority": 1,
                              "CallerID": '"110" <110>', "Timeout": 30000})
