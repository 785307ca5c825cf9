"""Where converted recordings live. One small interface; the local date tree is the default,
an S3-compatible object store (``recordings/s3.py``) the option.

The converter always writes a local staging file; ``commit`` makes it the stored recording (a no-op
locally, an upload for S3); ``serve`` answers a download (the file, or bytes streamed from S3).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Protocol

from aiohttp import web


class StoreError(Exception):
    """The store refused or could not be reached; the message says which and why."""


class Store(Protocol):
    def key_for(self, uniqueid: str, captured_at: float, fmt: str) -> str: ...
    def staging_path(self, key: str) -> Path: ...     # where the converter writes
    async def commit(self, key: str) -> None: ...     # make the staged file the stored one
    async def delete(self, key: str) -> None: ...
    async def serve(self, key: str, request: web.Request, content_type: str) -> web.StreamResponse: ...
    # raises FileNotFoundError when the stored object is missing
    async def close(self) -> None: ...


def dated_key(uniqueid: str, captured_at: float, fmt: str) -> str:
    """``YYYY/MM/DD/<uniqueid>.<fmt>``, dated by the capture in the host's time zone."""
    day = time.strftime("%Y/%m/%d", time.localtime(captured_at))
    safe = uniqueid.replace("/", "_")
    return f"{day}/{safe}.{fmt}"


def inside(root: Path, key: str) -> Path:
    path = (root / key).resolve()
    if root.resolve() not in path.parents:
        raise ValueError(f"storage key {key!r} leaves the store")
    return path


class LocalStore:
    """``<root>/YYYY/MM/DD/<uniqueid>.<fmt>``."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def key_for(self, uniqueid: str, captured_at: float, fmt: str) -> str:
        return dated_key(uniqueid, captured_at, fmt)

    def _path(self, key: str) -> Path:
        return inside(self.root, key)

    def staging_path(self, key: str) -> Path:
        return self._path(key)

    async def commit(self, key: str) -> None:
        # the converter (ffmpeg) wrote the final file with the umask's mode: a citizen's voice is ours only
        await asyncio.to_thread(self._path(key).chmod, 0o600)

    def local_path(self, key: str) -> Path | None:
        path = self._path(key)
        return path if path.exists() else None

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._path(key).unlink, missing_ok=True)

    async def serve(self, key: str, request: web.Request, content_type: str) -> web.StreamResponse:
        path = await asyncio.to_thread(self.local_path, key)
        if path is None:
            raise FileNotFoundError(key)
        return web.FileResponse(path, headers={"Content-Type": content_type, "Cache-Control": "private, max-age=300"})

    async def close(self) -> None:
        return None
