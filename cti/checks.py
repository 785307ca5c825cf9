"""Weak or broken settings that load fine but should not run unnoticed (issue 17).

``cti check-config`` prints each as a warning (``--strict``: exit 1), ``cti run`` logs them at start.
Each is ``(setting, message)``: the message names what to change, never a traceback.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import shutil
import socket
from pathlib import Path

from cti.settings import Settings

MIN_TOKEN_LENGTH = 24          # characters of a plain http.token: cti credentials makes 43
LOOPBACK_NAMES = ("localhost",)


def _loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _weak(token: str) -> bool:
    return len(token) < MIN_TOKEN_LENGTH or len(set(token)) < 10


def _port_in_use(host: str, port: int) -> str | None:
    """Why ``host:port`` cannot be listened on (in use, not permitted), or None."""
    if port == 0:
        return None
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)   # as aiohttp and asyncio servers do
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return f"{host}:{port} is already in use by another program"
            return f"cannot listen on {host}:{port}: {exc.strerror}"
    return None


def _writable_dir(path: Path) -> bool:
    probe = path
    while not probe.exists():
        probe = probe.parent
    return probe.is_dir() and os.access(probe, os.W_OK | os.X_OK)


def problems(s: Settings, ports: bool = True) -> list[tuple[str, str]]:
    """Every weak or broken setting of ``s``; ``ports``: also try the listening ports."""
    out: list[tuple[str, str]] = []
    if not _loopback(s.http.bind):
        if s.http.token and _weak(s.http.token):
            out.append(("http.token", f"http.bind is {s.http.bind} (reachable from the network) and http.token "
                        f"is weak (under {MIN_TOKEN_LENGTH} characters or few distinct ones); issue hashed "
                        "credentials with `cti credentials new ROLE` and leave http.token empty"))
        if not s.http.token and not any(s.http.credentials.values()) and not s.http.agent_pins:
            out.append(("http.credentials", f"http.bind is {s.http.bind} and no credential is configured: only "
                        "this run's random tokens work; set http.credentials (cti credentials new ROLE)"))
    for item in s.agi.allow:
        if ipaddress.ip_network(item, strict=False).prefixlen == 0:
            out.append(("agi.allow", f"{item} lets any host run the IVR over FastAGI; list the Asterisk "
                        "servers' addresses"))
    if not s.tickets.secrets:
        out.append(("tickets.secrets", "empty: every ticket status callback (POST /api/tickets/callback) is "
                    "refused with 401; add the ticket backend's whsec_ secret"))
    if not _writable_dir(s.data_dir):
        out.append(("data_dir", f"{s.data_dir} cannot be written by this user"))
    if s.recordings.enabled:
        if shutil.which(s.recordings.ffmpeg) is None:
            out.append(("recordings.ffmpeg", f"{s.recordings.ffmpeg!r} is not found on PATH: no recording can be "
                        "converted; install ffmpeg or set recordings.ffmpeg (or recordings.enabled: false)"))
        if not _writable_dir(s.recordings.store_dir):
            out.append(("recordings.store_dir", f"{s.recordings.store_dir} cannot be written by this user"))
    out += s.calls.warnings()   # a Local agent interface without /n (issue 16)
    if ports:
        for key, host, port in (("http.port", s.http.bind, s.http.port), ("agi.port", s.agi.bind, s.agi.port)):
            why = _port_in_use(host, port)
            if why:
                out.append((key, why))
    return out


def fatal(found: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The problems ``cti run`` cannot start with (a port it cannot listen on, a folder it cannot write)."""
    return [p for p in found if p[0] in ("http.port", "agi.port", "data_dir", "recordings.store_dir")]
