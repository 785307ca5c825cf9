"""A wheel of the project installed into a fresh venv outside the checkout, and processes run from it
(tests/test_packaging.py, tests/test_sighup.py)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# what setup.py and pyproject.toml build the wheel from
SOURCES = ("pyproject.toml", "setup.py", "README.md", "cti", "ivr_flows", "queue_monitor", "recordings", "config")
TOKEN = "packaging-test-admin-token"


def _run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, **kw)
    assert done.returncode == 0, f"{' '.join(map(str, cmd))} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done


def build_wheel(work: Path) -> Path:
    """The wheel built from a copy of the working tree (the checkout itself gets no build/ folder)."""
    src = work / "src"
    src.mkdir(parents=True)
    skip = shutil.ignore_patterns("__pycache__", "*.egg-info", "build", "*.pyc")
    for name in SOURCES:
        (shutil.copytree if (ROOT / name).is_dir() else shutil.copy)(ROOT / name, src / name,
                                                                    **({"ignore": skip} if (ROOT / name).is_dir() else {}))
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(work / "dist"), str(src)])
    (wheel,) = (work / "dist").glob("cti12345-*.whl")
    return wheel


def install(wheel: Path, venv: Path) -> Path:
    """A fresh venv with the wheel and its dependencies; the versions the project's venv tested, from
    the pip cache when they are in it (the project's pip installs into the venv: no ensurepip)."""
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    frozen = _run([sys.executable, "-m", "pip", "freeze", "--exclude-editable"]).stdout
    constraints = venv / "constraints.txt"
    constraints.write_text(frozen)
    _run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "-q",
          "-c", str(constraints), str(wheel)])
    return venv


def clean_env(venv: Path, **settings: str) -> dict[str, str]:
    """The environment of a host: the venv's bin first, no PYTHONPATH, no CTI_ variable but ``settings``."""
    keep = {k: v for k, v in os.environ.items()
            if not k.startswith(("CTI_", "PYTHON", "VIRTUAL_ENV")) and k != "PATH"}
    return {**keep, "PATH": f"{venv / 'bin'}:/usr/local/bin:/usr/bin:/bin", **settings}


def get(url: str, token: str = TOKEN) -> tuple[int, bytes]:
    """Status and body of a GET, or (0, reason) while nothing answers."""
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except (OSError, urllib.error.URLError) as exc:
        return 0, str(exc).encode()


def get_json(url: str, token: str = TOKEN) -> dict | None:
    status, body = get(url, token)
    return json.loads(body) if status == 200 else None
