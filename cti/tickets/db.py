"""The tickets database: async engine (aiosqlite or asyncpg) and Alembic migrations to head."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from cti import schema
from cti.tickets.models import Base

MIGRATIONS = Path(__file__).with_name("migrations")
VERSION_TABLE = "tickets_alembic_version"  # the tickets schema versions itself apart from other parts
SCHEMA = schema.Schema("tickets", MIGRATIONS, VERSION_TABLE, Base.metadata)


def async_url(url: str) -> str:
    """Accept plain sqlite:// and postgresql:// URLs and pick the async driver."""
    u = make_url(url)
    if u.drivername in ("sqlite", "sqlite+pysqlite"):
        u = u.set(drivername="sqlite+aiosqlite")
    elif u.drivername in ("postgresql", "postgres", "postgresql+psycopg2"):
        u = u.set(drivername="postgresql+asyncpg")
    return u.render_as_string(hide_password=False)


def is_sqlite(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "sqlite"


def make_engine(url: str, **kwargs) -> AsyncEngine:
    # A failed statement's error carries its parameters (a caller's number): never in an exception's text.
    kwargs.setdefault("hide_parameters", True)
    url = async_url(url)
    u = make_url(url)
    if u.get_backend_name() != "sqlite":
        kwargs.setdefault("pool_size", 10)
        return create_async_engine(url, pool_pre_ping=True, **kwargs)
    if u.database and u.database != ":memory:":
        Path(u.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)

    @event.listens_for(engine.sync_engine, "connect")
    def _connect(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves, see below
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")      # readers do not block the writer
        cursor.execute("PRAGMA synchronous=FULL")      # a committed ticket survives a power cut
        cursor.execute("PRAGMA busy_timeout=30000")    # several processes share the file
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(conn) -> None:
        # Take the write lock up front: a read-then-write transaction cannot fail to upgrade.
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def sessionmaker(engine: AsyncEngine) -> async_sessionmaker:
    return async_sessionmaker(engine, expire_on_commit=False)


async def migrate(engine: AsyncEngine) -> None:
    """Bring the schema to head on the engine's database (idempotent): `cti db upgrade`, tools and tests."""
    await schema.upgrade(engine, SCHEMA)


async def ensure(engine: AsyncEngine) -> None:
    """At start: an empty database is made at head, one at head is used, any other raises SchemaError."""
    await schema.ensure(engine, SCHEMA)
