"""The S3-compatible store: converted recordings uploaded to a bucket, downloads streamed back.

The S3 calls and their Signature V4 are aiobotocore's (botocore's signer and S3 model on aiohttp): PUT
after conversion (the file streamed from disk), GET (with the browser's Range, so seeking works) behind
our own signed link, DELETE by retention. The object store can stay on an internal network: citizens'
recordings never get a public S3 URL, and our link keeps its expiry, its 403/410/503 answers and its
audit log line.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from aiohttp import web
from botocore.exceptions import BotoCoreError, ClientError

from recordings.settings import RecordingsSettings
from recordings.storage import StoreError, dated_key, inside

log = logging.getLogger(__name__)

PASSED_HEADERS = ("Content-Length", "Content-Range", "Accept-Ranges", "ETag", "Last-Modified")
CHUNK = 1 << 16      # bytes per write while streaming a download to the browser


def _status(exc: ClientError) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code") or "")


class S3Store:
    def __init__(self, settings: RecordingsSettings) -> None:
        s = settings
        self.staging = Path(s.store_dir) / "staging"   # the converter writes here; removed after upload
        self.endpoint = s.s3_endpoint_url.rstrip("/")
        self.bucket = s.s3_bucket
        self.prefix = s.s3_prefix
        self._client_args = {
            "region_name": s.s3_region, "endpoint_url": self.endpoint, "aws_access_key_id": s.s3_access_key,
            "aws_secret_access_key": s.s3_secret_key.get_secret_value(),
            "config": AioConfig(
                signature_version="s3v4", connect_timeout=s.s3_timeout, read_timeout=s.s3_timeout,
                # the pipeline retries a failed upload with its own backoff and counts attempts; no second layer
                retries={"mode": "standard", "total_max_attempts": 1},
                # a SHA-256-signed payload (every S3-compatible store checks it), not the newer CRC trailers
                # that older MinIO/Ceph refuse
                s3={"addressing_style": "path" if s.s3_path_style else "virtual", "payload_signing_enabled": True},
                request_checksum_calculation="when_required", response_checksum_validation="when_required"),
        }
        self._stack: contextlib.AsyncExitStack | None = None
        self._client = None
        self._lock = asyncio.Lock()

    # -- keys -----------------------------------------------------------------------------------
    def key_for(self, uniqueid: str, captured_at: float, fmt: str) -> str:
        return dated_key(uniqueid, captured_at, fmt)

    def staging_path(self, key: str) -> Path:
        return inside(self.staging, key)

    def object_key(self, key: str) -> str:
        """The key in the bucket: the configured prefix, then our dated key."""
        return self.prefix + key

    # -- the client -----------------------------------------------------------------------------
    async def client(self):
        """The aiobotocore S3 client, made on first use (it loads botocore's S3 model) and kept."""
        async with self._lock:
            if self._client is None:
                self._stack = contextlib.AsyncExitStack()
                self._client = await self._stack.enter_async_context(
                    get_session().create_client("s3", **self._client_args))
            return self._client

    def _error(self, op: str, key: str, exc: Exception) -> StoreError:
        where = f"S3 {op} {self.bucket}/{self.object_key(key)}"
        if isinstance(exc, ClientError):
            return StoreError(f"{where}: HTTP {_status(exc)} {_code(exc)}")
        return StoreError(f"{where}: {type(exc).__name__}: {exc}")

    # -- operations ------------------------------------------------------------------------------
    async def commit(self, key: str) -> None:
        path = self.staging_path(key)
        s3 = await self.client()
        with path.open("rb") as body:   # streamed from disk; botocore hashes it for the signed payload
            try:
                await s3.put_object(Bucket=self.bucket, Key=self.object_key(key), Body=body,
                                    ContentType="application/octet-stream")
            except (ClientError, BotoCoreError, OSError, TimeoutError) as exc:
                raise self._error("PUT", key, exc) from None
        await asyncio.to_thread(path.unlink, missing_ok=True)

    async def exists(self, key: str) -> bool:
        s3 = await self.client()
        try:
            await s3.head_object(Bucket=self.bucket, Key=self.object_key(key))
            return True
        except ClientError as exc:
            if _status(exc) == 404:
                return False
            raise self._error("HEAD", key, exc) from None
        except (BotoCoreError, OSError, TimeoutError) as exc:
            raise self._error("HEAD", key, exc) from None

    async def delete(self, key: str) -> None:
        s3 = await self.client()
        try:
            await s3.delete_object(Bucket=self.bucket, Key=self.object_key(key))   # a missing key is a 204 too
        except ClientError as exc:
            if _status(exc) != 404:
                raise self._error("DELETE", key, exc) from None
        except (BotoCoreError, OSError, TimeoutError) as exc:
            raise self._error("DELETE", key, exc) from None

    async def serve(self, key: str, request: web.Request, content_type: str) -> web.StreamResponse:
        s3 = await self.client()
        ranged = {"Range": request.headers["Range"]} if "Range" in request.headers else {}
        headers = {"Content-Type": content_type, "Cache-Control": "private, max-age=300"}
        try:
            got = await s3.get_object(Bucket=self.bucket, Key=self.object_key(key), **ranged)
        except ClientError as exc:
            status = _status(exc)
            if status == 404:
                raise FileNotFoundError(key) from None
            if status == 416:          # a range past the end: the browser gets the store's answer
                upstream = exc.response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
                extra = {h: upstream[h.lower()] for h in ("Content-Range",) if h.lower() in upstream}
                return web.Response(status=416, headers={**headers, **extra})
            raise self._error("GET", key, exc) from None
        except (BotoCoreError, OSError, TimeoutError) as exc:
            raise self._error("GET", key, exc) from None
        meta = got["ResponseMetadata"]
        upstream = meta.get("HTTPHeaders", {})
        out = web.StreamResponse(status=meta["HTTPStatusCode"], headers={
            **headers, **{h: upstream[h.lower()] for h in PASSED_HEADERS if h.lower() in upstream}})
        async with got["Body"] as body:
            await out.prepare(request)
            async for chunk in body.iter_chunks(CHUNK):
                await out.write(chunk)
        await out.write_eof()
        return out

    async def create_bucket(self) -> None:
        """For first setup and tests; an existing bucket of ours is fine."""
        s3 = await self.client()
        try:
            await s3.create_bucket(Bucket=self.bucket)
        except ClientError as exc:
            if _code(exc) not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists") and _status(exc) != 409:
                raise StoreError(f"S3 create bucket {self.bucket}: HTTP {_status(exc)} {_code(exc)}") from None
        except (BotoCoreError, OSError, TimeoutError) as exc:
            raise StoreError(f"S3 create bucket {self.bucket}: {type(exc).__name__}: {exc}") from None

    async def close(self) -> None:
        if self._stack is not None:
            await self._stack.aclose()
            self._stack = self._client = None
