"""HTTP routes: signed downloads, recording details and a playback page for supervisors.

``GET /api/recordings/{id}?expires=..&sig=..`` and ``/recordings/{id}/play?expires=..&sig=..`` need no
credential: the handler checks the signature (403 when expired or wrong); without one, cti/roles.py's
table asks for a supervisor's (or admin's) credential.
"""

from __future__ import annotations

import html
import logging

from aiohttp import web
from pydantic import Field

from cti.web import QueryModel, query_as
from recordings import links
from recordings.convert import CONTENT_TYPES
from recordings.storage import StoreError

log = logging.getLogger(__name__)


class ListingQuery(QueryModel):
    """``GET /api/recordings?limit=100&offset=0&status=ready``."""
    limit: int = Field(100, ge=1, le=1000)
    offset: int = Field(0, ge=0, le=10**9)
    status: str = Field("", pattern=r"^[a-z_]{0,20}$")


class RecordingsApi:
    def __init__(self, part) -> None:
        self.part = part

    def setup(self, app: web.Application) -> None:
        app.router.add_get("/api/recordings", self.listing)
        app.router.add_get("/api/recordings/{uniqueid}", self.download)
        app.router.add_get("/api/recordings/{uniqueid}/info", self.info)
        app.router.add_get("/recordings/{uniqueid}/play", self.play)

    async def listing(self, request: web.Request) -> web.Response:
        q = query_as(request, ListingQuery)
        rows = await self.part.db(self.part.catalogue.listing, q.status or None, q.limit, q.offset)
        return web.json_response({"recordings": [r.as_json() for r in rows]})

    async def _record(self, uniqueid: str):
        rec = await self.part.db(self.part.catalogue.get, uniqueid)
        if rec is None:
            raise web.HTTPNotFound(text=f"no recording for call {uniqueid}")
        return rec

    async def download(self, request: web.Request) -> web.StreamResponse:
        uniqueid = request.match_info["uniqueid"]
        if "sig" in request.query or "expires" in request.query:
            verdict = links.verify(self.part.secret, uniqueid, request.query.get("expires", ""),
                                   request.query.get("sig", ""), self.part.clock())
            if verdict != "ok":
                log.warning("recording %s: %s download link refused (from %s)", uniqueid, verdict, request.remote)
                return web.json_response({"error": "forbidden", "detail": f"the link is {verdict}"}, status=403)
        if uniqueid in self.part.answered and await self.part.db(self.part.catalogue.get, uniqueid) is None:
            # a link handed out with a ticket during the call: the capture is still being written
            return web.json_response({"error": "not ready", "status": "recording",
                                      "detail": "the call is still being recorded"},
                                     status=503, headers={"Retry-After": "60"})
        rec = await self._record(uniqueid)
        if rec.status == "deleted":
            raise web.HTTPGone(text="the recording was deleted by the retention policy")
        if rec.status == "empty":
            raise web.HTTPNotFound(text="nobody answered this call: it has no recording")
        if rec.status != "ready":
            return web.json_response({"error": "not ready", "status": rec.status,
                                      "detail": "the recording is still being converted"},
                                     status=503, headers={"Retry-After": str(int(self.part.settings.retry_min))})
        try:
            return await self.part.store.serve(rec.key, request, CONTENT_TYPES.get(rec.format, "application/octet-stream"))
        except FileNotFoundError:
            log.error("recording %s: stored file %s is missing", uniqueid, rec.key)
            raise web.HTTPNotFound(text="the stored file is missing") from None
        except StoreError as exc:
            log.error("recording %s: the store cannot serve it: %s", uniqueid, exc)
            return web.json_response({"error": "store unavailable", "detail": "the recording store cannot be reached"},
                                     status=503, headers={"Retry-After": "30"})

    async def info(self, request: web.Request) -> web.Response:
        rec = await self._record(request.match_info["uniqueid"])
        return web.json_response(rec.as_json() | {"link": self.part.link_for(rec.uniqueid)})

    async def play(self, request: web.Request) -> web.Response:
        """The playback page: a supervisor's credential, or the signature of the recording's own link
        (the wall's rows carry that, never the wall's credential)."""
        uniqueid = request.match_info["uniqueid"]
        if "sig" in request.query or "expires" in request.query:
            verdict = links.verify(self.part.secret, uniqueid, request.query.get("expires", ""),
                                   request.query.get("sig", ""), self.part.clock())
            if verdict != "ok":
                log.warning("recording %s: %s playback link refused (from %s)", uniqueid, verdict, request.remote)
                return web.json_response({"error": "forbidden", "detail": f"the link is {verdict}"}, status=403)
        rec = await self._record(uniqueid)
        src = html.escape(links.signed_path(self.part.secret, rec.uniqueid, self.part.clock(), self.part.settings.link_ttl))
        uid = html.escape(rec.uniqueid)
        if rec.status == "ready":
            body = (f'<audio id="player" controls preload="metadata" src="{src}"></audio>'
                    f'<p>时长 duration {rec.duration:.1f} s · SHA-256 <code>{html.escape(rec.sha256 or "")}</code></p>')
        else:
            body = f'<p id="state">录音尚不可播放 (not playable yet): {html.escape(rec.status)}</p>'
        page = (f'<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
                f'<title>通话录音 {uid}</title></head><body><h1>通话录音 Call recording {uid}</h1>{body}</body></html>')
        return web.Response(text=page, content_type="text/html")
