"""The CTI layer process: AMI session, FastAGI server and the live summary on one event bus."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from cti.agi.builtin import default_registry
from cti.agi.server import FastAgiServer
from cti.ami import TOPIC_EVENT, TOPIC_RESYNCED, TOPIC_STATE, AmiClient
from cti.bus import EventBus
from cti.settings import Settings
from queue_monitor.summary import LiveSummary

log = logging.getLogger(__name__)


class Layer:
    """Everything `cti run` starts; built from settings alone."""

    def __init__(self, settings: Settings, bus: EventBus | None = None) -> None:
        self.settings = settings
        self.bus = bus or EventBus()
        self.summary = LiveSummary(service_level=settings.monitor.service_level_seconds)
        self.bus.subscribe(TOPIC_EVENT, lambda _t, event: self.summary.on_event(event))
        self.bus.subscribe(TOPIC_RESYNCED, lambda _t, snap: self.summary.on_resync(snap.queue_status))
        self.bus.subscribe(TOPIC_STATE, lambda _t, state: log.info("AMI session %s %s", *state))
        self.ami: AmiClient | None = None
        self.agi: FastAgiServer | None = None

    async def start(self) -> None:
        s = self.settings
        s.data_dir.mkdir(parents=True, exist_ok=True)
        self.agi = FastAgiServer(
            default_registry(), host=s.agi.bind, port=s.agi.port, allow=s.agi.allow,
            command_timeout=s.agi.command_timeout,
        )
        await self.agi.start()
        log.info("FastAGI listening on %s:%s", s.agi.bind, self.agi.port)
        self.ami = AmiClient(
            self.bus, host=s.ami.host, port=s.ami.port, username=s.ami.username, secret=s.ami.secret,
            action_timeout=s.ami.action_timeout, connect_timeout=s.ami.connect_timeout,
            ping_interval=s.ami.ping_interval, reconnect_min=s.ami.reconnect_min,
            reconnect_max=s.ami.reconnect_max,
        )
        await self.ami.start(wait=False)  # reconnects in the background until Asterisk answers

    async def stop(self) -> None:
        if self.agi is not None:
            await self.agi.stop(self.settings.agi.shutdown_grace)
        if self.ami is not None:
            await self.ami.close()


async def run(settings: Settings, stop: asyncio.Event, print_line: Callable[[str], None] = print) -> int:
    """Run until ``stop`` is set; print the live summary every ``monitor.summary_interval`` seconds."""
    layer = Layer(settings)
    await layer.start()
    try:
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), settings.monitor.summary_interval)
            except TimeoutError:
                state = layer.ami.state if layer.ami else "-"
                print_line(f"[AMI {state}] {layer.summary.line()}")
    finally:
        await layer.stop()
    return 0
