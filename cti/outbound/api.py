"""HTTP routes of the outbound part (token-protected like every route of cti.web)."""

from __future__ import annotations

import re

from aiohttp import web

from cti.web import BadBody, json_object

NUMBER = re.compile(r"^\+?\d{3,20}$")


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
        try:
            since = float(request.query.get("since", 0))
            until = float(request.query.get("until", "inf"))
        except ValueError:
            return _bad(400, "since/until must be epoch seconds")
        counts = await self.part.store.linkage_counts(since, until)
        return web.json_response(counts | {"label": {"from_110": "110转12345 (110分流)",
                                                     "to_110": "12345转110 (应急联动)"}})

    async def test_dial(self, _request: web.Request) -> web.Response:
        return web.json_response({"test_calls": True, "hotlines": self.part.book.as_list()})

    async def campaigns(self, _request: web.Request) -> web.Response:
        return web.json_response({"campaigns": await self.part.store.campaigns(),
                                  "hold_reason": self.part.hold_reason})

    async def _set(self, request: web.Request, state: str) -> web.Response:
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
        try:
            body = json_object(await request.read())
        except BadBody as exc:
            return _bad(400, str(exc))
        numbers, calls = body.get("numbers", []), body.get("calls", [])
        if not isinstance(numbers, list) or not isinstance(calls, list):
            return _bad(400, "numbers and calls must be lists")
        entries = [{"number": n} for n in numbers] + calls
        bad = [e for e in entries if not isinstance(e, dict) or not NUMBER.match(str(e.get("number", "")))]
        if bad or not entries:
            return _bad(400, f"{len(bad)} entries without a valid number" if bad else "no numbers given")
        ids = [await self.part.schedule(request.match_info["name"], str(e["number"]), str(e.get("ticket_id", "")))
               for e in entries]
        return web.json_response({"scheduled": len(ids), "ids": ids}, status=201)

    async def do_not_call(self, request: web.Request) -> web.Response:
        try:
            body = json_object(await request.read())
        except BadBody as exc:
            return _bad(400, str(exc))
        number = str(body.get("number", ""))
        if not NUMBER.match(number):
            return _bad(400, "number must be digits")
        await self.part.store.add_do_not_call(number, self.part.now(), str(body.get("note", "")))
        return web.json_response({"number": number, "do_not_call": True}, status=201)
