"""`cti backup DIR`: a consistent copy of the layer's SQLite databases while it runs, with a manifest.

Each file is copied by SQLite's online backup API (sqlite3.Connection.backup) in one step, i.e. inside one
read transaction: the copy is the database as one committed transaction left it, never half of one, and
in WAL mode (cti.tickets.db, recordings.catalogue) the layer keeps writing meanwhile. Files are copied one
after another: each is consistent in itself, not with the others at one instant (the outbox and the
recordings catalogue can each be a few rows ahead of the other). A database on PostgreSQL is not copied:
the manifest says so and the README gives the pg_dump command. manifest.json is written last: a folder
without it is an unfinished backup.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sqlite3
from pathlib import Path

import cti
from cti import files, schema
from cti.databases import databases
from cti.settings import Settings

MANIFEST = "manifest.json"
CATALOGUE = "recordings-catalogue"   # the recordings catalogue's name in the manifest
BUSY_MS = 30000                       # wait this long for a writer's lock (ms), as the layer's own connections


class BackupError(RuntimeError):
    pass


def _sources(settings: Settings) -> tuple[dict[Path, list[str]], list[dict]]:
    """SQLite files to copy, each with what it holds; and what is not copied, with why."""
    copy: dict[Path, list[str]] = {}
    skipped = []
    for s, url in databases(settings):
        path = files.sqlite_file(url)
        if path is None:
            skipped.append({"contents": s.name, "where": schema.where(url),
                            "how": "on PostgreSQL: back it up with pg_dump (see the README)"})
        elif not path.exists():
            skipped.append({"contents": s.name, "where": str(path), "how": "absent: the layer never started here"})
        else:
            copy.setdefault(path.resolve(), []).append(s.name)
    r = settings.recordings
    if Path(r.catalogue).exists():
        copy.setdefault(Path(r.catalogue).resolve(), []).append(CATALOGUE)
    if r.enabled:   # audio is large and only ever added: copied by the tools made for that, not here
        skipped.append({"contents": "recordings (audio files)",
                        "where": f"s3 bucket {r.s3_bucket}" if r.store == "s3" else str(Path(r.store_dir).resolve()),
                        "how": "copy the folder with rsync (its .link-secret too), or the bucket's own replication"})
    return copy, skipped


def _versions(db: sqlite3.Connection, settings: Settings, contents: list[str]) -> dict[str, str | None]:
    tables = {s.name: s.version_table for s, _url in databases(settings)}
    out = {}
    for name in contents:
        if name in tables:
            try:
                row = db.execute(f'SELECT version_num FROM "{tables[name]}"').fetchone()
            except sqlite3.OperationalError:      # no version table: an empty file, or older than versioning
                row = None
            out[name] = row[0] if row else None
    return out


def _copy(source: Path, target: Path) -> dict[str, int]:
    """Copy ``source`` into ``target`` online; the copy is a single file (no -wal) that passed its integrity
    check. Returns the rows per table of the copy."""
    files.private_file(target)
    src = sqlite3.connect(source, timeout=BUSY_MS / 1000)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)                                   # pages=-1: all at once, one read transaction
        dst.execute("PRAGMA journal_mode=DELETE")         # the copy stands alone, whatever the source's mode
        check = dst.execute("PRAGMA integrity_check").fetchone()[0]
        if check != "ok":
            raise BackupError(f"the copy of {source} failed its integrity check: {check}")
        names = [r[0] for r in dst.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                           "AND name NOT LIKE 'sqlite_%' ORDER BY name")]
        return {n: dst.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0] for n in names}
    except sqlite3.Error as exc:
        raise BackupError(f"cannot copy {source}: {exc}") from exc
    finally:
        src.close()
        dst.close()


def _sha256(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def backup(settings: Settings, folder: Path) -> dict:
    """Copy every SQLite database of ``settings`` and the recordings catalogue into ``folder`` (new or
    empty, made 0700); return the manifest, also written there as manifest.json."""
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise BackupError(f"{folder} exists and is not an empty folder: choose a new one")
    copy, skipped = _sources(settings)
    if not copy:    # a wrong --config (or none) must not pass for a backup
        found = "; ".join(f"{x['contents']}: {x['where']} ({x['how']})" for x in skipped)
        raise BackupError(f"nothing to copy with these settings (data_dir {settings.data_dir}): {found}")
    files.private_dir(folder)
    made = []
    for source, contents in copy.items():
        name = "+".join(contents) + ".db"
        tables = _copy(source, folder / name)
        with sqlite3.connect(folder / name) as db:
            versions = _versions(db, settings, contents)
        made.append({"name": name, "source": str(source), "contents": contents, "versions": versions,
                     "size": (folder / name).stat().st_size, "sha256": _sha256(folder / name), "tables": tables})
    manifest = {"format": 1, "layer_version": cti.__version__,
                "made_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "files": made, "not_copied": skipped,
                "restore": "stop the layer; copy each file over its source (remove the source's -wal and -shm "
                           "files); `cti db upgrade` if the layer is newer than the backup; start the layer"}
    files.private_file(folder / MANIFEST)
    (folder / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n")
    return manifest
