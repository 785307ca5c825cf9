"""The agent desktop API (aiohttp routes) and the per-agent WebSocket hub."""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections import defaultdict
from typing import Annotated, Literal

from aiohttp import WSMsgType, web
from pydantic import Field, model_validator

from cti.calls import transfer as tx
from cti.calls.agents import AGENT_ID, SPY_MODES, Agents, check_id
from cti.calls.messages import (
    TOPIC_CALL_ENDED,
    TOPIC_SCREEN_POP,
    TOPIC_TRANSFER,
    CallEnded,
    ScreenPop,
    TransferUpdate,
)
from cti.calls.openapi import document
from cti.calls.service import CallControl, CallError
from cti.roles import require_own
from cti.web import NoBody, QueryModel, StrictModel, body_as, prepare_websocket, query_as

log = logging.getLogger(__name__)


def _error(exc: CallError) -> web.Response:
    return web.json_response({"error": exc.code, "detail": exc.detail, **exc.extra}, status=exc.status)


Id = Annotated[str, Field(pattern=AGENT_ID.pattern)]


class NumberIn(StrictModel):
    """Transfer and three-way: the department hotline's digits."""
    number: str = Field(pattern=r"^\d{1,20}$")


Field_ = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[^\s/]+$")]   # 税务, 社保, 市场准入...


class SpecialistIn(StrictModel):
    """Three-way call to a policy specialist: the field, and one specialist of the offer or each in turn."""
    field: Field_
    specialist: Id | None = None
    in_turn: bool = False

    @model_validator(mode="after")
    def _one_way(self) -> SpecialistIn:
        if (self.specialist is None) == (not self.in_turn):
            raise ValueError("give either 'specialist' (one of the offer) or 'in_turn': true")
        return self


class OfferQuery(QueryModel):
    field: Field_ | None = None


class SpyIn(StrictModel):
    supervisor: Id
    mode: Literal[SPY_MODES]


class LoginIn(StrictModel):
    queues: list[Id] | None = Field(None, min_length=1, max_length=50)
    paused: bool = False


class LogoutIn(StrictModel):
    queues: list[Id] | None = Field(None, min_length=1, max_length=50)


class PauseIn(StrictModel):
    reason: str = Field(max_length=80)


class AgentHub:
    """WebSockets by agent id; screen pops and transfer updates go to the agent they concern."""

    def __init__(self, bus) -> None:
        self.sockets: dict[str, weakref.WeakSet] = defaultdict(weakref.WeakSet)
        self._tasks: set[asyncio.Task] = set()
        bus.subscribe(TOPIC_SCREEN_POP, self._push)
        bus.subscribe(TOPIC_TRANSFER, self._push)
        bus.subscribe(TOPIC_CALL_ENDED, self._push)

    def _push(self, _topic: str, message: ScreenPop | TransferUpdate | CallEnded) -> None:
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
    def __init__(self, control: CallControl, agents: Agents, hub: AgentHub, specialists=None) -> None:
        self.control, self.agents, self.hub = control, agents, hub
        self.specialists = specialists      # cti.calls.specialist_calls.SpecialistCalls
        self.doc = document()

    def setup(self, app: web.Application) -> None:
        r = app.router
        r.add_get("/api/openapi.json", self.openapi)
        r.add_get("/api/hotlines", self.hotlines)
        r.add_get("/api/calls", self.calls)
        r.add_get("/api/calls/{call_id}", self.call)
        r.add_post("/api/calls/{call_id}/transfer", self._wrap(self.blind))
        r.add_post("/api/calls/{call_id}/threeway", self._wrap(self.threeway))
        r.add_get("/api/calls/{call_id}/specialists", self._wrap(self.specialist_offer))
        r.add_post("/api/calls/{call_id}/specialist", self._wrap(self.specialist))
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
            return web.json_response(self.control.describe(self._own_call(request)))
        except CallError as exc:
            return _error(exc)

    def _own_call(self, request: web.Request):
        """The call of the path; an agent may touch only the call it is on (403, cti/roles.py)."""
        call = self.control.call(request.match_info["call_id"])
        require_own(request, call.agent, "calls")
        return call

    async def answer_rates(self, request: web.Request) -> web.Response:
        return web.json_response(self.control.stats.as_list())

    # -- call control -------------------------------------------------------------------------------------
    # The body is checked first: bad input is a 400 whether or not the call exists.
    async def blind(self, request: web.Request) -> web.Response:
        body = await body_as(request, NumberIn)
        self._own_call(request)
        t = await self.control.transfer(request.match_info["call_id"], body.number, tx.BLIND)
        return web.json_response(t.as_dict())

    async def threeway(self, request: web.Request) -> web.Response:
        body = await body_as(request, NumberIn)
        self._own_call(request)
        t = await self.control.transfer(request.match_info["call_id"], body.number, tx.THREEWAY)
        return web.json_response(t.as_dict())

    async def specialist_offer(self, request: web.Request) -> web.Response:
        query = query_as(request, OfferQuery)
        self._own_call(request)
        return web.json_response(self._specialists().offer(request.match_info["call_id"], query.field or ""))

    async def specialist(self, request: web.Request) -> web.Response:
        body = await body_as(request, SpecialistIn)
        self._own_call(request)
        t = await self._specialists().ring(request.match_info["call_id"], body.field, body.specialist, body.in_turn)
        return web.json_response(t.as_dict())

    def _specialists(self):
        if self.specialists is None:
            raise CallError(503, "no_specialists", "no specialist directory is loaded (settings: specialists)")
        return self.specialists

    async def cancel(self, request: web.Request) -> web.Response:
        await body_as(request, NoBody, required=False)
        self._own_call(request)
        return web.json_response((await self.control.cancel(request.match_info["call_id"])).as_dict())

    async def drop_off(self, request: web.Request) -> web.Response:
        await body_as(request, NoBody, required=False)
        self._own_call(request)
        return web.json_response((await self.control.drop_off(request.match_info["call_id"])).as_dict())

    async def hangup(self, request: web.Request) -> web.Response:
        await body_as(request, NoBody, required=False)
        self._own_call(request)
        call_id = request.match_info["call_id"]
        await self.control.hangup(call_id)
        return web.json_response({"call_id": call_id, "status": "hung up"})

    async def spy(self, request: web.Request) -> web.Response:
        body = await body_as(request, SpyIn)
        return web.json_response(await self.agents.spy(request.match_info["call_id"], body.supervisor, body.mode))

    # -- agents -------------------------------------------------------------------------------------------
    async def login(self, request: web.Request) -> web.Response:
        body = await body_as(request, LoginIn, required=False)
        return web.json_response(await self.agents.login(check_id(request.match_info["agent"]), body.queues,
                                                         body.paused))

    async def logout(self, request: web.Request) -> web.Response:
        body = await body_as(request, LogoutIn, required=False)
        return web.json_response(await self.agents.logout(check_id(request.match_info["agent"]), body.queues))

    async def pause(self, request: web.Request) -> web.Response:
        body = await body_as(request, PauseIn)
        return web.json_response(await self.agents.pause(check_id(request.match_info["agent"]), True, body.reason))

    async def unpause(self, request: web.Request) -> web.Response:
        await body_as(request, NoBody, required=False)
        return web.json_response(await self.agents.pause(check_id(request.match_info["agent"]), False))

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
