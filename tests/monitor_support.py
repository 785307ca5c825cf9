"""Helpers for the queue monitor tests: a layer with the monitor part against the PBX simulator."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from waiting import until  # noqa: F401  (the tests import it from here)

from cti.app import Layer
from cti.settings import Settings
from queue_monitor.cli import add_parser
from queue_monitor.part import MonitorPart


def monitor_settings(tmp_path: Path, ami_port: int, **monitor) -> Settings:
    s = Settings(data_dir=tmp_path)
    return s.model_copy(update={
        "ami": s.ami.model_copy(update={"port": ami_port, "reconnect_min": 0.05, "reconnect_max": 0.2}),
        "agi": s.agi.model_copy(update={"port": 0}),
        "http": s.http.model_copy(update={"port": 0, "token": "wall-token"}),
        "monitor": s.monitor.model_copy(update={
            "database_url": f"sqlite+aiosqlite:///{tmp_path / 'monitor.db'}", "push_interval": 0.05,
            "refresh_seconds": 0.5, **monitor}),
    })


async def start_layer(settings: Settings, sim) -> tuple[Layer, MonitorPart]:
    layer = Layer(settings, parts=[MonitorPart])
    await layer.start()
    sim.config.agi_port = layer.agi.port
    await layer.ami.wait_connected(5)
    return layer, layer.parts[0]




def originate(layer: Layer, exten: str = "silent", number: str = "13800000001"):
    return layer.ami.action({"Action": "Originate", "Async": "true", "Channel": "Local/12345@from-pstn",
                             "Context": "caller", "Exten": exten, "Priority": 1,
                             "CallerID": f'"Citizen" <{number}>', "Timeout": 30000})


async def cti_report(tmp_path: Path, capsys, *args: str, tickets_url: str = "") -> str:
    """`cti report ARGS` on the monitor database a test layer wrote (tmp_path/monitor.db) and its tickets database
    (the dispositions: ``tickets_url``, by default tmp_path/cti.db): its output."""
    config = tmp_path / "cti.yaml"
    tickets_url = tickets_url or f"sqlite+aiosqlite:///{tmp_path / 'cti.db'}"
    config.write_text(f"monitor:\n  database_url: sqlite+aiosqlite:///{tmp_path / 'monitor.db'}\n"
                      f"tickets:\n  database_url: {tickets_url}\n")
    parser = argparse.ArgumentParser()
    parser.add_argument("--config")
    add_parser(parser.add_subparsers())
    parsed = parser.parse_args(["--config", str(config), "report", *args])
    assert await asyncio.to_thread(parsed.func, parsed) == 0
    return capsys.readouterr().out
