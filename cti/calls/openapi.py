"""The OpenAPI 3.1 document of the layer's HTTP API (served at /api/openapi.json): the agent desktop API
here, the other parts' routes from cti/openapi_routes.py."""

from __future__ import annotations

ERROR = {"type": "object", "required": ["error", "detail"],
         "properties": {"error": {"type": "string"}, "detail": {"type": "string"}}}
TRANSFER = {"type": "object", "required": ["id", "call_id", "kind", "number", "state", "done", "emergency"],
            "properties": {"id": {"type": "string"}, "call_id": {"type": "string"},
                           "kind": {"type": "string", "enum": ["threeway", "blind"]},
                           "number": {"type": "string"}, "hotline_name": {"type": "string"},
                           "owner": {"type": "string"}, "emergency": {"type": "boolean"},
                           "state": {"type": "string"}, "done": {"type": "boolean"},
                           "reason": {"type": "string"}, "agent": {"type": "string"},
                           "recipient_channel": {"type": "string"},
                           "answer_seconds": {"type": ["number", "null"]},
                           "specialist": {"oneOf": [{"type": "null"}, {
                               "type": "object", "description": "a policy specialist's leg (政策专员)",
                               "required": ["id", "name", "department", "field", "line"],
                               "properties": {k: {"type": "string"} for k in
                                              ("id", "name", "department", "field", "line")}}]}}}
SPECIALIST = {"type": "object", "required": ["id", "name", "department", "fields", "lines"],
              "properties": {"id": {"type": "string"}, "name": {"type": "string"},
                             "department": {"type": "string"}, "number": {"type": "string"},
                             "fields": {"type": "array", "items": {"type": "string"}},
                             "lines": {"type": "array", "items": {"type": "string"}},
                             "working_hours": {}, "answer_timeout": {"type": "number"}}}
OFFER = {"type": "object", "required": ["call_id", "line", "fields", "specialists"],
         "properties": {"call_id": {"type": "string"},
                        "line": {"type": "object", "description": "the call's line (config/specialists.yaml)",
                                 "required": ["id", "name"], "properties": {
                                     "id": {"type": "string"}, "name": {"type": "string"},
                                     "queue": {"type": "string"}, "tag": {"type": "string"}, "ivr": {}}},
                        "fields": {"type": "array", "items": {"type": "string"},
                                   "description": "fields some specialist of the line covers"},
                        "field": {"type": ["string", "null"]},
                        "specialists": {"type": "array", "items": {"$ref": "#/components/schemas/Specialist"},
                                        "description": "in working hours now, in the order 'in turn' rings"},
                        "last_resort": {"oneOf": [{"type": "null"}, {
                            "type": "object", "required": ["number"], "properties": {
                                "number": {"type": "string"}, "name": {"type": "string"},
                                "owner": {"type": "string"}}}]}}}
CALL = {"type": "object", "required": ["id", "caller", "queue", "agent", "wait_seconds"],
        "properties": {"id": {"type": "string"}, "caller": {"type": "string"}, "caller_name": {"type": "string"},
                       "queue": {"type": "string"}, "agent": {"type": "string"},
                       "hotline": {"type": "string", "description": "the number dialled (12345, a direct-merged "
                                   "hotline, 110 for a 110 hand-over)"},
                       "tags": {"type": "array", "items": {"type": "string"}},
                       "agent_channel": {"type": "string"}, "citizen_channel": {"type": "string"},
                       "wait_seconds": {"type": "number"}, "ended": {"type": "boolean"},
                       "transfer": {"oneOf": [{"type": "null"}, {"$ref": "#/components/schemas/Transfer"}]}}}
HOTLINE = {"type": "object", "required": ["number", "name", "owner", "kind", "answer_timeout"],
           "properties": {"number": {"type": "string"}, "name": {"type": "string"}, "owner": {"type": "string"},
                          "kind": {"type": "string", "enum": ["direct-merged", "parallel-merged", "emergency"]},
                          "dial": {"type": "string"}, "working_hours": {},
                          "answer_timeout": {"type": "number"}}}
AGENT = {"type": "object", "required": ["agent"],
         "properties": {"agent": {"type": "string"}, "interface": {"type": "string"},
                        "queues": {"type": "array", "items": {"type": "string"}},
                        "paused": {"type": "boolean"}, "reason": {"type": "string"}}}
SPY = {"type": "object", "required": ["call_id", "agent", "supervisor", "mode"],
       "properties": {"call_id": {"type": "string"}, "agent": {"type": "string"},
                      "supervisor": {"type": "string"}, "mode": {"type": "string"},
                      "channel": {"type": "string"}, "target": {"type": "string"}}}
DEPT = {"type": "object", "required": ["number", "offered", "answered", "answered_15s"],
        "properties": {"number": {"type": "string"}, "owner": {"type": "string"}, "offered": {"type": "integer"},
                       "answered": {"type": "integer"}, "answered_15s": {"type": "integer"},
                       "answer_rate_15s": {"type": ["number", "null"]},
                       "mean_answer_seconds": {"type": ["number", "null"]}}}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict:
    text = {400: "bad input (the body names the field)", 401: "missing or wrong credential",
            403: "the credential's role may not do this, or an agent's session acts for another agent or on "
                 "another agent's call (cti/roles.py)", 404: "unknown call id",
            409: "not possible in the call's current state (or after hours: a ticket was made)",
            422: "the number cannot be transferred to (unknown or directly merged hotline)",
            502: "Asterisk refused the action", 503: "Asterisk is not connected"}
    return {str(c): _json(_ref("Error"), text[c]) for c in (401, 403, *codes)}


CALL_ID = {"name": "call_id", "in": "path", "required": True, "schema": {"type": "string"},
           "description": "Uniqueid of the citizen's queue channel (also in the screen pop)"}
AGENT_ID = {"name": "agent", "in": "path", "required": True,
            "schema": {"type": "string", "pattern": "^[0-9A-Za-z_-]{1,32}$"}, "description": "agent id (extension)"}


def _body(schema: dict, example: dict, required: bool = True) -> dict:
    return {"required": required, "content": {"application/json": {"schema": schema, "example": example}}}


NUMBER_BODY = _body({"type": "object", "required": ["number"],
                     "properties": {"number": {"type": "string", "pattern": "^[0-9]+$"}}}, {"number": "12315"})
QUEUES_BODY = _body({"type": "object", "properties": {
    "queues": {"type": "array", "items": {"type": "string"}}, "paused": {"type": "boolean"}}},
    {"queues": ["public"]}, required=False)


def _call_op(summary: str, ok: dict, body: dict | None = None, errors=(404, 409, 502, 503)) -> dict:
    op = {"summary": summary, "parameters": [CALL_ID], "responses": {"200": ok, **_errors(*errors)}}
    if body is not None:
        op["requestBody"] = body
    return {"post": op}


def _agent_op(summary: str, body: dict | None, errors=(400, 502, 503)) -> dict:
    op = {"summary": summary, "parameters": [AGENT_ID],
          "responses": {"200": _json(_ref("Agent"), "done"), **_errors(*errors)}}
    if body is not None:
        op["requestBody"] = body
    return {"post": op}


def document() -> dict:
    from cti.openapi_routes import TAGS, Models, paths

    models = Models()
    other = paths(models)
    transfer_ok = _json(_ref("Transfer"), "the transfer as it stands (follow it on the WebSocket)")
    doc = {
        "openapi": "3.1.0",
        "info": {"title": "12345 CTI layer API", "version": "1",
                 "description": "Call control for 12345 agents: one-key transfer (一键转接), three-way calls "
                                "(三方通话), emergency linkage (应急联动), queue sign-in and pauses, supervisor "
                                "listen / whisper / barge; tickets (工单), recordings, follow-up calls (回访), "
                                "IVR flows status, the wallboard, figures and reports. Every route but those "
                                "with an empty `security` needs a credential whose role may use it "
                                "(cti/roles.py): `Authorization: Bearer <token>` or `?token=`."},
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"},
                                "query": {"type": "apiKey", "in": "query", "name": "token"}},
            "schemas": {"Error": ERROR, "Transfer": TRANSFER, "Call": CALL, "Hotline": HOTLINE, "Agent": AGENT,
                        "Spy": SPY, "DepartmentFigures": DEPT, "Specialist": SPECIALIST,
                        "SpecialistOffer": OFFER, **models.schemas}},
        "security": [{"bearer": []}, {"query": []}],
        "paths": {
            "/api/openapi.json": {"get": {"summary": "this document", "responses": {
                "200": _json({"type": "object", "required": ["openapi", "paths"]}, "OpenAPI document"),
                **_errors()}}},
            "/api/hotlines": {"get": {"summary": "the hotline directory (config/hotlines.yaml)", "responses": {
                "200": _json({"type": "array", "items": _ref("Hotline")}, "every hotline"), **_errors()}}},
            "/api/calls": {"get": {"summary": "calls connected to agents now", "responses": {
                "200": _json({"type": "array", "items": _ref("Call")}, "the calls"), **_errors()}}},
            "/api/calls/{call_id}": {"get": {"summary": "one call", "parameters": [CALL_ID], "responses": {
                "200": _json(_ref("Call"), "the call"), **_errors(404)}}},
            "/api/calls/{call_id}/transfer": _call_op(
                "one-key (blind) transfer to a hotline; the citizen returns to the 12345 queue at high priority "
                "if the department does not answer", transfer_ok, NUMBER_BODY, (400, 404, 409, 422, 502, 503)),
            "/api/calls/{call_id}/threeway": _call_op(
                "three-way call: ring the department (the citizen hears hold music), then all three talk",
                transfer_ok, NUMBER_BODY, (400, 404, 409, 422, 502, 503)),
            "/api/calls/{call_id}/specialists": {"get": {
                "summary": "policy specialists (政策专员) the agent may bring into a three-way call: the call's line, "
                           "its fields, and for `field` those in working hours now, the department hotline last",
                "parameters": [CALL_ID, {"name": "field", "in": "query", "required": False,
                                         "schema": {"type": "string", "maxLength": 32}, "example": "税务"}],
                "responses": {"200": _json(_ref("SpecialistOffer"), "the offer"), **_errors(400, 404, 503)}}},
            "/api/calls/{call_id}/specialist": _call_op(
                "three-way call to a policy specialist: one of the offer, or each in turn until one answers with "
                "the department hotline last (the same three-way machine as a hotline; follow it on the WebSocket)",
                transfer_ok, _body({"type": "object", "required": ["field"], "properties": {
                    "field": {"type": "string", "maxLength": 32}, "specialist": {"type": "string"},
                    "in_turn": {"type": "boolean"}}}, {"field": "税务", "in_turn": True}),
                (400, 404, 409, 422, 502, 503)),
            "/api/calls/{call_id}/cancel": _call_op("cancel the three-way call: back to the citizen alone",
                                                    transfer_ok),
            "/api/calls/{call_id}/drop-off": _call_op("the agent leaves; citizen and department stay connected",
                                                      transfer_ok),
            "/api/calls/{call_id}/hangup": _call_op("hang up the citizen's call", _json(
                {"type": "object", "required": ["call_id", "status"]}, "hung up"), errors=(404, 502, 503)),
            "/api/calls/{call_id}/spy": _call_op(
                "supervisor: listen (监听), whisper (耳语) or barge (强插) on the agent's call (ChanSpy)",
                _json(_ref("Spy"), "the supervisor's phone is being called"),
                _body({"type": "object", "required": ["supervisor", "mode"], "properties": {
                    "supervisor": {"type": "string"}, "mode": {"type": "string",
                                                               "enum": ["listen", "whisper", "barge"]}}},
                      {"supervisor": "7001", "mode": "listen"}), (400, 404, 409, 502, 503)),
            "/api/agents/{agent}/login": _agent_op("QueueAdd the agent to queues", QUEUES_BODY),
            "/api/agents/{agent}/logout": _agent_op("QueueRemove the agent from queues", QUEUES_BODY),
            "/api/agents/{agent}/pause": _agent_op("QueuePause with a reason (休息, 培训, 后处理...)", _body(
                {"type": "object", "required": ["reason"], "properties": {"reason": {"type": "string"}}},
                {"reason": "休息"}), (400, 409, 502, 503)),
            "/api/agents/{agent}/unpause": _agent_op("QueuePause Paused=false", None, (400, 409, 502, 503)),
            "/api/agents/{agent}/ws": {"get": {
                "summary": "WebSocket of one agent: JSON messages `screen_pop` (caller, hotline, IVR path and "
                           "tags, wait time, previous calls, transfer state) when a call reaches the agent, and "
                           "`transfer` on every transfer state change, `call_ended` when the citizen's call is over",
                "parameters": [AGENT_ID],
                "responses": {"101": {"description": "switching to WebSocket"},
                              "400": _json(_ref("Error"), "not a WebSocket request or bad agent id"),
                              **_errors()}}},
            "/api/departments/answer-rates": {"get": {
                "summary": "per department hotline: transferred legs offered, answered, answered within 15 s",
                "responses": {"200": _json({"type": "array", "items": _ref("DepartmentFigures")}, "figures"),
                              **_errors()}}},
        },
    }
    for ops in doc["paths"].values():
        for op in ops.values():
            op["tags"] = ["desktop"]     # the agent desktop API (cti/calls/api.py)
    doc["paths"].update(other)
    doc["tags"] = [{"name": "desktop", "description": "agent desktop: calls, transfers, agents (cti/calls)"},
                   *TAGS]
    return doc
