"""HTTP routes of the outbound part (token-protected like every route of cti.web)."""

from __future__ import annotations

import re
from typing import Annotated

from aiohttp import web
from pydantic import Field

from cti.web import InvalidInput, NoBody, QueryModel, StrictModel, body_as, query_as

NUMBER = re.compile(r"^\+?\d{3,20}$")
Number = Annotated[str, Field(pattern=NUMBER.pattern)]
MAX_UPLOAD = 10_000     # numbers per upload: a bigger list is split by the admin's tool


class CallIn(StrictModel):
    number: Number
    ticket_id: str = Field("", max_length=40)


class UploadIn(StrictModel):
    """An admin's list: ``{"numbers": ["139..."]}`` or ``{"calls": [{"number", "ticket_id"}]}``."""
    numbers: list[Number] = Field(default_factory=list, max_length=MAX_UPLOAD)
    calls: list[CallIn] = Field(default_factory=list, max_length=MAX_UPLOAD)


class DoNotCallIn(StrictModel):
    number: Number
    note: str = Field("", max_length=200)


class LinkageQuery(QueryModel):
    since: float = Field(0, ge=0, allow_inf_nan=False)
    until: float = Field(float("inf"), ge=0)


def _bad(status: int, detail: str) -> web.Response:
    return web.json_response({"error": detail}, status=status)


class OutboundApi:
    def __init__(self, part) -> None:
        self.part = part

    def setup(self, app: web.Application) -> None:
        r = app.router
        r.add_get("/api/outbound/linkage", self.linkage)
        r.add_get("/api/outbound/test-dial", self.test_dial)
        r.add_get("/api/outbound/campaigns", self.campaigns)
        r.add_post("/api/outbound/campaigns/{name}/pause", self.pause)
        r.add_post("/api/outbound/campaigns/{name}/resume", self.resume)
        r.add_post("/api/outbound/campaigns/{name}/numbers", self.upload)
        r.add_post("/api/outbound/do-not-call", self.do_not_call)

    async def linkage(self, request: web.Request) -> web.Response:
        """110 linkage counts: ``from_110`` (110 handed to 12345), ``to_110`` (12345 agents handed to 110)."""
        q = query_as(request, LinkageQuery)
        counts = await self.part.store.linkage_counts(q.since, q.until)
        return web.json_response(counts | {"label": {"from_110": "110转12345 (110分流)",
                                                     "to_110": "12345转110 (应急联动)"}})

    async def test_dial(self, _request: web.Request) -> web.Response:
        return web.json_response({"test_calls": True, "hotlines": self.part.book.as_list()})

    async def campaigns(self, _request: web.Request) -> web.Response:
        return web.json_response({"campaigns": await self.part.store.campaigns(),
                                  "hold_reason": self.part.hold_reason})

    async def _set(self, request: web.Request, state: str) -> web.Response:
        await body_as(request, NoBody, required=False)
        name = request.match_info["name"]
        if not await self.part.store.set_state(name, state):
            return _bad(404, f"no campaign {name!r}")
        self.part._wake.set()
        return web.json_response({"name": name, "state": state})

    async def pause(self, request: web.Request) -> web.Response:
        return await self._set(request, "paused")

    async def resume(self, request: web.Request) -> web.Response:
        return await self._set(request, "active")

    async def upload(self, request: web.Request) -> web.Response:
        """An admin's list: ``{"numbers": ["139..."]}`` or ``{"calls": [{"number", "ticket_id"}]}``."""
        body = await body_as(request, UploadIn)
        entries = [(n, "") for n in body.numbers] + [(c.number, c.ticket_id) for c in body.calls]
        if not entries:
            raise InvalidInput("numbers", "no numbers given")
        name = request.match_info["name"]
        if len(name) > 64:
            raise InvalidInput("name", "a campaign name has at most 64 characters")
        ids = [await self.part.schedule(name, number, ticket_id) for number, ticket_id in entries]
        return web.json_response({"scheduled": len(ids), "ids": ids}, status=201)

    async def do_not_call(self, request: web.Request) -> web.Response:
        body = await body_as(request, DoNotCallIn)
        await self.part.store.add_do_not_call(body.number, self.part.now(), body.note)
        return web.json_response({"number": body.number, "do_not_call": True}, status=201)
