"""The S3-compatible store: converted recordings uploaded to a bucket, downloads streamed back.

Plain S3 REST over aiohttp with Signature V4 (``recordings/sigv4.py``): PUT after conversion, GET
(with the browser's Range, so seeking works) behind our own signed link, DELETE by retention. The
object store can stay on an internal network: citizens' recordings never get a public S3 URL, and
our link keeps its expiry, its 403/410/503 answers and its audit log line.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from pathlib import Path
from urllib.parse import quote, urlsplit

import aiohttp
from aiohttp import web

from recordings import sigv4
from recordings.settings import RecordingsSettings
from recordings.storage import StoreError, dated_key, inside

log = logging.getLogger(__name__)

PASSED_HEADERS = ("Content-Length", "Content-Range", "Accept-Ranges", "ETag", "Last-Modified")


def _read_with_hash(path: Path) -> tuple[bytes, str]:
    data = path.read_bytes()  # a converted call is small (24 kbit/s: 11 MB for an hour)
    return data, hashlib.sha256(data).hexdigest()


class S3Store:
    def __init__(self, settings: RecordingsSettings) -> None:
        s = settings
        self.staging = Path(s.store_dir) / "staging"   # the converter writes here; removed after upload
        self.endpoint = s.s3_endpoint_url.rstrip("/")
        self.bucket = s.s3_bucket
        self.region = s.s3_region
        self.access_key = s.s3_access_key
        self._secret = s.s3_secret_key.get_secret_value()
        self.path_style = s.s3_path_style
        self.prefix = s.s3_prefix
        self.timeout = aiohttp.ClientTimeout(total=s.s3_timeout)
        self._session: aiohttp.ClientSession | None = None

    # -- keys and URLs --------------------------------------------------------------------------
    def key_for(self, uniqueid: str, captured_at: float, fmt: str) -> str:
        return dated_key(uniqueid, captured_at, fmt)

    def staging_path(self, key: str) -> Path:
        return inside(self.staging, key)

    def url(self, key: str = "") -> str:
        path = quote(self.prefix + key, safe="/-_.~") if key else ""
        if self.path_style:
            return f"{self.endpoint}/{self.bucket}/{path}" if key else f"{self.endpoint}/{self.bucket}"
        parts = urlsplit(self.endpoint)
        return f"{parts.scheme}://{self.bucket}.{parts.netloc}/{path}"

    # -- requests -------------------------------------------------------------------------------
    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            # auto_decompress off: the bytes (and the Range offsets) are the object's, not a decoded form
            self._session = aiohttp.ClientSession(timeout=self.timeout, auto_decompress=False)
        return self._session

    def _signed(self, method: str, url: str, headers: dict[str, str] | None = None,
                payload_sha256: str = sigv4.EMPTY_SHA256) -> dict[str, str]:
        return sigv4.sign(method, url, headers or {}, payload_sha256, self.access_key, self._secret, self.region)

    async def _request(self, method: str, key: str, ok: tuple[int, ...], headers: dict[str, str] | None = None,
                       data: bytes | None = None, payload_sha256: str = sigv4.EMPTY_SHA256) -> tuple[int, bytes]:
        url = self.url(key)
        try:
            async with self._http().request(method, url, data=data, skip_auto_headers=("Content-Type",),
                                            headers=self._signed(method, url, headers, payload_sha256)) as r:
                body = await r.read()
                if r.status not in ok:
                    raise StoreError(f"S3 {method} {self.bucket}/{self.prefix}{key}: HTTP {r.status} "
                                     f"{_s3_error(body)}")
                return r.status, body
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise StoreError(f"S3 {method} {self.bucket}/{self.prefix}{key}: {type(exc).__name__}: {exc}") from None

    async def commit(self, key: str) -> None:
        path = self.staging_path(key)
        data, digest = await asyncio.to_thread(_read_with_hash, path)
        # the signed payload hash makes the store check the bytes it received
        await self._request("PUT", key, (200,), {"Content-Type": "application/octet-stream",
                                                 "Content-Length": str(len(data))}, data, digest)
        await asyncio.to_thread(path.unlink, missing_ok=True)

    async def exists(self, key: str) -> bool:
        status, _ = await self._request("HEAD", key, (200, 404))
        return status == 200

    async def delete(self, key: str) -> None:
        await self._request("DELETE", key, (200, 204, 404))

    async def serve(self, key: str, request: web.Request, content_type: str) -> web.StreamResponse:
        url = self.url(key)
        headers = {"Range": request.headers["Range"]} if "Range" in request.headers else {}
        try:
            upstream = await self._http().get(url, headers=self._signed("GET", url, headers))
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise StoreError(f"S3 GET {self.bucket}/{self.prefix}{key}: {type(exc).__name__}: {exc}") from None
        async with upstream:
            if upstream.status == 404:
                raise FileNotFoundError(key)
            if upstream.status not in (200, 206, 416):
                raise StoreError(f"S3 GET {self.bucket}/{self.prefix}{key}: HTTP {upstream.status} "
                                 f"{_s3_error(await upstream.read())}")
            out = web.StreamResponse(status=upstream.status, headers={
                "Content-Type": content_type, "Cache-Control": "private, max-age=300",
                **{h: upstream.headers[h] for h in PASSED_HEADERS if h in upstream.headers}})
            await out.prepare(request)
            async for chunk in upstream.content.iter_chunked(1 << 16):
                await out.write(chunk)
            await out.write_eof()
            return out

    async def create_bucket(self) -> None:
        """For first setup and tests; an existing bucket of ours is fine."""
        url = self.url()
        async with self._http().put(url, headers=self._signed("PUT", url)) as r:
            body = await r.read()
            if r.status not in (200, 409):
                raise StoreError(f"S3 create bucket {self.bucket}: HTTP {r.status} {_s3_error(body)}")

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


def _s3_error(body: bytes) -> str:
    """The <Code> of an S3 error document, enough for a log line."""
    text = body[:2000].decode("utf-8", "replace")
    start, end = text.find("<Code>"), text.find("</Code>")
    return text[start + 6:end] if 0 <= start < end else text[:200]
