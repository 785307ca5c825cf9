"""A centre for the outbound tests: the simulator with its outbound additions and a layer with the outbound part."""

from __future__ import annotations

from contextlib import asynccontextmanager
from pathlib import Path

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
