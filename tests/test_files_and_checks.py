"""Files and defaults (issue 17): the layer's databases and secrets are 0600 and the folders it makes
0700; `cti check-config` names each weak or broken setting (and refuses with --strict); `cti run` stops
on a port in use with a message naming the setting, never a traceback."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import aiohttp
from calls_support import settings_for
from tickets_support import free_port

from cti.app import Layer

ROOT = Path(__file__).resolve().parents[1]


async def test_databases_and_secrets_are_the_layers_own(tmp_path):
    data = tmp_path / "data"                       # a fresh data_dir: the layer makes it
    s = settings_for(data, free_port())
    s = s.model_copy(update={"recordings": s.recordings.model_copy(update={"capture_dir": tmp_path / "spool"})})
    layer = Layer(s)
    await layer.start()
    try:
        async with aiohttp.ClientSession(headers={"Authorization": "Bearer desk-token"}) as http:
            async with http.post(f"http://127.0.0.1:{layer.http_port}/api/tickets",
                                 json={"request_type": "complaint", "caller_number": "13912345678"}) as r:
                assert r.status == 201
    finally:
        await layer.stop()
    modes = {str(p.relative_to(data)): stat.S_IMODE(p.stat().st_mode) for p in [data, *data.rglob("*")]}
    databases = [name for name in modes if name.endswith((".db", ".db-wal", ".db-shm"))]
    assert {"cti.db", "monitor.db", "recordings/catalogue.db"} <= set(databases), modes
    assert {".session-secret", "recordings/.link-secret"} <= set(modes)
    loose = {name: oct(mode) for name, mode in modes.items() if mode & 0o077}
    assert loose == {}, "readable by others"


def _check(path: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cti.cli", "check-config", str(path), *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=60, env={**os.environ, **(env or {})})


def test_check_config_names_each_weak_or_broken_setting(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        path = tmp_path / "cti.yaml"
        path.write_text(f"""
data_dir: {tmp_path / 'data'}
http: {{bind: 0.0.0.0, port: {taken.getsockname()[1]}, token: secret}}
agi: {{allow: [0.0.0.0/0]}}
recordings: {{ffmpeg: no-such-ffmpeg-here}}
""")
        relaxed, strict = _check(path), _check(path, "--strict")
    assert (relaxed.returncode, strict.returncode) == (0, 1), (relaxed, strict)
    for key in ("http.token", "agi.allow", "tickets.secrets", "recordings.ffmpeg", "http.port"):
        assert f"warning: {key}: " in strict.stderr, (key, strict.stderr)
    assert "Traceback" not in strict.stderr + relaxed.stderr
    # a folder nobody may write in, root included (the tests may run as root, who writes anywhere else)
    path.write_text("data_dir: /proc/1/cti-data\n")
    done = _check(path)
    assert done.returncode == 2 and "data_dir" in done.stderr and "not writable" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


def test_cti_run_stops_on_a_port_in_use_naming_the_setting(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        env = {**os.environ, "CTI_HTTP_PORT": str(taken.getsockname()[1]), "CTI_AGI_PORT": "0",
               "CTI_DATA_DIR": str(tmp_path)}
        done = subprocess.run([sys.executable, "-m", "cti.cli", "run"], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=60)
    assert done.returncode == 1, done
    assert "cannot start: http.port: " in done.stderr and "Traceback" not in done.stderr, done.stderr


def test_cti_run_and_demo_away_from_any_settings_say_how_to_get_them(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "CTI_CONFIG"} | {"CTI_HTTP_PORT": "0", "CTI_AGI_PORT": "0",
                                                                        "CTI_DATA_DIR": str(tmp_path / "data")}
    for command in (["run"], ["demo", "--speed", "10"]):
        done = subprocess.run([sys.executable, "-m", "cti.cli", *command], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 2, done
        assert "cannot start: config/hotlines.yaml" in done.stderr and "cti init DIR" in done.stderr, done.stderr
        assert "Traceback" not in done.stderr, done.stderr
