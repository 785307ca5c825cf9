"""HTTP routes of dispositions and knowledge items, under the call they concern (the agent desktop API).

``POST /api/calls/{call_id}/disposition`` and ``/knowledge`` are the agent's own (cti/roles.py: an agent
only on a call it answered); ``GET /api/dispositions`` lists the choices for a desk or the agent toolbar.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable

from aiohttp import web
from pydantic import Field

from cti.dispositions.service import DispositionError, DispositionService, LiveCall
from cti.roles import principal, require_own
from cti.web import InvalidInput, StrictModel, body_as

log = logging.getLogger(__name__)

CALL_ID = r"^[0-9A-Za-z_.;@/-]{1,80}$"


class DispositionIn(StrictModel):
    """``POST /api/calls/{call_id}/disposition``: how the call ended (话后小结)."""

    code: str = Field(min_length=1, max_length=40, description="a code of GET /api/dispositions, e.g. answered_online")
    request_type: str | None = Field(None, max_length=40, description="tickets.request_types; none only for a "
                                     "choice that is no request (无效来电)")
    summary: str = Field("", max_length=4000, description="short summary (dispositions.summary_max characters)")
    ticket_id: str | None = Field(None, min_length=1, max_length=40, description="the ticket made for the call")


class KnowledgeIn(StrictModel):
    """``POST /api/calls/{call_id}/knowledge``: one question and the specialist's answer (一问一答)."""

    question: str = Field(min_length=1, max_length=2000)
    answer: str = Field(min_length=1, max_length=4000)
    specialist_id: str | None = Field(None, min_length=1, max_length=80,
                                      description="which answered specialist leg; default: the call's latest")


def _error(exc: DispositionError) -> web.Response:
    if exc.field is not None:
        raise InvalidInput(exc.field, exc.detail)     # the 400 every route answers (cti/web.py logs it)
    return web.json_response({"error": exc.error, "detail": exc.detail}, status=exc.status)


class DispositionsApi:
    def __init__(self, service: DispositionService, live: Callable[[str], LiveCall | None]) -> None:
        self.service = service
        self.live = live          # the call as call control knows it now, None when it is not connected

    def setup(self, app: web.Application) -> None:
        r = app.router
        r.add_get("/api/dispositions", self.choices)
        r.add_get("/api/calls/{call_id}/disposition", self.get)
        r.add_post("/api/calls/{call_id}/disposition", self.record)
        r.add_post("/api/calls/{call_id}/knowledge", self.knowledge)

    async def choices(self, request: web.Request) -> web.Response:
        s = self.service.settings
        return web.json_response({
            "choices": [{"code": k, **c.model_dump()} for k, c in s.choices.items()], "request_types": list(self.service.request_types),
            "wrapup_window": s.wrapup_window, "summary_max": s.summary_max})

    async def _owned(self, request: web.Request) -> tuple[str, LiveCall | None, str]:
        call_id = request.match_info["call_id"]
        if not re.fullmatch(CALL_ID, call_id):   # an Asterisk uniqueid; anything else is no call of ours
            raise InvalidInput("call_id", "not a call id (1-80 of letters, digits and _.;@/-)")
        live = self.live(call_id)
        owner = await self.service.owner(call_id, live)
        if owner is None:
            log.info("HTTP %s %s: 404 no answered call %s", request.method, request.path, call_id)
            raise web.HTTPNotFound(text=json.dumps({"error": "unknown call", "detail": f"没有这个已接通的通话 (no answered call {call_id})"}),
                                   content_type="application/json")
        require_own(request, owner, "calls")
        return call_id, live, owner

    async def get(self, request: web.Request) -> web.Response:
        call_id, _, _ = await self._owned(request)
        found = await self.service.get(call_id)
        if found is None:
            return web.json_response({"error": "not recorded", "detail": f"通话尚未结束，还没有话后小结 (call {call_id} "
                                      "is still connected and has no disposition yet)"}, status=404)
        return web.json_response(found)

    async def record(self, request: web.Request) -> web.Response:
        body = await body_as(request, DispositionIn)      # bad input is a 400 whether or not the call exists
        try:
            self.service.check(body.code, body.request_type, body.summary)
        except DispositionError as exc:
            return _error(exc)
        call_id, live, _ = await self._owned(request)
        try:
            return web.json_response(await self.service.record(call_id, body.code, body.request_type, body.summary,
                                                               body.ticket_id, live))
        except DispositionError as exc:
            log.info("disposition of call %s refused: %s %s", call_id, exc.status, exc.detail)
            return _error(exc)

    async def knowledge(self, request: web.Request) -> web.Response:
        body = await body_as(request, KnowledgeIn)
        call_id, _, owner = await self._owned(request)
        who = principal(request)
        agent = who.agent if who is not None and who.agent else owner
        try:
            data = await self.service.add_knowledge(call_id, body.question, body.answer, agent, body.specialist_id)
        except DispositionError as exc:
            log.info("knowledge item of call %s refused: %s %s", call_id, exc.status, exc.detail)
            return _error(exc)
        return web.json_response(data, status=201)


def openapi_paths() -> dict:
    """The routes above for /api/openapi.json (cti/openapi_routes.py PART_MODULES)."""
    from cti.openapi_routes import errors, json_content, path_param

    call = path_param("call_id", "Uniqueid of the citizen's queue channel (also in the screen pop)")
    line = {"type": "object", "properties": {"id": {"type": "string"}, "name": {"type": "string"}}}
    disposition = {"type": "object", "required": ["call_id", "agent", "status", "line"], "properties": {
        "call_id": {"type": "string"}, "agent": {"type": "string"}, "queue": {"type": "string"},
        "hotline": {"type": "string"}, "tags": {"type": "array", "items": {"type": "string"}}, "line": line,
        "status": {"enum": ["pending", "recorded", "not_recorded"]},
        "code": {"type": ["string", "null"]}, "name": {"type": ["string", "null"]},
        "online": {"type": ["boolean", "null"]}, "request": {"type": ["boolean", "null"]},
        "request_type": {"type": ["string", "null"]}, "summary": {"type": "string"},
        "ticket_id": {"type": ["string", "null"]}, "rating": {"type": ["integer", "null"]},
        "ended_at": {"type": ["string", "null"]}, "recorded_at": {"type": ["string", "null"]},
        "wrapup_seconds": {"type": ["number", "null"], "description": "call end to disposition, seconds"}}}
    item = {"type": "object", "required": ["id", "call_id", "question", "answer"], "properties": {
        "id": {"type": "string"}, "call_id": {"type": "string"}, "agent": {"type": "string"},
        "question": {"type": "string"}, "answer": {"type": "string"}, "field": {"type": "string"},
        "department": {"type": "string"}, "specialist": {"type": "object"}, "line": line,
        "leg_started_at": {"type": ["string", "null"]}, "leg_ended_at": {"type": ["string", "null"]},
        "created_at": {"type": "string"}}}

    def body(model, example: dict) -> dict:
        return {"required": True, "content": {"application/json": {
            "schema": model.model_json_schema(), "example": example}}}

    conflict = {"409": json_content({"$ref": "#/components/schemas/Error"},
                                    "already recorded, or the wrap-up window passed (not recorded); knowledge: "
                                    "the call has no answered specialist three-way")}
    return {
        "/api/dispositions": {"get": {
            "summary": "the dispositions an agent picks from after a call (话后小结: 在线答复, 专员连线解答, 转办工单, "
                       "转接, 无效来电...), whether each counts as answered online, the request types, the "
                       "wrap-up window (seconds)",
            "responses": {"200": json_content({"type": "object", "required": ["choices", "request_types"]}, "ok"),
                          **errors()}}},
        "/api/calls/{call_id}/disposition": {
            "get": {"summary": "the call's disposition (pending, recorded or not recorded)", "parameters": [call],
                    "responses": {"200": json_content(disposition, "the disposition"), **errors(404)}},
            "post": {"summary": "record how the call ended (话后小结) within the wrap-up window "
                                "(dispositions.wrapup_window s after the call's end); sent once to the ticket "
                                "backend as a signed call.disposition message",
                     "parameters": [call], "requestBody": body(DispositionIn, {
                         "code": "answered_online", "request_type": "consultation",
                         "summary": "咨询企业开办流程，已在线答复"}),
                     "responses": {"200": json_content(disposition, "recorded"), **errors(400, 404), **conflict}}},
        "/api/calls/{call_id}/knowledge": {"post": {
            "summary": "after a specialist three-way answered: record the question and the specialist's answer "
                       "(一问一答); field, department, specialist and line come from the leg; sent as a signed "
                       "knowledge.item message", "parameters": [call],
            "requestBody": body(KnowledgeIn, {"question": "小微企业增值税减免的条件？",
                                              "answer": "月销售额10万元以下免征增值税。"}),
            "responses": {"201": json_content(item, "stored and queued"), **errors(400, 404), **conflict}}},
    }
