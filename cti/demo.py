"""`cti demo`: the PBX simulator with the 12345-centre preset, and the CTI layer against it.

The simulator runs as its own process (as Asterisk would), the layer in this one; both on loopback, on
the configured ports (``http.port``, ``ami.port``, ``agi.port`` of cti.yaml or ``CTI_HTTP_PORT``,
``CTI_AMI_PORT``, ``CTI_AGI_PORT``: the wall's address stays the same from run to run; ``0`` for http
and agi takes a free port), data in ``data_dir``. A port in use stops the demo with a message naming
its setting. Ctrl-C stops both.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sys

from cti.app import Layer
from cti.auth import hash_pin
from cti.databases import upgrade_all
from cti.settings import Settings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _wait_listening(port: int, proc: asyncio.subprocess.Process, timeout: float = 15.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        if proc.returncode is not None:
            raise RuntimeError(f"PBX simulator exited with code {proc.returncode}")
        with contextlib.suppress(OSError):
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        await asyncio.sleep(0.1)
    raise RuntimeError("PBX simulator did not start listening")


DEMO_AGENT = "6001"   # a simulated public seat; with no http.agent_pins it signs in at /agent with PIN 6001


def _print(line: str) -> None:
    print(line, flush=True)  # the demo's output is often piped; show each line as it happens


def demo_ports(settings: Settings) -> tuple[dict[str, int], list[str]]:
    """The demo's loopback ports by setting name (0 replaced by a free port), and why any is unusable."""
    from cti.checks import _port_in_use

    ports, problems = {}, []
    for key, port in (("http.port", settings.http.port), ("ami.port", settings.ami.port),
                      ("agi.port", settings.agi.port)):
        why = _port_in_use("127.0.0.1", port)
        if why:
            env = "CTI_" + key.replace(".", "_").upper()
            problems.append(f"{key}: {why}; choose another with {env}=<port> or {key} in cti.yaml")
        ports[key] = port or free_port()
    return ports, problems


async def demo(settings: Settings, stop: asyncio.Event, *, speed: float = 1.0, seed: int = 12345,
               lockstep: bool = False, print_line=_print) -> int:
    ports, problems = demo_ports(settings)
    if problems:
        for problem in problems:
            print(f"cannot start the demo: {problem}", file=sys.stderr, flush=True)
        return 1
    ami_port, agi_port = ports["ami.port"], ports["agi.port"]
    data_dir = settings.data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    demo_pin = not settings.http.agent_pins
    settings = settings.model_copy(update={
        "ami": settings.ami.model_copy(update={"host": "127.0.0.1", "port": ami_port}),
        "agi": settings.agi.model_copy(update={"bind": "127.0.0.1", "port": agi_port}),
        "http": settings.http.model_copy(update={"bind": "127.0.0.1", "port": ports["http.port"],
                                                 "agent_pins": settings.http.agent_pins
                                                 or {DEMO_AGENT: [hash_pin(DEMO_AGENT)]}}),
    })
    # The layer listens first: the demo's first caller rings at once and its IVR needs our FastAGI port
    # (the AMI session connects as soon as the simulator listens, and resyncs what came before).
    layer = Layer(settings)
    _done, failed = await upgrade_all(settings)   # the demo's own data: kept up to date with no step to run
    for line in failed:
        print(f"cannot start the demo: {line}", file=sys.stderr, flush=True)
    if failed:
        return 1
    sim = None
    try:
        await layer.start()
        sim = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "cti.cli", "simulate-pbx", "--ami-port", str(ami_port),
            "--username", settings.ami.username, "--secret", settings.ami.secret,
            "--agi-host", "127.0.0.1", "--agi-port", str(agi_port), "--preset", "demo",
            "--seed", str(seed), "--speed", str(speed), "--queue-log", str(data_dir / "queue_log"),
            *(["--recording-dir", str(settings.recordings.capture_dir)] if settings.recordings.enabled else []),
            *(["--lockstep"] if lockstep else []),
        )
        await _wait_listening(ami_port, sim)
        print_line(f"12345 demo: PBX simulator (12345-centre preset, speed x{speed:g}, seed {seed}) "
                   f"AMI 127.0.0.1:{ami_port} (ami.port), FastAGI 127.0.0.1:{agi_port} (agi.port), "
                   f"HTTP 127.0.0.1:{layer.http_port} (http.port), data in {data_dir}/")
        base = f"http://127.0.0.1:{layer.http_port}"
        print_line(f"wallboard 大屏 (viewer): {layer.wall_address()}")
        print_line(f"agent desk 坐席工作台: {base}/agent"
                   + (f" (demo agent {DEMO_AGENT}, PIN {DEMO_AGENT})" if demo_pin else ""))
        if layer.http_token and not settings.http.token:
            print_line(f"API (admin): {base}/api/figures (Authorization: Bearer {layer.http_token})")
        print_line("live summary per queue when it changes; Ctrl-C stops")
        await layer.print_status(stop, print_line, 1.0, alive=lambda: sim.returncode is None)
    finally:
        await layer.stop()
        if sim is not None and sim.returncode is None:
            sim.terminate()
            try:
                await asyncio.wait_for(sim.wait(), 10)
            except TimeoutError:
                sim.kill()
                await sim.wait()
        print_line("12345 demo stopped")
    return 0
