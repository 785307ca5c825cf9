"""OpenAPI paths of the layer's routes outside the agent desktop API: health and agent sign-in, tickets,
recordings, outbound calls, IVR flows and the queue monitor (wallboard, figures, reports, metrics).

Request bodies and query parameters are generated from the pydantic models the handlers validate with
(so the document cannot drift from what is accepted); responses are written here from the handlers.
cti/calls/openapi.py assembles the whole document; tests/test_openapi_coverage.py checks that every
registered route is in it.
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import BaseModel

REF = "#/components/schemas/{model}"
NUM = {"type": ["number", "null"]}


def ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def json_content(schema: dict, description: str, example: Any = None) -> dict:
    media: dict = {"schema": schema}
    if example is not None:
        media["example"] = example
    return {"description": description, "content": {"application/json": media}}


def errors(*codes: int) -> dict:
    """401 and 403 (every route with a role, cti/roles.py) plus ``codes``, each with the Error body."""
    text = {400: "bad input: the body's `field` names the parameter or field", 401: "missing or wrong credential",
            403: "the credential's role may not use this route (cti/roles.py)", 404: "not found",
            409: "not ready yet", 422: "unknown value", 429: "too many wrong PINs: retry after Retry-After s",
            503: "a store the route needs cannot be reached"}
    return {str(c): json_content(ref("Error"), text[c]) for c in sorted({401, 403, *codes})}


def _clean(schema: Any) -> Any:
    """JSON has no infinity: a default of inf (an open end) is left out."""
    if isinstance(schema, dict):
        return {k: _clean(v) for k, v in schema.items()
                if not (k == "default" and isinstance(v, float) and not math.isfinite(v))}
    if isinstance(schema, list):
        return [_clean(v) for v in schema]
    return schema


class Models:
    """Collects the pydantic models' JSON schemas into components/schemas."""

    def __init__(self) -> None:
        self.schemas: dict[str, dict] = {}

    def schema(self, model: type[BaseModel]) -> dict:
        s = _clean(model.model_json_schema(by_alias=True, ref_template=REF))
        self.schemas.update(s.pop("$defs", {}))
        return s

    def body(self, model: type[BaseModel], examples: dict | None = None, required: bool = True) -> dict:
        self.schemas[model.__name__] = self.schema(model)
        media: dict = {"schema": ref(model.__name__)}
        if examples:
            media["examples"] = examples
        return {"required": required, "content": {"application/json": media}}

    def query(self, model: type[BaseModel]) -> list[dict]:
        s = self.schema(model)
        required = set(s.get("required", ()))
        return [{"name": name, "in": "query", "required": name in required,
                 "description": prop.get("description", prop.get("title", name)),
                 "schema": {k: v for k, v in prop.items() if k not in ("title", "description")}}
                for name, prop in s.get("properties", {}).items()]


def path_param(name: str, description: str, pattern: str | None = None) -> dict:
    schema: dict = {"type": "string"}
    if pattern:
        schema["pattern"] = pattern
    return {"name": name, "in": "path", "required": True, "schema": schema, "description": description}


TICKET_EXAMPLES = {
    "agent": {"summary": "an agent's ticket for the call it is on (咨询, 企业)", "value": {
        "request_type": "consultation", "caller_number": "13800000001", "call_ids": ["1764480000.42"],
        "hotline": "12345", "summary": "咨询个体工商户营业执照办理流程", "ivr_path": ["main", "2"],
        "tags": ["企业"], "agent": "6001", "department": "市场监管局", "urgency": "normal"}},
    "integration": {"summary": "a complaint made by the ticket system itself", "value": {
        "request_type": "complaint", "caller_number": "13900000002", "summary": "小区夜间施工噪音扰民",
        "department": "生态环境局", "urgency": "urgent", "source": "layer"}},
}
TICKET_CREATED = {
    "id": "5b0e6a3c9d2f4e7a8b1c0d2e3f4a5b6c", "call_ids": ["1764480000.42"], "caller_number": "13800000001", "hotline": "12345",
    "channel": "phone", "request_type": "consultation", "summary": "咨询个体工商户营业执照办理流程",
    "ivr_path": ["main", "2"], "tags": ["企业"], "agent": "6001", "department": "市场监管局", "urgency": "normal",
    "source": "agent", "created_at": "2026-11-30T02:00:00Z",
    "deadlines": {"acknowledge_by": "2026-11-30T03:00:00Z", "answer_by": "2026-12-03T10:00:00Z",
                  "return_by": "2026-12-01T10:00:00Z"},
    "recording": None, "rating": None, "status": "created"}

WINDOW = {"type": "object", "description": "figures of one period (Tally.figures): rates as fractions, times in s",
          "properties": {k: {"type": "integer"} for k in (
              "offered", "answered", "answered_15s", "answered_10s", "abandoned", "short_abandoned", "timed_out",
              "talk_count")} | {k: NUM for k in ("answer_rate_15s", "answer_rate_10s", "average_wait",
                                                  "average_talk")}
          | {"longest_answered_wait": {"type": "number"}, "longest_talk": {"type": "number"},
             "counters": {"type": "object", "description": "the raw counters the figures come from"}}}
SCOPE = {"type": "object", "description": "a queue, a hotline or the centre (全中心)",
         "required": ["scope", "name", "waiting", "windows"],
         "properties": {"scope": {"enum": ["centre", "queue", "hotline"]}, "name": {"type": "string"},
                        "label": {"type": "string"}, "waiting": {"type": "integer"},
                        "longest_wait": {"type": "number"}, "talking": {"type": "integer"},
                        "longest_talk_now": {"type": "number"},
                        "agents": {"type": "object", "description": "logged_in, available, talking, ringing, "
                                   "paused, wrapup, busy, unknown; pause_reasons: reason -> count"},
                        "windows": {"type": "object", "additionalProperties": ref("Window"),
                                    "description": "monitor.windows (15m, 1h), today (since 00:00 in "
                                                   "monitor.timezone), total (since start)"},
                        "sparkline": {"type": "array", "items": {"type": "object", "properties": {
                            "slot": {"type": "integer"}, "answer_rate_15s": NUM, "counters": {"type": "object"}}}},
                        "sparkline_slot_seconds": {"type": "number"}}}
FIGURES = {"type": "object", "required": ["type", "definitions", "centre", "queues", "hotlines"],
           "properties": {"type": {"const": "figures"}, "instance": {"type": "string"},
                          "instances": {"type": "array", "items": {"type": "string"}},
                          "definitions": ref("Definitions"), "centre": ref("Scope"),
                          "queues": {"type": "object", "additionalProperties": ref("Scope")},
                          "hotlines": {"type": "object", "additionalProperties": ref("Scope")},
                          "departments": {"type": "array", "items": {"type": "object"}},
                          "test_dials": {"type": "array", "items": {"type": "object"}},
                          "linkage": {"type": "object"}, "followups": {"type": "object"},
                          "event_time": {"type": "object"}, "thresholds": {"type": "object"},
                          "last_event_ts": {"type": "number"}, "generated_at": {"type": "number"},
                          "recent_calls": {"type": "array", "items": {"type": "object"}}}}
DEFINITIONS = {"type": "object", "description": "what the rates mean (口径)", "properties": {
    "service_level": {"type": "number"}, "short_service_level": {"type": "number"},
    "short_abandon": {"type": "number"}, "denominator": {"type": "string"}, "denominator_label": {"type": "string"},
    "rounding": {"type": "string"}, "rounding_label": {"type": "string"}}}
REPORT_ROW = {"allOf": [ref("Window"), {"type": "object", "properties": {
    "name": {"type": "string"}, "answered_share": NUM}}]}
REPORT = {"type": "object", "required": ["from", "to", "definitions", "queues", "hotlines", "total"],
          "properties": {"from": {"type": "number", "description": "epoch s, 00:00 of from_date"},
                         "to": {"type": "number", "description": "epoch s, 00:00 after to_date"},
                         "from_date": {"type": "string", "format": "date"},
                         "to_date": {"type": "string", "format": "date"},
                         "definitions": ref("Definitions"),
                         "queues": {"type": "array", "items": ref("ReportRow")},
                         "hotlines": {"type": "array", "items": ref("ReportRow")}, "total": ref("ReportRow"),
                         "departments": {"type": "array", "items": {"type": "object"}},
                         "linkage": {"type": "object"}, "followups": {"type": "object"}}}
RECORDING = {"type": "object", "properties": {
    "uniqueid": {"type": "string"}, "linkedid": {"type": "string"}, "captured_at": {"type": "number"},
    "status": {"type": "string", "description": "pending, converting, ready, failed, deleted..."},
    "attempts": {"type": "integer"}, "next_attempt": {"type": "number"}, "last_error": {"type": "string"},
    "key": {"type": ["string", "null"]}, "format": {"type": ["string", "null"]}, "duration": NUM,
    "source_duration": NUM, "size": {"type": ["integer", "null"]}, "sha256": {"type": ["string", "null"]},
    "converted_at": NUM, "deleted_at": NUM}}
FLOWS = {"type": "object", "required": ["version", "flows", "rejected"], "properties": {
    "version": {"type": ["string", "null"], "description": "the version serving calls (its digest)"},
    "since": {"type": ["string", "null"], "format": "date-time", "description": "when that version went live"},
    "flows": {"type": "object", "additionalProperties": {"type": "string"}, "description": "flow name -> digest"},
    "rejected": {"type": "array", "items": {"type": "string"},
                 "description": "why the latest edit was refused (file:line:column: message); empty when it "
                                "went live"},
    "history": {"type": "array", "items": {"type": "object"},
                "description": "recent versions that went live and edits that were refused, newest last"},
    "calendar": {"type": "object"}, "sessions": {"type": "integer"}}}
SCHEMAS = {"Window": WINDOW, "Scope": SCOPE, "Figures": FIGURES, "Definitions": DEFINITIONS,
           "ReportRow": REPORT_ROW, "Report": REPORT, "Recording": RECORDING, "Flows": FLOWS}


TAGS = [{"name": "access", "description": "health and agent sign-in (cti/web.py)"},
        {"name": "tickets", "description": "tickets (工单) and the ticket system's callback (cti/tickets)"},
        {"name": "recordings", "description": "call recordings (recordings/)"},
        {"name": "outbound", "description": "follow-up calls (回访), test dials (拨测), 110 linkage (cti/outbound)"},
        {"name": "flows", "description": "IVR flows (ivr_flows/)"},
        {"name": "monitor", "description": "wallboard, figures, reports, metrics (queue_monitor/)"},
        {"name": "toolbar", "description": "the agent toolbar (cti/toolbar)"},
        {"name": "dispositions", "description": "how a call ended (话后小结) and knowledge items (一问一答) of a call "
                                                "(cti/dispositions)"}]
TAG_OF = [("/api/tickets", "tickets"), ("/api/recordings", "recordings"), ("/recordings", "recordings"),
          ("/api/outbound", "outbound"), ("/api/flows", "flows"), ("/healthz", "access"), ("/api/agents", "access")]


# Parts that document their own routes: a module-level ``openapi_paths() -> dict`` (tag: the module's part).
PART_MODULES = {"cti.toolbar.part": "toolbar", "cti.dispositions.part": "dispositions"}
PAGES = {"cti.toolbar.part": {
    "/agent": ("the agent toolbar's reference page (public: no secret in it; the agent signs in with its PIN)",
               "text/html"),
    "/agent/toolbar.js": ("the agent toolbar element, to embed in a ticket system's page", "text/javascript")}}


def part_paths() -> dict:
    """The paths parts document themselves, for the parts present in this installation."""
    import importlib

    out: dict = {}
    for module, tag in PART_MODULES.items():
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError:
            continue
        found = {**getattr(mod, "openapi_paths", dict)()}
        for path, (summary, media) in PAGES.get(module, {}).items():
            found.setdefault(path, {"get": {"summary": summary, "security": [], "responses": {"200": {
                "description": summary, "content": {media: {"schema": {"type": "string"}}}}}}})
        for ops in found.values():
            for op in ops.values():
                op.setdefault("tags", [tag])
        out.update(found)
    return out


def paths(models: Models) -> dict:
    """Paths of the routes outside the agent desktop API, registering their schemas in ``models``."""
    out = _paths(models)
    for path, ops in out.items():
        tag = next((t for prefix, t in TAG_OF if path.startswith(prefix)), "monitor")
        for op in ops.values():
            op["tags"] = [tag]
    return out | part_paths()


def _paths(models: Models) -> dict:
    from cti.outbound.api import DoNotCallIn, LinkageQuery, UploadIn
    from cti.tickets.api import TicketIn
    from cti.web import AGENT_ID, SessionIn
    from queue_monitor.part import ReportQuery
    from recordings.web import ListingQuery

    models.schemas.update(SCHEMAS)
    models.schemas["Ticket"] = _ticket_schema()
    uniqueid = path_param("uniqueid", "Uniqueid of the recorded channel")
    campaign = path_param("name", "campaign name (at most 64 characters)")
    signed = [{"name": "expires", "in": "query", "required": False, "schema": {"type": "integer"},
               "description": "signed link: expiry, epoch s (with sig, no credential needed)"},
              {"name": "sig", "in": "query", "required": False, "schema": {"type": "string"},
               "description": "signed link: signature"}]
    state = json_content({"type": "object", "required": ["name", "state"], "properties": {
        "name": {"type": "string"}, "state": {"enum": ["paused", "active"]}}}, "the campaign's new state")
    return {
        "/healthz": {"get": {"summary": "liveness and the AMI session's state (no credential)", "security": [],
                             "responses": {"200": json_content({"type": "object", "required": ["status"],
                                                                "properties": {"status": {"const": "ok"}}},
                                                               "alive")}}},
        "/api/agents/{agent}/session": {"post": {
            "summary": "an agent signs in with its PIN (http.agent_pins): a session token bound to that agent id",
            "security": [], "parameters": [path_param("agent", "agent id (extension)", AGENT_ID)],
            "requestBody": models.body(SessionIn, {"pin": {"value": {"pin": "246810"}}}),
            "responses": {"201": json_content({"type": "object", "required": ["agent", "token", "expires_at"],
                                               "properties": {"agent": {"type": "string"},
                                                              "token": {"type": "string"},
                                                              "expires_at": {"type": "number"}}}, "signed in"),
                          **errors(400, 429)}}},
        "/api/tickets": {"post": {
            "summary": "make a ticket (工单); request_type is one of tickets.request_types (GET /api/tickets/schema "
                       "for the webhook's ticket); an agent's session makes only its own tickets",
            "requestBody": models.body(TicketIn, TICKET_EXAMPLES),
            "responses": {"201": json_content(ref("Ticket"), "the ticket, as the webhook sends it", TICKET_CREATED),
                          **errors(400)}}},
        "/api/tickets/schema": {"get": {"summary": "JSON Schema of the ticket webhook's body (version 1)",
                                        "responses": {"200": json_content({"type": "object"}, "JSON Schema"),
                                                      **errors()}}},
        "/api/tickets/{ticket_id}": {"get": {
            "summary": "one ticket", "parameters": [path_param("ticket_id", "ticket id")],
            "responses": {"200": json_content(ref("Ticket"), "the ticket"), **errors(404)}}},
        "/api/tickets/callback": {"post": {
            "summary": "the ticket system's status change (签收 acknowledged, 退回 returned, 延时 extended, 办结 "
                       "closed), signed with Standard Webhooks (webhook-id, webhook-timestamp, webhook-signature "
                       "headers; tickets.secrets), no credential",
            "security": [],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["data"], "properties": {
                    "type": {"const": "ticket.status"}, "timestamp": {"type": ["string", "number"]},
                    "data": {"type": "object", "required": ["ticket_id", "status"], "properties": {
                        "ticket_id": {"type": "string"},
                        "status": {"enum": ["acknowledged", "returned", "extended", "closed"]},
                        "changed_at": {"type": ["string", "number"]}, "answer_by": {"type": ["string", "number"]},
                        "note": {"type": "string"}}}}},
                "example": {"type": "ticket.status", "timestamp": "2026-11-30T03:00:00Z",
                            "data": {"ticket_id": "5b0e6a3c9d2f4e7a8b1c0d2e3f4a5b6c", "status": "acknowledged"}}}}},
            "responses": {"200": json_content({"type": "object", "properties": {
                "webhook_id": {"type": "string"}, "outcome": {"type": "string"}}}, "applied (or a replay, ignored)"),
                **errors(400, 404, 422)}}},
        "/api/recordings": {"get": {
            "summary": "the recordings catalogue, newest first", "parameters": models.query(ListingQuery),
            "responses": {"200": json_content({"type": "object", "properties": {
                "recordings": {"type": "array", "items": ref("Recording")}}}, "recordings"), **errors(400)}}},
        "/api/recordings/{uniqueid}": {"get": {
            "summary": "the converted recording's audio (a credential, or a signed link)",
            "parameters": [uniqueid, *signed],
            "responses": {"200": {"description": "the audio file", "content": {
                "audio/ogg": {"schema": {"type": "string", "format": "binary"}},
                "audio/mpeg": {"schema": {"type": "string", "format": "binary"}}}},
                **errors(404, 409, 503)}}},
        "/api/recordings/{uniqueid}/info": {"get": {
            "summary": "one recording's catalogue entry and a signed link to it", "parameters": [uniqueid],
            "responses": {"200": json_content({"allOf": [ref("Recording"), {"type": "object", "properties": {
                "link": {"type": "string"}}}]}, "the entry"), **errors(404)}}},
        "/recordings/{uniqueid}/play": {"get": {
            "summary": "a page that plays the recording (the wall's 最近通话 links here)",
            "parameters": [uniqueid, *signed],
            "responses": {"200": {"description": "HTML page with an audio player",
                                  "content": {"text/html": {"schema": {"type": "string"}}}}, **errors(404)}}},
        "/api/outbound/linkage": {"get": {
            "summary": "110 linkage counts (110联动): from_110 and to_110", "parameters": models.query(LinkageQuery),
            "responses": {"200": json_content({"type": "object", "properties": {
                "from_110": {"type": "integer"}, "to_110": {"type": "integer"}, "label": {"type": "object"}}},
                "counts"), **errors(400)}}},
        "/api/outbound/test-dial": {"get": {
            "summary": "department hotlines under test dialling (拨测) and their last results",
            "responses": {"200": json_content({"type": "object", "properties": {
                "test_calls": {"type": "boolean"}, "hotlines": {"type": "array", "items": {"type": "object"}}}},
                "hotlines"), **errors()}}},
        "/api/outbound/campaigns": {"get": {
            "summary": "follow-up campaigns (回访) and their counts",
            "responses": {"200": json_content({"type": "object", "properties": {
                "campaigns": {"type": "array", "items": {"type": "object"}},
                "hold_reason": {"type": ["string", "null"]}}}, "campaigns"), **errors()}}},
        "/api/outbound/campaigns/{name}/pause": {"post": {
            "summary": "pause a campaign (no body, or {})", "parameters": [campaign],
            "responses": {"200": state, **errors(400, 404)}}},
        "/api/outbound/campaigns/{name}/resume": {"post": {
            "summary": "resume a campaign (no body, or {})", "parameters": [campaign],
            "responses": {"200": state, **errors(400, 404)}}},
        "/api/outbound/campaigns/{name}/numbers": {"post": {
            "summary": "schedule follow-up calls: numbers, or calls with their ticket", "parameters": [campaign],
            "requestBody": models.body(UploadIn, {"numbers": {"value": {"numbers": ["13800000001"]}},
                                                  "calls": {"value": {"calls": [{"number": "13800000001",
                                                                                 "ticket_id": "T1"}]}}}),
            "responses": {"201": json_content({"type": "object", "properties": {
                "scheduled": {"type": "integer"}, "ids": {"type": "array", "items": {"type": "string"}}}},
                "scheduled"), **errors(400)}}},
        "/api/outbound/do-not-call": {"post": {
            "summary": "never call this number again (拒访)",
            "requestBody": models.body(DoNotCallIn, {"number": {"value": {"number": "13800000001",
                                                                          "note": "市民要求不再回访"}}}),
            "responses": {"201": json_content({"type": "object", "properties": {
                "number": {"type": "string"}, "do_not_call": {"const": True}}}, "recorded"), **errors(400)}}},
        "/api/flows": {"get": {
            "summary": "the IVR flows serving calls, since when, and why the latest edit was refused",
            "responses": {"200": json_content(ref("Flows"), "flows status"), **errors()}}},
        "/wallboard": {"get": {
            "summary": "the wall screen (大屏); ?token= once, then a cookie",
            "responses": {"200": {"description": "HTML page", "content": {"text/html": {"schema": {"type": "string"}}}},
                          **errors()}}},
        "/wallboard/ws": {"get": {
            "summary": "WebSocket: the figures (as GET /api/figures) pushed on every change",
            "responses": {"101": {"description": "switching to WebSocket; each message is a Figures object"},
                          **errors()}}},
        "/api/figures": {"get": {
            "summary": "the wall's figures: per queue, hotline and the centre; rolling windows, today, total",
            "responses": {"200": json_content(ref("Figures"), "figures"), **errors()}}},
        "/api/reports": {"get": {
            "summary": "the queue report of a period (as `cti report`): days in monitor.timezone, both included",
            "parameters": models.query(ReportQuery),
            "responses": {"200": json_content(ref("Report"), "report"), **errors(400)}}},
        "/metrics": {"get": {
            "summary": "Prometheus text exposition of the figures",
            "responses": {"200": {"description": "text/plain; version 0.0.4",
                                  "content": {"text/plain": {"schema": {"type": "string"}}}}, **errors()}}},
    }


def _ticket_schema() -> dict:
    from cti.tickets.payload import SCHEMA
    return SCHEMA["$defs"]["ticket"]
