"""Fixtures of the real-switch suite: a private Asterisk 22 per test and the whole layer against it.

Without a build the suite is skipped with the reason, except where ``CTI_TEST_REQUIRE_ASTERISK=1`` (set by
``.ci/run``): there a missing Asterisk fails every test of the suite, never a silent skip.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from cti.app import Layer
from cti.settings import Settings
from real_asterisk.switch import ROOT, Switch, find_lab, free_port

SHANGHAI = ZoneInfo("Asia/Shanghai")
# A working Wednesday morning: key 2 reaches 一企来 and departments answer, whatever the hour of the run.
WORKING_MORNING = dt.datetime(2026, 3, 4, 10, 0, tzinfo=SHANGHAI)
TOKEN = "real-switch-token"


@pytest.fixture(scope="session")
def lab() -> Path:
    found = find_lab()
    if found is None:
        reason = ("no Asterisk 22 for the real-switch suite: set CTI_TEST_ASTERISK to an asterisk-lab script, "
                  "or put the build in ../shared/asterisk-22/")
        if os.environ.get("CTI_TEST_REQUIRE_ASTERISK") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    return found


@pytest.fixture(scope="session")
def prompt_audio(tmp_path_factory) -> Path:
    """Every catalogue prompt synthesized once per run (``cti prompts synth``), for Asterisk to play."""
    out = tmp_path_factory.mktemp("prompts")
    done = subprocess.run([sys.executable, "-m", "cti.cli", "prompts", "synth", str(out)], capture_output=True,
                          text=True, cwd=ROOT, timeout=600)
    assert done.returncode == 0, f"cti prompts synth failed: {done.stdout}{done.stderr}"
    return out


@pytest.fixture
def switch(lab, prompt_audio, tmp_path):
    """A fresh Asterisk 22 with the shipped snippets, stopped after the test."""
    sw = Switch(lab, tmp_path / "asterisk", free_port(), free_port(), sounds=prompt_audio)
    sw.start()
    yield sw
    sw.stop()


def hotlines_for_tests(tmp_path: Path) -> Path:
    """The shipped hotline directory, with departments dialled as the suite's Local phones."""
    data = yaml.safe_load((ROOT / "config" / "hotlines.yaml").read_text(encoding="utf-8"))
    data.setdefault("defaults", {})["dial"] = "Local/{number}@test-dept"
    for entry in data.get("hotlines", []):
        entry.pop("dial", None)
    path = tmp_path / "hotlines.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def layer_settings(switch: Switch, tmp_path: Path, **sections) -> Settings:
    """The layer's settings against ``switch``: shipped defaults, the shipped AMI user, loopback ports."""
    s = Settings(data_dir=tmp_path / "layer")
    hotlines = hotlines_for_tests(tmp_path)
    update = {
        "ami": s.ami.model_copy(update={"port": switch.ami_port, "reconnect_min": 0.05, "reconnect_max": 0.5}),
        "agi": s.agi.model_copy(update={"port": switch.agi_port}),
        "http": s.http.model_copy(update={"port": 0, "token": TOKEN}),
        "flows": s.flows.model_copy(update={
            "flows_dir": ROOT / "config/flows", "prompts_dir": ROOT / "config/prompts",
            "hotlines_file": hotlines, "calendar_override": ROOT / "config/calendar-override.yaml"}),
        "calls": s.calls.model_copy(update={"hotlines_file": hotlines}),
        "recordings": s.recordings.model_copy(update={"capture_dir": switch.monitor_dir}),
    }
    for name, values in sections.items():
        update[name] = getattr(s, name).model_copy(update=values)
    return s.model_copy(update=update)


def pin_clocks(layer: Layer, when: dt.datetime = WORKING_MORNING) -> None:
    """The flows' and call control's working-hours clocks read ``when`` (Asterisk keeps real time)."""
    from cti.calls.part import CallsPart
    from ivr_flows.part import FlowsPart

    for part in layer.parts:
        if isinstance(part, FlowsPart):
            part.engine.clock = when.timestamp
        if isinstance(part, CallsPart):
            part.control.clock = lambda: when


@contextlib.asynccontextmanager
async def running_layer(switch: Switch, settings: Settings):
    """The whole layer with ``settings`` (see ``layer_settings``), logged in to ``switch``, the observer
    watching; stopped on exit. For tests that need overrides the ``layer`` fixture does not make."""
    from cti.ami import AmiState
    from real_asterisk.switch import until

    lay = Layer(settings)
    pin_clocks(lay)
    await lay.start()
    try:
        if switch.observer is None:
            await switch.observe()
        await until(lambda: lay.ami.state == AmiState.CONNECTED, 20, "the layer's AMI login",
                    lambda: lay.ami.state)
        yield lay
    finally:
        await lay.stop()
        if switch.observer is not None:
            await switch.observer.close()   # its frames stay readable for the test's last checks


@pytest.fixture
async def layer(switch, tmp_path):
    """The whole layer (`cti run`'s parts) logged in to ``switch`` with the shipped manager user."""
    async with running_layer(switch, layer_settings(switch, tmp_path)) as lay:
        yield lay
