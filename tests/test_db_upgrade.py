"""`cti db upgrade` and `cti db status` (issue 22), on SQLite and PostgreSQL: databases made with the schema of
the oldest supported version (tickets: its first migration; monitor and outbound: the tables the layer made
before they had migrations, i.e. their first migration without a version table) and filled with rows in
every column of every table are upgraded with nothing lost, and the layer's own stores read the old rows.
A database of another version refuses `cti run` with the command to run."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from alembic import command
from sqlalchemy import MetaData, Table, inspect, select, text
from tickets_support import postgres

from cti import cli, schema
from cti.app import Layer
from cti.databases import databases
from cti.outbound.store import Store
from cti.settings import load_settings
from cti.tickets.db import make_engine
from queue_monitor.part import MonitorPart
from queue_monitor.storage import CallStore

ROWS = 3   # per table


@pytest.fixture(params=["sqlite", "postgresql"])
def config(request, tmp_path) -> Path:
    """A settings file whose three databases are empty: three SQLite files, or one PostgreSQL database
    holding all three (each schema with its own version table)."""
    if request.param == "sqlite":
        urls = {n: f"sqlite+aiosqlite:///{tmp_path / n}.db" for n in ("tickets", "monitor", "outbound")}
    else:
        name = asyncio.run(postgres().create_database())
        request.addfinalizer(lambda: asyncio.run(postgres().drop_database(name)))
        urls = dict.fromkeys(("tickets", "monitor", "outbound"), postgres().url(name))
    path = tmp_path / "cti.yaml"
    path.write_text(yaml.safe_dump({"data_dir": str(tmp_path / "data"),
                                    **{n: {"database_url": u} for n, u in urls.items()}}))
    return path


def sample(column, n: int):
    """A value of ``column``'s type for row ``n``, distinct per row (unique keys) and per column."""
    try:
        kind = column.type.python_type
    except NotImplementedError:
        kind = str
    if kind is bool:
        return n % 2 == 0
    if kind is int:
        return 100 + n          # above the ids a PostgreSQL sequence hands out next: the layer can still insert
    if kind is float:
        return n + 0.25
    if kind is dt.datetime:
        return dt.datetime(2026, 11, 1, 8, n, 30)
    if kind in (dict, list):
        return {"n": n, "上访": [n]}
    length = getattr(column.type, "length", None) or 40
    return f"{column.name[:6]}{n}中"[-length:]


def fill(conn) -> dict[str, list[dict]]:
    """ROWS rows in every table of the database, every column set; returns them by table."""
    rows = {}
    for name in inspect(conn).get_table_names():
        if name.endswith("alembic_version"):
            continue
        table = Table(name, MetaData(), autoload_with=conn)
        rows[name] = [{c.name: sample(c, n) for c in table.columns} for n in range(1, ROWS + 1)]
        conn.execute(table.insert(), rows[name])
    return rows


def read(conn, rows: dict[str, list[dict]]) -> dict[str, list[dict]]:
    """The columns of ``rows`` as the database holds them now, by table."""
    got = {}
    for name, inserted in rows.items():
        table = Table(name, MetaData(), autoload_with=conn)
        columns = [table.c[k] for k in inserted[0]]
        got[name] = [dict(r) for r in conn.execute(select(*columns)).mappings()]
    return got


def canonical(rows: dict[str, list[dict]]) -> dict[str, list[str]]:
    return {t: sorted(json.dumps(r, sort_keys=True, default=str, ensure_ascii=False) for r in rs)
            for t, rs in rows.items()}


async def make_oldest(config: Path) -> dict[str, list[dict]]:
    """The oldest supported schemas, filled; the rows put in."""
    put = {}
    for s, url in databases(load_settings(config)):
        engine = make_engine(url)
        try:
            async with engine.begin() as conn:
                await conn.run_sync(lambda c, s=s: command.upgrade(s.config(c), s.base()))
                if s.name != "tickets":   # monitor and outbound had no version table before issue 22
                    await conn.execute(text(f"DROP TABLE {s.version_table}"))
        finally:
            await engine.dispose()
    urls = {url for _s, url in databases(load_settings(config))}
    for url in urls:
        engine = make_engine(url)
        try:
            async with engine.begin() as conn:
                put |= await conn.run_sync(fill)
        finally:
            await engine.dispose()
    return put


async def read_all(config: Path, put: dict[str, list[dict]]) -> dict[str, list[dict]]:
    got = {}
    for url in {url for _s, url in databases(load_settings(config))}:
        engine = make_engine(url)
        try:
            async with engine.connect() as conn:
                names = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
                got |= await conn.run_sync(read, {t: r for t, r in put.items() if t in names})
        finally:
            await engine.dispose()
    return got


def db(config: Path, what: str, capsys) -> tuple[int, str]:
    code = cli.main(["--config", str(config), "db", what])
    out = capsys.readouterr()
    return code, out.out + out.err


def test_given_databases_of_the_oldest_version_when_upgraded_then_every_row_is_kept_and_the_layer_reads_them(
        config, capsys):
    put = asyncio.run(make_oldest(config))
    assert {"tickets", "outbox", "monitor_queue_calls", "outbound_followups"} <= set(put)

    code, said = db(config, "status", capsys)
    assert code == 1, said
    assert "tickets: 0001" in said and "monitor: - " in said and "cti db upgrade" in said

    code, said = db(config, "upgrade", capsys)
    assert code == 0, said
    heads = {s.name: s.head() for s, _url in databases(load_settings(config))}
    assert f"tickets: upgraded 0001 -> {heads['tickets']}" in said, said
    assert f"outbound: upgraded unversioned -> {heads['outbound']}" in said, said

    assert canonical(asyncio.run(read_all(config, put))) == canonical(put)
    code, said = db(config, "status", capsys)
    assert code == 0 and said.count("up to date") == 3, said
    code, said = db(config, "upgrade", capsys)      # twice: nothing to do
    assert code == 0 and said.count("up to date") == 3, said

    async def stores() -> None:
        settings = load_settings(config)
        outbound = Store(settings.outbound.database_url)
        monitor = CallStore(settings.monitor.database_url)
        try:
            await outbound.migrate()     # what the part's start does: the database is accepted
            await monitor.create()
            old = await outbound.followups()
            assert [(f.number, f.network_failures) for f in old] == [(f"number{n}中", 0) for n in (1, 2, 3)]
            new = await outbound.add_followup("closed-tickets", "13900000002", "T2", 0.0, 0.0)
            assert new.id not in {f.id for f in old}
            assert sorted(c.uniqueid for c in await monitor.calls(0, 1e12)) == [f"unique{n}中" for n in (1, 2, 3)]
        finally:
            await outbound.close()
            await monitor.close()

    asyncio.run(stores())


def test_given_a_database_written_by_a_newer_layer_when_upgraded_or_started_then_refused_with_what_to_do(
        tmp_path, capsys):
    config = tmp_path / "cti.yaml"
    config.write_text(yaml.safe_dump({"data_dir": str(tmp_path)}))
    assert db(config, "upgrade", capsys)[0] == 0                       # empty: made at head
    settings = load_settings(config)
    url = settings.monitor.database_url

    async def set_version(revision: str) -> None:
        engine = make_engine(url)
        async with engine.begin() as conn:
            await conn.execute(text(f"UPDATE monitor_alembic_version SET version_num = '{revision}'"))
        await engine.dispose()

    asyncio.run(set_version("9999"))
    code, said = db(config, "upgrade", capsys)
    assert code == 1 and "database monitor" in said and "9999" in said and "newer version" in said, said
    code = cli.main(["--config", str(config), "report", "--from", "2026-11-30", "--to", "2026-11-30"])
    said = capsys.readouterr().err
    assert code == 1 and "database monitor" in said and "Traceback" not in said, said   # no figures from it

    async def start_monitor() -> str:
        layer = Layer(settings, parts=[MonitorPart])
        try:
            await layer.parts[0].start()
        except schema.SchemaError as exc:
            return str(exc)
        finally:
            await layer.parts[0].stop()
        return "started"

    assert "does not know" in asyncio.run(start_monitor())


def test_given_an_upgrade_that_fails_then_it_names_the_database_and_the_error_without_a_traceback(
        tmp_path, capsys):
    config = tmp_path / "cti.yaml"
    config.write_text(yaml.safe_dump({"data_dir": str(tmp_path)}))
    assert db(config, "upgrade", capsys)[0] == 0
    settings = load_settings(config)

    async def claim_older_version() -> str:   # the tables are at head, the version table says otherwise
        engine = make_engine(settings.tickets.database_url)
        async with engine.begin() as conn:
            rev = (await conn.execute(text("SELECT version_num FROM tickets_alembic_version"))).scalar()
            older = f"{int(rev) - 1:04d}"
            await conn.execute(text("UPDATE tickets_alembic_version SET version_num = :v"), {"v": older})
        await engine.dispose()
        return older

    older = asyncio.run(claim_older_version())
    code, said = db(config, "upgrade", capsys)
    assert code == 1 and "tickets" in said and "Traceback" not in said and len(said.splitlines()) < 10, said
    assert f"tickets: {older} " in db(config, "status", capsys)[1]      # the failed step was rolled back


def test_given_an_old_database_when_cti_run_starts_then_it_stops_naming_the_database_and_the_command(tmp_path):
    config = tmp_path / "cti.yaml"
    config.write_text(yaml.safe_dump({"data_dir": str(tmp_path), "http": {"port": 0}, "agi": {"port": 0}}))
    outbound = next(s for s, _url in databases(load_settings(config)) if s.name == "outbound")
    url = load_settings(config).outbound.database_url

    async def oldest() -> None:
        engine = make_engine(url)
        async with engine.begin() as conn:
            await conn.run_sync(lambda c: command.upgrade(outbound.config(c), outbound.base()))
        await engine.dispose()

    asyncio.run(oldest())
    env = {k: v for k, v in os.environ.items() if not k.startswith("CTI_")}
    try:
        run = subprocess.run([sys.executable, "-m", "cti.cli", "--config", str(config), "run"], env=env,
                             capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(f"cti run did not stop within 60 s; said: {exc.stderr}") from None
    assert run.returncode == 1, run.stderr
    assert "database outbound" in run.stderr and "cti db upgrade" in run.stderr, run.stderr
    assert "database tickets" not in run.stderr, run.stderr        # empty ones are made at head, not refused


# What `cti run` does before its parts start, in a process of its own, once told to go on its stdin.
STARTING_INSTANCE = """
import asyncio, sys
from cti.databases import problems
from cti.settings import load_settings
settings = load_settings(sys.argv[1])
print("ready", flush=True)
sys.stdin.readline()
print(asyncio.run(problems(settings)), flush=True)
"""


async def test_given_two_instances_starting_together_on_one_empty_postgresql_then_both_start_on_one_schema(
        tmp_path):
    name = await postgres().create_database()
    url = postgres().url(name)
    config = tmp_path / "cti.yaml"
    config.write_text(yaml.safe_dump({"data_dir": str(tmp_path), **{n: {"database_url": url}
                                                                    for n in ("tickets", "monitor", "outbound")}}))
    env = {k: v for k, v in os.environ.items() if not k.startswith("CTI_")}
    hosts = [await asyncio.create_subprocess_exec(sys.executable, "-c", STARTING_INSTANCE, str(config), env=env,
                                                  stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                                                  stderr=asyncio.subprocess.STDOUT) for _ in range(2)]
    try:
        for host in hosts:
            assert await asyncio.wait_for(host.stdout.readline(), 60) == b"ready\n"
        for host in hosts:                           # both at once, as two hosts started by one power-on
            host.stdin.write(b"go\n")
            await host.stdin.drain()
        said = [(await asyncio.wait_for(host.communicate(), 60))[0].decode() for host in hosts]
        assert said == ["[]\n", "[]\n"], said          # neither refused, neither failed
        for s, _url in databases(load_settings(config)):
            assert (await schema.at_url(url, schema.state, s)).verdict == "up to date"
    finally:
        for host in hosts:
            if host.returncode is None:
                host.kill()
                await host.wait()
        await postgres().drop_database(name)
