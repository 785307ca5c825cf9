"""Versioned schemas of the layer's databases (tickets, monitor, outbound): Alembic, one version table each.

One way for all three (issue 22): each database has a migrations folder and its own version table, so the
three may share one PostgreSQL database or live in three SQLite files. At start a part calls ``ensure``:
an empty database is made at head (the demo and a first start need no step), a database at head is used,
any other refuses the start with the command to run (``cti db upgrade``, which calls ``upgrade``). A
database made before its part had migrations (tables, no version table) is adopted by ``upgrade``: stamped
at the first migration, then upgraded. PostgreSQL: a transaction-scoped advisory lock serialises two
instances starting on one empty database; SQLite: the engine's BEGIN IMMEDIATE does (cti.tickets.db).
"""

from __future__ import annotations

import asyncio
import weakref
import zlib
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import MetaData, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

UPGRADE_COMMAND = "cti db upgrade"
_busy: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()   # event loop -> its lock, see _one_at_a_time


class SchemaError(RuntimeError):
    """A database this version of the layer cannot use as it is; the message names it and what to do."""


@dataclass(frozen=True)
class Schema:
    name: str               # tickets | monitor | outbound, as `cti db status` prints it
    migrations: Path        # the Alembic script folder (env.py, versions/)
    version_table: str
    metadata: MetaData      # the part's tables at head: finding a database made before versioning

    def config(self, connection=None, url: str = "") -> Config:
        cfg = Config()
        cfg.set_main_option("script_location", str(self.migrations))
        if url:
            cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
        cfg.attributes["schema"] = self
        if connection is not None:
            cfg.attributes["connection"] = connection
        return cfg

    def script(self) -> ScriptDirectory:
        return ScriptDirectory.from_config(self.config())

    def head(self) -> str:
        """The newest revision (CommandError if two migrations claim the same parent: a merge is missing)."""
        return self.script().get_current_head()

    def base(self) -> str:
        return self.script().get_base()


@dataclass(frozen=True)
class State:
    """Where one database stands against this version of the layer."""
    schema: Schema
    where: str                  # the URL without its password, for messages
    current: str | None         # revision in the version table, None when there is none
    head: str
    known: bool                 # ``current`` is one of our migrations (False: a newer layer wrote it)
    has_tables: bool            # any of the part's tables exists

    @property
    def empty(self) -> bool:
        return self.current is None and not self.has_tables

    @property
    def verdict(self) -> str:
        if self.empty:
            return "empty (made at head by the first start)"
        if self.current == self.head:
            return "up to date"
        if self.current is None:
            return f"made before versioned schemas: run `{UPGRADE_COMMAND}`"
        if not self.known:
            return "newer than this version of the layer"
        return f"older: run `{UPGRADE_COMMAND}`"

    def problem(self) -> str | None:
        """Why the layer must not start on this database, with what to do; None when it may."""
        if self.empty or self.current == self.head:
            return None
        where = f"database {self.schema.name} ({self.where})"
        if self.current is None:
            return (f"{where} has the {self.schema.name} tables but no version ({self.schema.version_table}): made "
                    f"before versioned schemas; back it up (cti backup DIR) and run `{UPGRADE_COMMAND}`")
        if not self.known:
            return (f"{where} is at schema {self.current}, which this version of the layer does not know (written "
                    f"by a newer version; this one needs {self.head}): run the newer version, or restore the backup "
                    f"taken before its upgrade")
        return (f"{where} is at schema {self.current}, this version of the layer needs {self.head}: stop the layer, "
                f"back it up (cti backup DIR) and run `{UPGRADE_COMMAND}`")


def where(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def _lock(conn, schema: Schema) -> None:
    """PostgreSQL: one instance at a time looks at and changes this schema, until the transaction ends."""
    if conn.dialect.name == "postgresql":
        key = zlib.crc32(f"cti-schema:{schema.name}".encode())
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def _state(conn, schema: Schema) -> State:
    current = MigrationContext.configure(conn, opts={"version_table": schema.version_table}).get_current_revision()
    script = schema.script()
    known = current is None
    if current is not None:
        try:
            known = script.get_revision(current) is not None
        except CommandError:
            known = False
    have = set(inspect(conn).get_table_names())
    return State(schema, where(conn.engine.url.render_as_string(hide_password=False)), current,
                 script.get_current_head(), known, bool(have & set(schema.metadata.tables)))


def _ensure(conn, schema: Schema) -> State:
    _lock(conn, schema)
    state = _state(conn, schema)
    if state.empty:
        command.upgrade(schema.config(conn), "head")
    elif problem := state.problem():
        raise SchemaError(problem)
    return state


def _upgrade(conn, schema: Schema) -> State:
    _lock(conn, schema)
    state = _state(conn, schema)
    if not state.known:
        raise SchemaError(state.problem())
    if state.current is None and state.has_tables:
        command.stamp(schema.config(conn), schema.base())   # its tables are the first migration's
    command.upgrade(schema.config(conn), "head")
    return state


def _one_at_a_time() -> asyncio.Lock:
    """Alembic's ``op`` and ``context`` are module globals: two migrations interleaved on one event loop (two
    layers starting in one process) would run each other's operations."""
    return _busy.setdefault(asyncio.get_running_loop(), asyncio.Lock())


async def _in_transaction(engine: AsyncEngine, work, schema: Schema) -> State:
    async with _one_at_a_time(), engine.begin() as conn:
        return await conn.run_sync(work, schema)


async def ensure(engine: AsyncEngine, schema: Schema) -> State:
    """At start: make an empty database at head, accept one at head, else raise SchemaError."""
    return await _in_transaction(engine, _ensure, schema)


async def upgrade(engine: AsyncEngine, schema: Schema) -> State:
    """`cti db upgrade`: bring the database to head (adopting a pre-versioning one); returns the state before.
    SchemaError when a newer layer wrote it. One transaction: on PostgreSQL and SQLite all or nothing."""
    return await _in_transaction(engine, _upgrade, schema)


async def at_url(url: str, work, schema: Schema) -> State:
    """``work`` (ensure, upgrade, state) on a short-lived engine of ``url``: cti.tickets.db's, whose SQLite
    connections BEGIN IMMEDIATE, so a schema change there is one transaction too."""
    from cti.tickets.db import make_engine  # it imports this module

    engine = make_engine(url)
    try:
        return await work(engine, schema)
    finally:
        await engine.dispose()


async def state(engine: AsyncEngine, schema: Schema) -> State:
    """Where the database stands, changing nothing."""
    async with _one_at_a_time(), engine.connect() as conn:
        return await conn.run_sync(_state, schema)


def run_env(context, schema: Schema) -> None:
    """The body of each migrations/env.py: on the caller's connection (``ensure``, ``upgrade``), or from
    ``sqlalchemy.url`` when run by the `alembic` command (online, or offline to print the SQL)."""
    config = context.config

    def run(connection) -> None:
        context.configure(connection=connection, target_metadata=schema.metadata, version_table=schema.version_table,
                          render_as_batch=connection.dialect.name == "sqlite")
        with context.begin_transaction():
            context.run_migrations()

    async def online() -> None:
        engine = create_async_engine(config.get_main_option("sqlalchemy.url"))
        async with engine.begin() as conn:
            await conn.run_sync(run)
        await engine.dispose()

    if context.is_offline_mode():
        context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=schema.metadata,
                          version_table=schema.version_table, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
    elif config.attributes.get("connection") is not None:
        run(config.attributes["connection"])
    else:
        asyncio.run(online())
