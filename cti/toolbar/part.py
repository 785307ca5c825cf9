"""The agent toolbar's routes: ``cti.toolbar.part:ToolbarPart(layer)`` (after CallsPart and TicketsPart).

- ``GET /agent`` and ``GET /agent/toolbar.js``: the reference page and the element (public: no secret
  in them; the agent signs in with its PIN, cti/web.py).
- ``GET /api/agents/{agent}/desk``: what the toolbar shows besides the pop: the agent's queue state
  (from queue-member events, :mod:`cti.toolbar.members`), its current call's pop, the configured pause
  reasons (``calls.pause_reasons``) and request types (``tickets.request_types``).
- ``GET /api/agents/{agent}/caller-tickets``: the last five tickets of the caller on the agent's current
  call (never a number the agent chooses: an agent sees only its own caller's history).
- ``GET /api/directory``: the hotline directory as the transfer picker shows it: grouped by kind, with
  whether each department answers now (cti.hotlines ``decide``) and its answer timeout.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from aiohttp import web

from cti.ami import TOPIC_EVENT, TOPIC_RESYNCED
from cti.hotlines import DIRECT, EMERGENCY, PARALLEL
from cti.toolbar import cors
from cti.toolbar.members import MemberStates
from cti.web import AGENT_ID, InvalidInput, QueryModel, query_as

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
CALLER_TICKETS = 5           # the issue: the caller's last five tickets
# Labels of the request types of the Jiangsu rules (DESIGN.md §2); a configured type not here shows as is.
REQUEST_LABELS = {"consultation": "咨询", "complaint": "投诉", "report": "举报", "help": "求助",
                  "suggestion": "建议", "praise": "表扬"}
KIND_GROUPS = ((PARALLEL, "并联整合热线（可转接）"), (EMERGENCY, "应急联动"), (DIRECT, "直接整合热线（由12345受理）"))
# Pages are never cached (a new layer version must reach the agents at once); the page's scripts and
# connections stay on this origin (CSP Level 3).
PAGE_HEADERS = {"Cache-Control": "no-cache",
                "Content-Security-Policy": "default-src 'self'; script-src 'self'; connect-src 'self' ws: wss:; "
                                           "style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
                                           "frame-ancestors 'self'",
                "X-Content-Type-Options": "nosniff"}


class NoQuery(QueryModel):
    """Routes that take no query parameters (an unknown name is a 400 naming it)."""


def _agent(request: web.Request) -> str:
    agent = request.match_info["agent"]
    if not re.fullmatch(AGENT_ID, agent):
        raise InvalidInput("agent", "an agent id is 1-32 letters, digits, '-' or '_'")
    return agent


def _unavailable(what: str) -> web.Response:
    return web.json_response({"error": "unavailable", "detail": f"{what} is not running in this layer"}, status=503)


class ToolbarPart:
    def __init__(self, layer) -> None:
        self.layer = layer
        self.states = MemberStates()
        self.calls = None          # cti.calls.part.CallsPart, found at start
        self.tickets = None        # cti.tickets.service.TicketService, found at start
        layer.bus.subscribe(TOPIC_EVENT, lambda _t, msg: self.states.feed(msg))
        layer.bus.subscribe(TOPIC_RESYNCED, lambda _t, snap: self.states.reset(snap.queue_status))

    async def start(self) -> None:
        parts = getattr(self.layer, "parts", ())
        self.calls = next((p for p in parts if hasattr(p, "control") and hasattr(p, "agents")), None)
        service = next((p.tickets for p in parts if hasattr(getattr(p, "tickets", None), "recent_for_caller")), None)
        self.tickets = service
        if self.calls is None:
            log.warning("agent toolbar: no call-control part; /agent shows no calls")

    def setup_web(self, app: web.Application) -> None:
        calls = getattr(self.layer.settings, "calls", None)
        mw = cors.middleware(list(getattr(calls, "toolbar_origins", []) or []))
        if mw is not None:
            app.middlewares.insert(0, mw)   # outermost: a preflight carries no credential for cti/web.py
        r = app.router
        r.add_get("/agent", self.page)
        r.add_get("/agent/toolbar.js", self.script)
        r.add_get("/api/agents/{agent}/desk", self.desk)
        r.add_get("/api/agents/{agent}/caller-tickets", self.caller_tickets)
        r.add_get("/api/directory", self.directory)

    # -- static -------------------------------------------------------------------------------------------
    async def page(self, request: web.Request) -> web.Response:
        return web.Response(body=(STATIC / "agent.html").read_bytes(), content_type="text/html",
                            charset="utf-8", headers=PAGE_HEADERS)

    async def script(self, request: web.Request) -> web.Response:
        return web.Response(body=(STATIC / "toolbar.js").read_bytes(), content_type="text/javascript",
                            charset="utf-8", headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"})

    # -- reads --------------------------------------------------------------------------------------------
    def _call_of(self, agent: str):
        return self.calls.control.tracker.call_of_agent(agent) if self.calls is not None else None

    async def desk(self, request: web.Request) -> web.Response:
        agent = _agent(request)
        query_as(request, NoQuery)
        s = self.layer.settings
        call = self._call_of(agent)
        interface = self.calls.agents.interface(agent) if self.calls is not None else ""
        types = list(getattr(getattr(s, "tickets", None), "request_types", []) or [])
        return web.json_response({
            "agent": agent, "interface": interface, "state": self.states.of(interface),
            "call": self.calls.control.screen_pop(call).to_json() if call is not None else None,
            "pause_reasons": list(s.calls.pause_reasons), "default_queues": list(s.calls.agent_queues),
            "queues": sorted(set(self.states.queues()) | set(s.calls.agent_queues)),
            "request_types": [{"value": t, "label": REQUEST_LABELS.get(t, t)} for t in types],
            "tickets": self.tickets is not None,
            "timezone": str(getattr(getattr(s, "flows", None), "timezone", "Asia/Shanghai"))})

    async def caller_tickets(self, request: web.Request) -> web.Response:
        agent = _agent(request)
        query_as(request, NoQuery)
        if self.tickets is None:
            return _unavailable("the tickets part")
        call = self._call_of(agent)
        if call is None:
            return web.json_response({"call_id": None, "tickets": []})
        tickets = await self.tickets.recent_for_caller(call.caller, CALLER_TICKETS)
        return web.json_response({"call_id": call.id, "tickets": tickets})

    async def directory(self, request: web.Request) -> web.Response:
        query_as(request, NoQuery)
        if self.calls is None:
            return _unavailable("call control")
        control = self.calls.control
        now = control.clock()
        groups = []
        for kind, label in KIND_GROUPS:
            hotlines = []
            for h in control.directory.of_kind(kind):
                decision = control.directory.decide(h.number, now, control.calendar)
                hotlines.append(h.as_dict() | {"open_now": decision.action == "dial",
                                               "transferable": decision.action != "refuse",
                                               "note": decision.reason})
            groups.append({"kind": kind, "label": label, "hotlines": hotlines})
        return web.json_response({"now": now.isoformat(), "groups": groups})


def openapi_paths() -> dict:
    """The toolbar's reads, for /api/openapi.json (cti/openapi_routes.py picks this up; the two pages
    are documented there)."""
    from cti.openapi_routes import errors, json_content, path_param

    agent_param = path_param("agent", "agent id (extension)", AGENT_ID)

    def get(summary: str, schema: dict, params=(agent_param,), codes=(400,)) -> dict:
        return {"get": {"summary": summary, "parameters": list(params),
                        "responses": {"200": json_content(schema, "ok"), **errors(*codes)}}}
    state = {"type": "object", "properties": {
        "signed_in": {"type": "boolean"}, "queues": {"type": "array", "items": {"type": "string"}},
        "paused": {"type": "boolean"}, "reason": {"type": "string"}, "status": {"type": ["integer", "null"]},
        "label": {"type": "string", "description": "未签入 / 就绪 / 示忙 / 振铃中 / 通话中 ..."}}}
    ticket = {"type": "object", "properties": {
        "id": {"type": "string"}, "request_type": {"type": "string"}, "status": {"type": "string"},
        "summary": {"type": "string"}, "created_at": {"type": "string"},
        "answer_by": {"type": ["string", "null"]}, "light": {"type": ["string", "null"]}}}
    return {
        "/api/agents/{agent}/desk": get(
            "the agent toolbar's desk: the agent's state as its queues see it, its current call's screen pop, "
            "the pause reasons (calls.pause_reasons) and request types (tickets.request_types)",
            {"type": "object", "required": ["agent", "state", "call", "pause_reasons", "request_types"],
             "properties": {"agent": {"type": "string"}, "state": state, "call": {"type": ["object", "null"]},
                            "pause_reasons": {"type": "array", "items": {"type": "string"}},
                            "request_types": {"type": "array", "items": {"type": "object"}},
                            "timezone": {"type": "string", "description": "the centre's (flows.timezone)"}}}),
        "/api/agents/{agent}/caller-tickets": get(
            "the last five tickets of the caller on the agent's current call (type, status, deadline light)",
            {"type": "object", "properties": {"call_id": {"type": ["string", "null"]},
                                              "tickets": {"type": "array", "items": ticket}}}, codes=(400, 503)),
        "/api/directory": get(
            "the hotline directory for the transfer picker: grouped by kind, whether each department answers "
            "now, its answer timeout", {"type": "object", "properties": {
                "now": {"type": "string"}, "groups": {"type": "array", "items": {"type": "object", "properties": {
                    "kind": {"type": "string"}, "label": {"type": "string"},
                    "hotlines": {"type": "array", "items": {"$ref": "#/components/schemas/Hotline"}}}}}}},
            params=(), codes=(400, 503)),
    }
