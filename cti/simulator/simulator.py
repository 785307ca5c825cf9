"""The simulator facade: PBX core + AMI server + FastAGI client + traffic, on one clock.

    sim = Simulator(SimConfig(ami_port=0, speed=10))
    await sim.start()            # sim.ami_port is the bound port
    sim.start_traffic(nantong_traffic())
    ...
    sim.totals()                 # offered / answered / abandoned / timed_out / ivr_hangup / in_progress
    await sim.stop()
"""

from __future__ import annotations

import asyncio
import logging
import random
from pathlib import Path

from .agi_client import run_agi
from .ami_server import AmiServer
from .clock import Clock, LockstepClock
from .config import SimConfig
from .manager_conf import ManagerUser, load_manager_users
from .pbx import Pbx
from .queue_log import QueueLog

log = logging.getLogger(__name__)


class Simulator:
    def __init__(self, config: SimConfig | None = None, traffic=None) -> None:
        self.config = config or SimConfig()
        if self.config.seed is not None:
            self.config.rng.seed(self.config.seed)
            random.seed(self.config.seed)
        clock = LockstepClock if self.config.lockstep else Clock
        self.clock = clock(self.config.speed, self.config.start_epoch)
        self.queue_log = QueueLog(self.config.queue_log, self.clock)
        self.pbx: Pbx | None = None
        self.ami: AmiServer | None = None
        self.traffic_profile = traffic
        self._traffic = None

    @property
    def ami_port(self) -> int:
        return self.ami.port if self.ami else self.config.ami_port

    async def start(self) -> None:
        cfg = self.config
        self.pbx = Pbx(cfg, self.clock, self.queue_log)
        self.pbx.agi_runner = lambda ch, url: run_agi(self.pbx, ch, url)
        if cfg.recording_dir:
            from .recording import CallRecorder
            self.recorder = CallRecorder(cfg.recording_dir).attach(self.pbx)
        self.queue_log.write("NONE", "NONE", "NONE", "QUEUESTART", "")
        users = load_manager_users(cfg.manager_conf) if cfg.manager_conf and Path(cfg.manager_conf).is_file() else {}
        users.update({name: ManagerUser(name, secret) for name, secret in cfg.extra_users.items()})
        self.ami = AmiServer(self.pbx, cfg.host, cfg.ami_port, cfg.username, cfg.secret, users)
        await self.ami.start()
        log.info("PBX simulator: AMI on %s:%d, FastAGI to %s:%d, speed x%g", cfg.host, self.ami.port,
                 cfg.agi_host, cfg.agi_port, cfg.speed)
        if self.traffic_profile is not None:
            self.start_traffic(self.traffic_profile)

    def start_traffic(self, profile, max_calls: int | None = None) -> None:
        """Start arrivals; with ``max_calls`` they stop after that many calls (a fixed workload)."""
        from .traffic import TrafficGenerator
        self.stop_traffic()
        self._traffic = TrafficGenerator(self.pbx, profile, seed=self.config.seed, max_calls=max_calls)
        self._traffic.start()

    def stop_traffic(self) -> None:
        if self._traffic is not None:
            self._traffic.stop()
            self._traffic = None

    def totals(self) -> dict[str, int]:
        """Outcome counts; ``active`` is the calls whose channels still exist (talking included)."""
        if self.pbx is None:
            return {}
        return {**self.pbx.totals.as_dict(), "active": len(self.pbx.calls)}

    async def stop(self) -> None:
        self.stop_traffic()
        if self.ami is not None:
            await self.ami.stop()
        if self.pbx is not None:
            tasks = list(self.pbx.tasks)
            for t in tasks:
                t.cancel()
            if tasks:
                await asyncio.wait(tasks, timeout=2)
        self.clock.close()

    async def __aenter__(self) -> Simulator:
        await self.start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.stop()
