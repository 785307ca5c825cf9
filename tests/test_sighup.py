"""SIGHUP (issue 22): a real `cti run` reloads flows and the hotline directory without dropping calls.

The layer runs as its own process on a config written by `cti init`, with the flow folder watch off
(flows.reload_interval 0) so that only the signal can reload. A call is held in the middle of the IVR
while the flow is edited and the layer gets SIGHUP: it finishes on the version it started with; the
next call plays the edited flow; after a broken flow file and a broken hotline file and another
SIGHUP, calls still get the last good flow, /api/hotlines the last good directory, and the log says
why each was kept.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys

import pytest
from agi_client import AgiPeer, env_lines
from install_support import TOKEN, get_json
from tickets_support import free_port
from waiting import until

FLOW = """flow: main
start: welcome
nodes:
  welcome: {{type: play, prompt: {prompt}, next: menu}}
  menu:
    type: menu
    greeting: cti12345/main-menu
    choices: {{"1": public, "2": enterprise, "9": supervision}}
    timeout: 5
    max_retries: 1
    exhausted: public
  public: {{type: queue, queue: public}}
  enterprise: {{type: goto, flow: yiqilai}}
  supervision: {{type: goto, flow: supervision}}
"""
RENAMED = "12345 政务服务便民热线（重载后）"


def _answer(command: str) -> str:
    """What Asterisk answers; the caller presses 1 at the first prompt that accepts it."""
    if command.startswith(("GET VARIABLE", "GET FULL VARIABLE")):
        return "200 result=0"
    if command.startswith("STREAM FILE"):
        return "200 result=49 endpos=800" if '"' in command and "1" in command.split('"')[1] else "200 result=0 endpos=8000"
    if command.startswith("GET DATA"):
        return "200 result=1"
    if command.startswith("WAIT FOR DIGIT"):
        return "200 result=49"
    return "200 result=1"


async def call(port: int, at_first_prompt=None) -> list[str]:
    """One call through the IVR over FastAGI, as Asterisk makes it; the commands the layer sent.
    ``at_first_prompt`` runs while the layer waits for the first prompt to be played."""
    peer = await AgiPeer.connect(port, timeout=30)
    await peer.send(*env_lines(f"agi://127.0.0.1:{port}/ivr", agi_callerid="13800138000"))
    commands: list[str] = []
    try:
        while line := (await asyncio.wait_for(peer.reader.readline(), 30)).decode().rstrip("\n"):
            commands.append(line)
            if at_first_prompt is not None and line.startswith("STREAM FILE"):
                await at_first_prompt()
                at_first_prompt = None
            await peer.send(_answer(line))
    finally:
        await peer.close()
    return commands


def prompts(commands: list[str]) -> list[str]:
    return [c.split()[2] for c in commands if c.startswith(("STREAM FILE", "GET DATA"))]


def version_of(commands: list[str]) -> str:
    return next(c.split()[-1].strip('"') for c in commands if c.startswith("SET VARIABLE __CTI_IVR_VERSION"))


@pytest.fixture
def layer(tmp_path):
    etc = tmp_path / "etc"
    subprocess.run([sys.executable, "-m", "cti.cli", "init", str(etc), "--data-dir", str(tmp_path / "data")],
                   check=True, capture_output=True, timeout=60)
    (etc / "flows" / "main.yaml").write_text(FLOW.format(prompt="cti12345/welcome"), encoding="utf-8")
    agi, http = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CTI_") or k.startswith("CTI_TEST_")}
    env.update(CTI_CONFIG=str(etc / "cti.yaml"), CTI_AMI_PORT=str(free_port()), CTI_AGI_PORT=str(agi),
               CTI_HTTP_PORT=str(http), CTI_HTTP_TOKEN=TOKEN, CTI_FLOWS_RELOAD_INTERVAL="0")
    log = tmp_path / "layer.log"
    with log.open("w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "cti.cli", "run"], cwd=tmp_path, env=env,
                                stdout=subprocess.DEVNULL, stderr=err)
    yield proc, etc, log, agi, f"http://127.0.0.1:{http}"
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)


async def test_sighup_reloads_flows_and_hotlines_keeps_calls_and_keeps_the_last_good_files(layer):
    proc, etc, log, agi, base = layer
    text = lambda: log.read_text(encoding="utf-8")   # noqa: E731
    await until(lambda: proc.poll() is not None or get_json(f"{base}/api/flows") is not None, timeout=60,
                what="the layer's HTTP API", seen=lambda: text()[-2000:])
    assert proc.poll() is None, text()[-3000:]
    first_version = get_json(f"{base}/api/flows")["version"]
    reloads = lambda: text().count("SIGHUP: reloaded")   # noqa: E731
    hotlines = lambda: {h["number"]: h["name"] for h in get_json(f"{base}/api/hotlines") or []}   # noqa: E731

    async def edit_and_hup() -> None:
        (etc / "flows" / "main.yaml").write_text(FLOW.format(prompt="cti12345/transfer-agent"), encoding="utf-8")
        directory = (etc / "hotlines.yaml").read_text(encoding="utf-8")
        (etc / "hotlines.yaml").write_text(directory.replace("name: 阳光计生服务热线", f"name: {RENAMED}"),
                                           encoding="utf-8")
        proc.send_signal(signal.SIGHUP)
        await until(lambda: reloads() == 1, timeout=30, what="the first SIGHUP's reload",
                    seen=lambda: text()[-2000:])

    held = await call(agi, at_first_prompt=edit_and_hup)
    # the call in progress finished on the version it started with, and reached its queue
    assert prompts(held) == ["cti12345/welcome", "cti12345/main-menu"], held
    assert "SET VARIABLE CTIQUEUE public" in held, held
    assert version_of(held) == first_version
    assert "SIGHUP: reloaded credentials, FlowsPart" in text() and "CallsPart" in text()

    edited = await call(agi)
    assert prompts(edited)[0] == "cti12345/transfer-agent", edited
    second_version = version_of(edited)
    assert second_version != first_version and get_json(f"{base}/api/flows")["version"] == second_version
    assert hotlines()["12356"] == RENAMED

    (etc / "flows" / "main.yaml").write_text(FLOW.format(prompt="cti12345/no-such-prompt"), encoding="utf-8")
    (etc / "hotlines.yaml").write_text("hotlines:\n  - {number: 12, kind: nonsense}\n", encoding="utf-8")
    proc.send_signal(signal.SIGHUP)
    await until(lambda: reloads() == 2, timeout=30, what="the second SIGHUP's reload", seen=lambda: text()[-2000:])
    last = text().split("SIGHUP: reloaded credentials")[-2:]
    assert "kept the old configuration of FlowsPart, CallsPart, OutboundPart" in last[-1], last[-1]
    assert "SIGHUP: FlowsPart not reloaded" in text() and "no-such-prompt" in text()
    assert "SIGHUP: CallsPart not reloaded" in text() and "hotlines.yaml" in text()
    kept = await call(agi)
    assert prompts(kept)[0] == "cti12345/transfer-agent" and version_of(kept) == second_version, kept
    assert hotlines()["12356"] == RENAMED
    assert proc.poll() is None, text()[-2000:]
    assert "13800138000" not in text()
