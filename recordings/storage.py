"""Where converted recordings live. One small interface; the local date tree is the default.

An S3-compatible store would implement the same three methods (upload after conversion, a local
path or None, delete); it is not implemented yet, so ``store: s3`` is not accepted by the settings.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Protocol


class Store(Protocol):
    def key_for(self, uniqueid: str, captured_at: float, fmt: str) -> str: ...
    def staging_path(self, key: str) -> Path: ...     # where the converter writes
    def commit(self, key: str) -> None: ...           # make the staged file the stored one
    def local_path(self, key: str) -> Path | None: ...
    def delete(self, key: str) -> None: ...


class LocalStore:
    """``<root>/YYYY/MM/DD/<uniqueid>.<fmt>``, dated by the capture in the host's time zone."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def key_for(self, uniqueid: str, captured_at: float, fmt: str) -> str:
        day = time.strftime("%Y/%m/%d", time.localtime(captured_at))
        safe = uniqueid.replace("/", "_")
        return f"{day}/{safe}.{fmt}"

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root.resolve() not in path.parents:
            raise ValueError(f"storage key {key!r} leaves the store")
        return path

    def staging_path(self, key: str) -> Path:
        return self._path(key)

    def commit(self, key: str) -> None:
        return None  # the converter wrote the final file already

    def local_path(self, key: str) -> Path | None:
        path = self._path(key)
        return path if path.exists() else None

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)
