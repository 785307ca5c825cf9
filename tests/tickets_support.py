"""Helpers for the tickets tests and bench/outbox.py: a throwaway PostgreSQL, a webhook receiver.

PostgreSQL: one cluster per test process (initdb + pg_ctl in a temp dir, through ``runuser -u
postgres`` when we are root, since the server refuses root), on a free loopback port; each test
gets its own database, dropped afterwards. The receiver is a real aiohttp server on loopback.
"""

from __future__ import annotations

import asyncio
import atexit
import base64
import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections import Counter
from pathlib import Path

from aiohttp import web

from cti.settings import Settings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pg_bin() -> Path:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin"))
    if not versions:
        raise RuntimeError("PostgreSQL is not installed: run scripts/apt-ensure postgresql")
    return versions[-1]


class PgCluster:
    def __init__(self, fsync: bool = False) -> None:
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="cti-pg-"))
        self.data = self.dir / "data"
        self.bin = _pg_bin()
        self.fsync = fsync
        self._as_postgres = os.geteuid() == 0

    def _run(self, *cmd: str) -> None:
        argv = ["runuser", "-u", "postgres", "--", *cmd] if self._as_postgres else list(cmd)
        subprocess.run(argv, check=True, capture_output=True, cwd=self.dir)

    def start(self) -> PgCluster:
        if self._as_postgres:
            pw = pwd.getpwnam("postgres")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust",
                  "-E", "UTF8", "--locale=C.UTF-8")
        opts = (f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c max_connections=200 "
                f"-c fsync={'on' if self.fsync else 'off'} -c synchronous_commit={'on' if self.fsync else 'off'}")
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", opts, "-l", str(self.dir / "log"),
                  "-w", "start")
        return self

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop")
        shutil.rmtree(self.dir, ignore_errors=True)

    def url(self, database: str) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"

    async def create_database(self) -> str:
        import asyncpg

        name = "t_" + uuid.uuid4().hex[:12]
        conn = await asyncpg.connect(host="127.0.0.1", port=self.port, user="postgres", database="postgres")
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        return name

    async def drop_database(self, name: str) -> None:
        import asyncpg

        conn = await asyncpg.connect(host="127.0.0.1", port=self.port, user="postgres", database="postgres")
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


_cluster: PgCluster | None = None


def postgres() -> PgCluster:
    """The test process's PostgreSQL, started on first use and stopped at exit."""
    global _cluster
    if _cluster is None:
        _cluster = PgCluster().start()
        atexit.register(_cluster.stop)
    return _cluster


def make_secret(n: int = 1) -> str:
    return "whsec_" + base64.b64encode(bytes([n]) * 32).decode()


class Receiver:
    """The ticket backend stand-in: records every request; answers per ``status`` / ``delay``."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.accepted: Counter[str] = Counter()  # webhook-id -> 2xx answers given
        self.status = 204
        self.headers: dict[str, str] = {}
        self.delay = 0.0
        self.arrived = asyncio.Event()
        self.in_flight: Counter[str] = Counter()
        self.overlaps = 0                         # a webhook-id received while the same id was in flight
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/tickets"

    @property
    def unique(self) -> set[str]:
        return set(self.accepted)

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        msg_id = request.headers.get("webhook-id", "")
        self.requests.append((dict(request.headers), body))
        self.arrived.set()
        if self.in_flight[msg_id]:
            self.overlaps += 1
        self.in_flight[msg_id] += 1
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
        finally:
            self.in_flight[msg_id] -= 1
        status = self.status
        if 200 <= status < 300:
            self.accepted[msg_id] += 1
        return web.Response(status=status, headers=self.headers)

    async def start(self) -> Receiver:
        app = web.Application()
        app.router.add_post("/hooks/tickets", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


def tickets_layer_settings(tmp_path: Path, receiver: Receiver, secret: str) -> Settings:
    """A layer's settings whose tickets part delivers to ``receiver`` signed with ``secret`` (AMI unreachable)."""
    s = Settings(data_dir=tmp_path)
    return s.model_copy(update={
        "ami": s.ami.model_copy(update={"port": free_port(), "reconnect_min": 0.2, "reconnect_max": 1}),
        "agi": s.agi.model_copy(update={"port": 0}),
        "http": s.http.model_copy(update={"port": 0}),
        "tickets": s.tickets.model_copy(update={
            "database_url": f"sqlite+aiosqlite:///{tmp_path / 'cti.db'}", "endpoint_url": receiver.url,
            "secrets": [secret], "poll_interval": 0.05}),
    })


async def wait_for(predicate, timeout: float = 20.0, step: float = 0.02) -> None:
    """Poll ``predicate`` (sync or async) until true; fail the test after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while True:
        result = predicate()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if loop.time() > end:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(step)


@contextlib.asynccontextmanager
async def database(kind: str, tmp_path: Path):
    """A migrated, empty tickets database of ``kind`` (sqlite or postgresql); yields its URL."""
    from cti.tickets.db import make_engine, migrate

    if kind == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'tickets.db'}"
        name = None
    else:
        cluster = postgres()
        name = await cluster.create_database()
        url = cluster.url(name)
    engine = make_engine(url)
    await migrate(engine)
    await engine.dispose()
    try:
        yield url
    finally:
        if name is not None:
            await postgres().drop_database(name)
