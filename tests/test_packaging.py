"""Install (issue 22): the wheel, installed into a fresh venv outside the checkout, runs the layer.

The wheel is built from pyproject.toml, installed with its dependencies into a new venv in a temporary
folder; from there, with the working directory outside the checkout and no PYTHONPATH, `cti init`
writes the editable config, `cti check-config` accepts it, and `cti run` serves calls that
`cti simulate-pbx` (from the same install) sends through the IVR. The systemd unit in deploy/ passes
`systemd-analyze verify` with its ExecStart pointing at that install.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import subprocess
import zipfile
from pathlib import Path

import pytest
from install_support import ROOT, TOKEN, build_wheel, clean_env, get, get_json, install
from tickets_support import free_port
from waiting import until

UNIT = ROOT / "deploy" / "cti12345.service"
UNIT_PREFIX = "/opt/cti12345"       # the unit's venv; the test points it at the fresh one
PACKAGES = ("cti", "ivr_flows", "queue_monitor", "recordings")   # pyproject.toml's packages.find


@pytest.fixture(scope="module")
def host(tmp_path_factory) -> Path:
    """A folder standing for a bare host, with the wheel installed in host/venv: made once per run, by
    the first worker that needs it (the others wait on the lock), as xdist spreads this file's tests."""
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    work = shared / "packaging-host"
    with (shared / "packaging-host.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (work / "ready").exists():
            shutil.rmtree(work, ignore_errors=True)
            install(build_wheel(work / "build"), work / "venv")
            (work / "ready").touch()
    return work


def test_the_wheel_carries_every_file_of_the_packages_and_the_shipped_config(host):
    (wheel,) = (host / "build" / "dist").glob("cti12345-*.whl")
    with zipfile.ZipFile(wheel) as whl:
        inside = set(whl.namelist())
    src = host / "build" / "src"     # the copy of the working tree the wheel was built from
    wanted = {p.relative_to(src).as_posix() for top in PACKAGES for p in (src / top).rglob("*")
              if p.is_file() and "__pycache__" not in p.parts}
    wanted |= {"cti/_config/" + p.relative_to(src / "config").as_posix() for p in (src / "config").rglob("*")
               if p.is_file()}
    assert not wanted - inside, sorted(wanted - inside)


def _cti(host: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(host / "venv" / "bin" / "cti"), *args], cwd=host, env=env or clean_env(host / "venv"),
                          capture_output=True, text=True, timeout=120)


def test_the_installed_package_comes_from_the_venv_not_the_checkout(host):
    where = subprocess.run([str(host / "venv" / "bin" / "python"), "-c",
                            "import cti, ivr_flows, queue_monitor, recordings, sys;"
                            "print(*(m.__file__ for m in (cti, ivr_flows, queue_monitor, recordings)), sep='\\n')"],
                           cwd=host, env=clean_env(host / "venv"), capture_output=True, text=True, timeout=60)
    assert where.returncode == 0, where.stderr
    for path in where.stdout.split():
        assert Path(path).is_relative_to(host / "venv") and not Path(path).is_relative_to(ROOT), where.stdout


async def test_init_check_config_and_run_from_the_wheel_against_the_simulator(host):
    etc, data = host / "etc", host / "data"
    done = _cti(host, "init", str(etc), "--data-dir", str(data))
    assert done.returncode == 0, done.stderr
    for name in ("cti.yaml", "flows/main.yaml", "prompts/catalogue.yaml", "hotlines.yaml", "calendar-override.yaml",
                 "asterisk/extensions_cti.conf", "asterisk/manager_cti.conf"):
        assert (etc / name).is_file(), name
    written = (etc / "cti.yaml").read_text()
    assert str(ROOT) not in written and f'flows_dir: "{etc}/flows"' in written and f'data_dir: "{data}"' in written
    again = _cti(host, "init", str(etc))
    assert again.returncode == 1 and "--force" in again.stderr, again
    assert _cti(host, "init", str(etc), "--force", "--data-dir", str(data)).returncode == 0

    checked = _cti(host, "--config", str(etc / "cti.yaml"), "check-config")
    assert checked.returncode == 0 and f"data in {data}" in checked.stdout, checked

    ami, agi, http = free_port(), free_port(), free_port()
    env = clean_env(host / "venv", CTI_CONFIG=str(etc / "cti.yaml"), CTI_AMI_PORT=str(ami), CTI_AGI_PORT=str(agi),
                    CTI_HTTP_PORT=str(http), CTI_HTTP_TOKEN=TOKEN, CTI_LOG_FORMAT="json",
                    # as systemd runs it, output to the journal: no live summary however often it changes
                    JOURNAL_STREAM="8:4242", CTI_MONITOR_SUMMARY_INTERVAL="0.2")
    logs, out = host / "run.log", host / "run.out"
    with logs.open("w") as err, out.open("w") as stdout:
        layer = subprocess.Popen([str(host / "venv" / "bin" / "cti"), "run"], cwd=host, env=env,
                                 stdout=stdout, stderr=err)
        # the demo preset's first caller arrives at once and goes through the IVR to a queue
        pbx = subprocess.Popen([str(host / "venv" / "bin" / "cti"), "simulate-pbx", "--ami-port", str(ami),
                                "--agi-port", str(agi), "--preset", "demo", "--speed", "10"],
                               cwd=host, env=clean_env(host / "venv"), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{http}"
        try:
            await until(lambda: (get_json(f"{base}/healthz") or {}).get("ami") == "connected", timeout=60,
                        what="the installed layer's AMI session to the simulator",
                        seen=lambda: (get(f"{base}/healthz"), layer.poll(), logs.read_text()[-2000:]))
            await until(lambda: (get_json(f"{base}/api/flows") or {}).get("sessions", 0) >= 1, timeout=60,
                        what="a call through the IVR of the installed layer",
                        seen=lambda: (get_json(f"{base}/api/flows"), logs.read_text()[-2000:]))
            flows = get_json(f"{base}/api/flows")
            assert set(flows["flows"]) >= {"main", "survey"}, flows
            wall = get(f"{base}/wallboard?token={TOKEN}", token="")
            toolbar = get(f"{base}/agent/toolbar.js", token="")
            assert wall[0] == 200 and b"<html" in wall[1].lower(), wall[0]
            assert toolbar[0] == 200 and len(toolbar[1]) > 1000, toolbar[0]
        finally:
            for proc in (layer, pbx):
                proc.send_signal(signal.SIGTERM)
            codes = [proc.wait(timeout=60) for proc in (layer, pbx)]
    assert codes[0] == 0, (codes, logs.read_text()[-3000:])
    lines = logs.read_text().splitlines()
    records = [json.loads(line) for line in lines]     # log.format json: every line one object
    assert any(r["message"].startswith("FastAGI listening") for r in records), lines[:20]
    assert (data / "cti.db").is_file() and not (host / "var").exists()   # the data went to data_dir
    printed = out.read_text()
    assert "wallboard" in printed and "[AMI " not in printed, printed[-2000:]
    assert "token=" not in printed, printed     # the journal gets no credential (this run's wall token)


def test_the_service_unit_passes_systemd_analyze_verify(host, tmp_path):
    text = UNIT.read_text()
    assert f"ExecStart={UNIT_PREFIX}/bin/cti run" in text
    for line in ("User=cti12345", "Restart=on-failure", "StateDirectory=cti12345", "NoNewPrivileges=yes",
                 "ProtectSystem=strict", "ReadWritePaths=/var/lib/cti12345",
                 "Environment=CTI_CONFIG=/etc/cti12345/cti.yaml", "ExecReload=/bin/kill -HUP $MAINPID"):
        assert f"\n{line}\n" in text, line
    unit = tmp_path / UNIT.name
    unit.write_text(text.replace(UNIT_PREFIX, str(host / "venv")))
    done = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60)
    # verify prints a warning for each doubtful line and still exits 0 for some: none is accepted
    assert done.returncode == 0 and not done.stderr.strip() and not done.stdout.strip(), done
