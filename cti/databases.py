"""The layer's databases (tickets, monitor, outbound) and the `cti db` and `cti backup` commands (issue 22).

``cti db upgrade`` runs every database's migrations; ``cti db status`` shows where each stands;
``cti backup DIR`` copies the SQLite databases and the recordings catalogue while the layer runs
(cti.backup). ``problems`` is what `cti run` checks before it starts any part.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from cti import files, schema
from cti.logs import escape_controls
from cti.settings import ConfigError, Settings, load_settings


def databases(settings: Settings) -> list[tuple[schema.Schema, str]]:
    """(schema, URL) of every database of the layer, in start order."""
    from cti.outbound.store import SCHEMA as OUTBOUND
    from cti.tickets.db import SCHEMA as TICKETS
    from queue_monitor.storage import SCHEMA as MONITOR

    return [(TICKETS, settings.tickets.database_url), (MONITOR, settings.monitor.database_url),
            (OUTBOUND, settings.outbound.database_url)]


async def problems(settings: Settings) -> list[str]:
    """Before `cti run` starts a part: empty databases are made at head; why any other cannot be used."""
    found = []
    for s, url in databases(settings):
        try:
            await schema.at_url(url, schema.ensure, s)
        except schema.SchemaError as exc:
            found.append(str(exc))
    return found


def _absent(url: str) -> bool:
    path = files.sqlite_file(url)
    return path is not None and not path.exists()


async def upgrade_all(settings: Settings) -> tuple[list[str], list[str]]:
    """Every database to head (`cti db upgrade`, and `cti demo` on its own data): what was done, one line a
    database, and why any was not upgraded."""
    files.prepare(settings)     # a database made here is 0600 like one made by `cti run`
    done, failed = [], []
    for s, url in databases(settings):
        try:
            before = await schema.at_url(url, schema.upgrade, s)
        except schema.SchemaError as exc:
            failed.append(f"not upgraded: {exc}")
            continue
        except SQLAlchemyError as exc:   # a migration step failed: its transaction is rolled back
            failed.append(f"{s.name}: upgrade failed, rolled back ({schema.where(url)}): "
                          f"{escape_controls(str(getattr(exc, 'orig', None) or exc))}")
            continue
        was = before.current or ("empty" if before.empty else "unversioned")
        what = "up to date" if before.current == before.head else f"upgraded {was} -> {before.head}"
        done.append(f"{s.name}: {what} ({before.where})")
    return done, failed


async def _upgrade(settings: Settings) -> int:
    done, failed = await upgrade_all(settings)
    for line in done:
        print(line)
    for line in failed:
        print(line, file=sys.stderr)
    return 1 if failed else 0


async def _status(settings: Settings) -> int:
    unusable = 0
    for s, url in databases(settings):
        if _absent(url):
            print(f"{s.name}: absent, made at {s.head()} by the first start ({schema.where(url)})")
            continue
        st = await schema.at_url(url, schema.state, s)
        unusable += st.problem() is not None
        print(f"{s.name}: {st.current or '-'} (this version needs {st.head}): {st.verdict} ({st.where})")
    return 1 if unusable else 0


def _settings(args: argparse.Namespace) -> Settings:
    try:
        return load_settings(args.config)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        raise SystemExit(2) from None


def cmd_db(args: argparse.Namespace) -> int:
    work = _upgrade if args.db_command == "upgrade" else _status
    return asyncio.run(work(_settings(args)))


def cmd_backup(args: argparse.Namespace) -> int:
    from cti import backup

    try:
        manifest = backup.backup(_settings(args), Path(args.dir))
    except backup.BackupError as exc:
        print(f"backup not made: {exc}", file=sys.stderr)
        return 1
    for item in manifest["files"]:
        print(f"{item['name']}: {', '.join(item['contents'])} ({item['size']} bytes)")
    for item in manifest["not_copied"]:
        print(f"not copied: {item['contents']} ({item['where']}): {item['how']}")
    print(f"manifest: {Path(args.dir) / backup.MANIFEST}")
    return 0


def add_parser(sub) -> None:
    p = sub.add_parser("db", help="the layer's databases: upgrade their schemas, show their versions")
    db = p.add_subparsers(dest="db_command", required=True)
    db.add_parser("upgrade", help="run every database's migrations (tickets, monitor, outbound); stop the layer first")
    db.add_parser("status", help="each database's schema version against this version's (exit 1: cti run would refuse)")
    p.set_defaults(func=cmd_db)

    p = sub.add_parser("backup", help="copy the SQLite databases and the recordings catalogue, with a manifest, "
                                      "while the layer runs")
    p.add_argument("dir", help="a new or empty folder to write the copies and manifest.json into")
    p.set_defaults(func=cmd_backup)
