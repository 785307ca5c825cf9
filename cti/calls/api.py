"""The agent desktop API (aiohttp routes) and the per-agent WebSocket hub."""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections import defaultdict
from typing import Any

from aiohttp import WSMsgType, web

from cti.calls import transfer as tx
from cti.calls.agents import Agents, check_id
from cti.calls.messages import TOPIC_SCREEN_POP, TOPIC_TRANSFER, ScreenPop, TransferUpdate
from cti.calls.openapi import document
from cti.calls.service import CallControl, CallError
from cti.web import BadBody, prepare_websocket
from cti.web import json_object as web_json_object

log = logging.getLogger(__name__)


def _error(exc: CallError) -> web.Response:
    return web.json_response({"error": exc.code, "detail": exc.detail, **exc.extra}, status=exc.status)


async def _json_body(request: web.Request, required: bool = True) -> dict[str, Any]:
    if not request.can_read_body:
        if required:
            raise CallError(400, "bad_body", "a JSON object body is required")
        return {}
    try:
        return web_json_object(await request.read())
    except BadBody as exc:
        raise CallError(400, "bad_body", str(exc)) from None


def _number(body: dict) -> str:
    number = body.get("number")
    if not isinstance(number, str) or not number.isdigit() or len(number) > 20:
        raise CallError(400, "bad_number", "number must be the hotline's digits, e.g. \"12315\"")
    return number


class AgentHub:
    """WebSockets by agent id; screen pops and transfer updates go to the agent they concern."""

    def __init__(self, bus) -> None:
        self.sockets: dict[str, weakref.WeakSet] = defaultdict(weakref.WeakSet)
        self._tasks: set[asyncio.Task] = set()
        bus.subscribe(TOPIC_SCREEN_POP, self._push)
        bus.subscribe(TOPIC_TRANSFER, self._push)

    def _push(self, _topic: str, message: ScreenPop | TransferUpdate) -> None:
        data = message.to_json()   # the WebSocket's JSON shape (type, agent, call_id...) is the API
        for ws in list(self.sockets.get(str(message.agent or ""), ())):
            if not ws.closed:
                task = asyncio.ensure_future(ws.send_json(data))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        for group in list(self.sockets.values()):
            for ws in list(group):
                await ws.close()


class CallsApi:
    def __init__(self, control: CallControl, agents: Agents, hub: AgentHub) -> None:
        self.control, self.agents, self.hub = control, agents, hub
        self.doc = document()

    def setup(self, app: web.Application) -> None:
        r = app.router
        r.add_get("/api/openapi.json", self.openapi)
        r.add_get("/api/hotlines", self.hotlines)
        r.add_get("/api/calls", self.calls)
        r.add_get("/api/calls/{call_id}", self.call)
        r.add_post("/api/calls/{call_id}/transfer", self._wrap(self.blind))
        r.add_post("/api/calls/{call_id}/threeway", self._wrap(self.threeway))
        r.add_post("/api/calls/{call_id}/cancel", self._wrap(self.cancel))
        r.add_post("/api/calls/{call_id}/drop-off", self._wrap(self.drop_off))
        r.add_post("/api/calls/{call_id}/hangup", self._wrap(self.hangup))
        r.add_post("/api/calls/{call_id}/spy", self._wrap(self.spy))
        r.add_post("/api/agents/{agent}/login", self._wrap(self.login))
        r.add_post("/api/agents/{agent}/logout", self._wrap(self.logout))
        r.add_post("/api/agents/{agent}/pause", self._wrap(self.pause))
        r.add_post("/api/agents/{agent}/unpause", self._wrap(self.unpause))
        r.add_get("/api/agents/{agent}/ws", self.websocket)
        r.add_get("/api/departments/answer-rates", self.answer_rates)

    @staticmethod
    def _wrap(handler):
        async def wrapped(request: web.Request) -> web.StreamResponse:
            try:
                return await handler(request)
            except CallError as exc:
                log.info("desktop API %s %s: %s %s", request.method, request.path, exc.status, exc.detail)
                return _error(exc)
        return wrapped

    # -- reads --------------------------------------------------------------------------------------------
    async def openapi(self, request: web.Request) -> web.Response:
        return web.json_response(self.doc)

    async def hotlines(self, request: web.Request) -> web.Response:
        return web.json_response([h.as_dict() for h in self.control.directory])

    async def calls(self, request: web.Request) -> web.Response:
        return web.json_response([self.control.describe(c) for c in self.control.tracker.calls.values()])

    async def call(self, request: web.Request) -> web.Response:
        try:
            return web.json_response(self.control.describe(self.control.call(request.match_info["call_id"])))
        except CallError as exc:
            return _error(exc)

    async def answer_rates(self, request: web.Request) -> web.Response:
        return web.json_response(self.control.stats.as_list())

    # -- call control -------------------------------------------------------------------------------------
    async def blind(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        t = await self.control.transfer(request.match_info["call_id"], _number(body), tx.BLIND)
        return web.json_response(t.as_dict())

    async def threeway(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        t = await self.control.transfer(request.match_info["call_id"], _number(body), tx.THREEWAY)
        return web.json_response(t.as_dict())

    async def cancel(self, request: web.Request) -> web.Response:
        return web.json_response((await self.control.cancel(request.match_info["call_id"])).as_dict())

    async def drop_off(self, request: web.Request) -> web.Response:
        return web.json_response((await self.control.drop_off(request.match_info["call_id"])).as_dict())

    async def hangup(self, request: web.Request) -> web.Response:
        call_id = request.match_info["call_id"]
        await self.control.hangup(call_id)
        return web.json_response({"call_id": call_id, "status": "hung up"})

    async def spy(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        return web.json_response(await self.agents.spy(request.match_info["call_id"],
                                                       str(body.get("supervisor", "")), str(body.get("mode", ""))))

    # -- agents -------------------------------------------------------------------------------------------
    async def login(self, request: web.Request) -> web.Response:
        body = await _json_body(request, required=False)
        return web.json_response(await self.agents.login(request.match_info["agent"], body.get("queues"),
                                                         bool(body.get("paused", False))))

    async def logout(self, request: web.Request) -> web.Response:
        body = await _json_body(request, required=False)
        return web.json_response(await self.agents.logout(request.match_info["agent"], body.get("queues")))

    async def pause(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        reason = body.get("reason", "")
        if not isinstance(reason, str):
            raise CallError(400, "bad_reason", "reason must be a string")
        return web.json_response(await self.agents.pause(request.match_info["agent"], True, reason))

    async def unpause(self, request: web.Request) -> web.Response:
        return web.json_response(await self.agents.pause(request.match_info["agent"], False))

    async def websocket(self, request: web.Request) -> web.StreamResponse:
        try:
            agent = check_id(request.match_info["agent"])
        except CallError as exc:
            return _error(exc)
        ws = web.WebSocketResponse(heartbeat=30)
        if not ws.can_prepare(request).ok:
            return web.json_response({"error": "not_websocket", "detail": "connect with a WebSocket client"},
                                     status=400)
        await prepare_websocket(request, ws)
        self.hub.sockets[agent].add(ws)
        await ws.send_json({"type": "hello", "agent": agent,
                            "call": (self.control.describe(c) if (c := self.control.tracker.call_of_agent(agent)) else None)})
        async for msg in ws:   # the desktop only listens; anything it sends is ignored
            if msg.type == WSMsgType.ERROR:
                break
        self.hub.sockets[agent].discard(ws)
        return ws
