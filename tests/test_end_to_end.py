"""The layer (AMI client + FastAGI server) against the PBX simulator, and the demo command."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from zoneinfo import ZoneInfo

from waiting import until  # noqa: F401  (the tests import it from here)

from cti.agi.builtin import ivr
from cti.ami import TOPIC_EVENT, TOPIC_RESYNCED, AmiLoginError, AmiState
from cti.app import Layer
from cti.settings import Settings
from cti.simulator import SimConfig, Simulator
from cti.simulator.presets import nantong_config, nantong_traffic
from ivr_flows.part import FlowsPart

ROOT = Path(__file__).resolve().parents[1]


def settings_for(tmp_path: Path, ami_port: int, **ami) -> Settings:
    s = Settings(data_dir=tmp_path)
    return s.model_copy(update={
        "ami": s.ami.model_copy(update={"port": ami_port, "reconnect_min": 0.05, "reconnect_max": 0.2, **ami}),
        "agi": s.agi.model_copy(update={"port": 0}),
        "http": s.http.model_copy(update={"port": 0}),
    })




def waiting(layer: Layer) -> int:
    """Callers waiting in any queue, as the layer's queue monitor counts them."""
    engine = layer.monitor.engine
    return engine.waiting(engine.queue_names)


SHANGHAI = ZoneInfo("Asia/Shanghai")


def ten_am() -> float:
    """10:00 today at the centre (Asia/Shanghai), whatever the host's time zone."""
    return dt.datetime.combine(dt.datetime.now(SHANGHAI).date(), dt.time(10), SHANGHAI).timestamp()


async def test_chinese_caller_name_survives_ami_and_agi_end_to_end(tmp_path):
    sim = Simulator(SimConfig(ami_port=0, agi_port=1, speed=10))
    await sim.start()
    layer = Layer(settings_for(tmp_path, sim.ami_port))
    agi_names = []

    async def recording_ivr(call):
        agi_names.append(call.caller_name)
        await ivr(call)

    layer.registry.add("ivr", recording_ivr)
    events = []
    layer.bus.subscribe(TOPIC_EVENT, lambda _t, m: events.append(m))
    await layer.start()
    sim.config.agi_port = layer.agi.port
    try:
        await layer.ami.wait_connected(5)
        reply = await layer.ami.action({
            "Action": "Originate", "Channel": "Local/12345@from-pstn", "Context": "caller",
            "Exten": "press2", "Priority": 1, "CallerID": '"张三丰" <13800000001>', "Timeout": 30000})
        assert reply[0].success
        await until(lambda: any(m.name == "AgentConnect" for m in events), 20)
        join = next(m for m in events if m.name == "QueueCallerJoin")
        assert join["Queue"] == "enterprise"            # key 2 chosen in our IVR over FastAGI
        assert join["CallerIDName"] == "张三丰"          # AMI side
        assert agi_names == ["张三丰"]                   # AGI side
        assert layer.monitor.engine.snapshot()["queues"]["enterprise"]["windows"]["today"]["answered"] == 1
    finally:
        await layer.stop()
        await sim.stop()


async def test_wrong_secret_against_the_simulator_is_a_login_error(tmp_path):
    sim = Simulator(SimConfig(ami_port=0, agi_port=1))
    await sim.start()
    layer = Layer(settings_for(tmp_path, sim.ami_port, secret="wrong"))
    try:
        await layer.agi.start()
        try:
            await layer.ami.start()
            raise AssertionError("login with a wrong secret succeeded")
        except AmiLoginError as exc:
            assert "Authentication failed" in str(exc)
        assert layer.ami.state is AmiState.FAILED
    finally:
        await layer.stop()
        await sim.stop()


async def test_simulator_restart_resyncs_without_ghost_calls(tmp_path):
    cfg = nantong_config(SimConfig(ami_port=0, agi_port=1, speed=50, start_epoch=ten_am()), seed=4)
    sim = Simulator(cfg, traffic=nantong_traffic(rate_factor=3.0))
    await sim.start()
    port = sim.ami_port
    layer = Layer(settings_for(tmp_path, port))
    resyncs = []
    layer.bus.subscribe(TOPIC_RESYNCED, lambda _t, m: resyncs.append(m))
    await layer.start()
    sim.config.agi_port = layer.agi.port
    try:
        await until(lambda: waiting(layer) > 0, 30)
        await sim.stop()                             # calls vanish with the switch
        quiet = Simulator(SimConfig(ami_port=port, agi_port=layer.agi.port))
        await quiet.start()
        await until(lambda: len(resyncs) == 2, 10)
        assert resyncs[1].reconnect
        assert waiting(layer) == 0   # no ghost callers
        assert layer.ami.state is AmiState.CONNECTED
        await quiet.stop()
    finally:
        await layer.stop()


KEEP = {"Event", "Timestamp", "Uniqueid", "Queue", "Interface", "HoldTime"}
QUEUE_EVENTS = {"QueueCallerJoin", "AgentCalled", "AgentConnect", "AgentRingNoAnswer", "QueueCallerAbandon"}


async def _seeded_run(tmp_path: Path, seed: int) -> tuple[list[tuple], list[tuple]]:
    workday = dt.datetime(2026, 3, 4, 10, tzinfo=SHANGHAI).timestamp()       # a Wednesday, 10:00
    cfg = nantong_config(SimConfig(ami_port=0, agi_port=1, speed=20, start_epoch=workday, lockstep=True), seed=seed)
    for queue in cfg.queues:              # a few seats: callers wait, give up, ring agents who do not answer
        queue.members = queue.members[:3]
    sim = Simulator(cfg)
    await sim.start()
    queue_events = []          # as the switch sends them: what, which channel, which agent, when
    sim.pbx.listeners.append(lambda m: queue_events.append(tuple(v for k, v in m if k in KEEP))
                             if m[0][1] in QUEUE_EVENTS else None)
    layer = Layer(settings_for(tmp_path, sim.ami_port))
    flows = next(p for p in layer.parts if isinstance(p, FlowsPart))
    flows.engine.clock = sim.clock.now        # the shipped flows see the simulated working morning
    await layer.start()
    sim.config.agi_port = layer.agi.port
    try:
        await layer.ami.wait_connected(5)
        sim.start_traffic(nantong_traffic(rate_factor=4.0), max_calls=60)  # a fixed workload, whatever the lag
        await until(lambda: sim.totals()["offered"] == 60 and sim.totals()["in_progress"] == 0, 90)
        return sorted(sim.pbx.outcomes), queue_events   # outcomes by caller: calls end in talk-time order
    finally:
        await layer.stop()
        await sim.stop()


async def test_a_seeded_run_repeats_the_same_calls_and_outcomes(tmp_path):
    first, first_events = await _seeded_run(tmp_path / "a", 21)
    again, again_events = await _seeded_run(tmp_path / "b", 21)
    other, _ = await _seeded_run(tmp_path / "c", 22)
    assert len(first) >= 5
    assert {q for _, q, _ in first} >= {"public", "enterprise"}      # key 2: 一企来 in working hours
    assert {o for _, _, o in first} >= {"answered", "abandoned"}
    # The same callers (numbers, keys, so queues) meet the same outcomes...
    assert again == first
    # ...through the same queue events at the same simulated instants: lockstep time ignores the
    # layer's AGI latency and the event loop's jitter
    assert len(first_events) >= 2 * len(first)
    assert again_events == first_events
    assert [(n, q) for n, q, _ in other] != [(n, q) for n, q, _ in first]


def test_make_demo_shows_live_traffic_on_the_configured_ports_and_stops_cleanly_on_ctrl_c(tmp_path):
    from cti.demo import free_port

    ports = {"CTI_HTTP_PORT": free_port(), "CTI_AMI_PORT": free_port(), "CTI_AGI_PORT": free_port()}
    env = {**os.environ, "CTI_DATA_DIR": str(tmp_path), "PYTHONUNBUFFERED": "1",
           **{k: str(v) for k, v in ports.items()}}
    proc = subprocess.Popen([sys.executable, "-m", "cti.cli", "demo", "--speed", "20"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    lines = []
    try:
        deadline = time.monotonic() + 60
        for line in proc.stdout:
            lines.append(line)
            answered = [int(n) for n in re.findall(r"answered (\d+)", line)]
            if sum(answered) > 0 or time.monotonic() > deadline:
                break
        assert any(sum(int(n) for n in re.findall(r"answered (\d+)", x)) > 0 for x in lines), lines
        # the demo says which ports it uses, and the wall is on the configured one (a bookmark stays valid)
        text = "".join(lines)
        assert f"AMI 127.0.0.1:{ports['CTI_AMI_PORT']} (ami.port)" in text, text
        assert f"FastAGI 127.0.0.1:{ports['CTI_AGI_PORT']} (agi.port)" in text, text
        wall = re.search(r"(http://127\.0\.0\.1:(\d+)/wallboard\?token=\S+)", text)
        assert wall and int(wall.group(2)) == ports["CTI_HTTP_PORT"], text
        with urllib.request.urlopen(wall.group(1), timeout=10) as page:
            assert page.status == 200 and "<html" in page.read().decode().lower()
        # next to it, the agent toolbar's reference page, with a demo agent that can sign in (issue 19)
        desk = re.search(r"agent desk 坐席工作台: (http://127\.0\.0\.1:\d+/agent) \(demo agent 6001, PIN 6001\)", text)
        assert desk, text
        with urllib.request.urlopen(desk.group(1), timeout=10) as page:
            assert page.status == 200 and "<cti-agent-toolbar" in page.read().decode()
        signin = urllib.request.Request(desk.group(1).replace("/agent", "/api/agents/6001/session"),
                                        data=b'{"pin": "6001"}', headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(signin, timeout=10) as answer:
            assert answer.status == 201
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0
    assert "12345 demo stopped" in rest
    assert "[AMI connected]" in "".join(lines)


def test_given_a_configured_port_in_use_then_the_demo_says_which_setting_and_stops(tmp_path):
    from cti.demo import free_port

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {**os.environ, "CTI_DATA_DIR": str(tmp_path), "CTI_HTTP_PORT": str(port),
               "CTI_AMI_PORT": str(free_port()), "CTI_AGI_PORT": str(free_port())}
        done = subprocess.run([sys.executable, "-m", "cti.cli", "demo"], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=60)
    assert done.returncode == 1, done
    assert f"http.port: 127.0.0.1:{port} is already in use" in done.stderr and "CTI_HTTP_PORT" in done.stderr
    assert "Traceback" not in done.stderr, done.stderr


async def test_cti_run_works_from_settings_file_and_environment_alone(tmp_path):
    sim = Simulator(SimConfig(ami_port=0, agi_port=1, speed=10))
    await sim.start()
    from cti.demo import free_port

    agi_port = free_port()
    sim.config.agi_port = agi_port
    env = {**os.environ, "CTI_AMI_PORT": str(sim.ami_port), "CTI_AGI_PORT": str(agi_port),
           "CTI_HTTP_PORT": "0", "CTI_DATA_DIR": str(tmp_path), "CTI_MONITOR_SUMMARY_INTERVAL": "0.2",
           "PYTHONUNBUFFERED": "1"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "cti.cli", "run", cwd=ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
    try:
        async def read_until(text: str) -> str:
            while True:
                line = (await proc.stdout.readline()).decode()
                assert line, "cti run exited"
                if text in line:
                    return line
        await asyncio.wait_for(read_until("[AMI connected]"), 20)
        # key 1 reaches the public queue at any hour (the shipped flows, real clock)
        sim.pbx.dialplan.originate("Local/12345@from-pstn", context="caller", exten="press1",
                                   cid_num="13800000002", cid_name="李四")
        await until(lambda: ("13800000002", "public", "answered") in sim.pbx.outcomes, 30)
        line = await asyncio.wait_for(read_until("public: 等待 waiting 0, 接通 answered 1"), 20)
        assert "15秒接通率 100.0%" in line
    finally:
        proc.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(proc.wait(), 20) == 0
        await sim.stop()


async def test_given_a_wrong_ami_secret_or_a_port_in_use_then_cti_run_stops_with_its_reason(tmp_path):
    sim = Simulator(SimConfig(ami_port=0, agi_port=1, speed=10))
    await sim.start()
    from cti.demo import free_port

    base = {**os.environ, "CTI_AMI_PORT": str(sim.ami_port), "CTI_AGI_PORT": str(free_port()),
            "CTI_HTTP_PORT": "0", "CTI_DATA_DIR": str(tmp_path), "CTI_MONITOR_SUMMARY_INTERVAL": "0.2"}
    try:
        # an operator (or systemd) needs an exit, not a process that neither retries nor serves calls
        wrong = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "cti.cli", "run", cwd=ROOT, env={**base, "CTI_AMI_SECRET": "wrong"},
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(wrong.communicate(), 60)
        assert wrong.returncode == 2, (out, err)
        assert b"refused the AMI login" in err and b"never retrieved" not in err, err
        with socket.socket() as taken:   # the FastAGI port is held by another program
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            busy = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "cti.cli", "run", cwd=ROOT,
                env={**base, "CTI_AGI_PORT": str(taken.getsockname()[1])},
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
            out, err = await asyncio.wait_for(busy.communicate(), 60)
        assert busy.returncode == 1, (out, err)
        assert b"cannot start: agi.port: " in err and b"Traceback" not in err, err
    finally:
        await sim.stop()
