"""The layer's files are its own (issue 17): databases and secrets 0600, the folders it makes 0700.

SQLite creates a database's -wal and -shm files with the database file's own mode, so a database made
here 0600 before SQLite opens it stays private with its journals. A folder on the way to
``recordings.capture_dir`` (written by Asterisk, another user) gets 0711: Asterisk can pass, nobody
else can list it; the files in it are 0600 anyway.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from pydantic import BaseModel

FILE_MODE, DIR_MODE, PASSAGE_MODE = 0o600, 0o700, 0o711


def sqlite_file(value: str) -> Path | None:
    """The file of an SQLite URL (``sqlite+aiosqlite:///var/cti.db``), or None."""
    scheme, sep, rest = value.partition(":///")
    if not sep or not scheme.startswith("sqlite") or not rest or rest.startswith(":memory:"):
        return None
    return Path(rest.split("?", 1)[0])


def private_dir(path: Path, mode: int = DIR_MODE) -> None:
    """Make ``path`` (and missing parents) with ``mode``; a folder that exists is left as it is."""
    missing = []
    while not path.exists():
        missing.append(path)
        path = path.parent
    for folder in reversed(missing):
        folder.mkdir(mode=mode)
        folder.chmod(mode)      # mkdir's mode is filtered by the umask


def private_file(path: Path) -> None:
    """Create ``path`` empty with 0600, or take an existing one of ours (and its journals) to 0600."""
    private_dir(path.parent)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm"), Path(f"{path}-journal")):
        with contextlib.suppress(FileNotFoundError, PermissionError):
            if p.stat().st_uid == os.getuid():
                p.chmod(FILE_MODE)


def write_secret(path: Path, value: str) -> None:
    """Write a secret file readable by its owner only, from its first byte (no chmod afterwards)."""
    private_dir(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    with os.fdopen(fd, "w") as f:
        f.write(value)


def _values(settings: BaseModel):
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if isinstance(value, BaseModel):
            yield from _values(value)
        else:
            yield name, value


def prepare(settings) -> None:
    """Before the parts open anything: data_dir and the folders and SQLite files of every setting."""
    capture = Path(settings.recordings.capture_dir).absolute() if settings.recordings.enabled else None
    private_dir(settings.data_dir)
    for _name, value in _values(settings):
        path = sqlite_file(value) if isinstance(value, str) else None
        if path is None and isinstance(value, Path) and value.suffix == ".db":
            path = value
        if path is not None:
            private_file(path)
    private_dir(Path(settings.recordings.store_dir))
    if capture is not None:          # Asterisk must reach its spool through our folders (inside data_dir only)
        data_dir = Path(settings.data_dir).absolute()
        for folder in capture.parents:
            if (folder.is_relative_to(data_dir) and folder.exists() and folder.stat().st_uid == os.getuid()
                    and folder.stat().st_mode & 0o777 == DIR_MODE):
                folder.chmod(PASSAGE_MODE)
