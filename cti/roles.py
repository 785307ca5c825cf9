"""The one table of who may use which HTTP route (issue 17: roles and least privilege).

Roles:

- ``viewer``: the wallboard, figures, reports, metrics; reads only, no personal data beyond the wall's.
- ``agent``: its own desktop (a session bound to one agent id): its sign-in, pauses, screen pops, the
  call it is on (transfer, three-way, hang up) and the tickets it makes; never another agent's.
- ``supervisor``: every call (read, transfer, hang up), listen / whisper / barge, any agent's sign-in,
  pause and logout, recordings, campaigns read.
- ``admin``: everything (campaigns, do-not-call, flows status, and all of the above); the old single
  ``http.token`` is an admin credential.
- ``integration``: a ticket system: creates and reads tickets, reads calls and the hotline directory.

A rule's ``own`` says how an *agent* principal is limited: ``"agent"`` the ``{agent}`` in the path must
be its own id (checked here, 403); ``"call"`` / ``"ticket"`` the handler checks the call's or ticket's
agent (:func:`require_own`). ``public`` routes authenticate themselves (a webhook signature, a PIN);
``signed`` routes let a request with ``expires``/``sig`` through to the handler, which checks the
signature (recording links), and otherwise need one of the roles. A HEAD route follows its GET.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from aiohttp import web

VIEWER, AGENT, SUPERVISOR, ADMIN, INTEGRATION = "viewer", "agent", "supervisor", "admin", "integration"
ROLES = (VIEWER, AGENT, SUPERVISOR, ADMIN, INTEGRATION)


@dataclass(frozen=True)
class Rule:
    roles: frozenset[str] = frozenset()
    own: str | None = None          # "agent", "call" or "ticket": an agent only for its own
    public: bool = False
    signed: bool = False


def _r(*roles: str, own: str | None = None, signed: bool = False) -> Rule:
    return Rule(frozenset(roles) | {ADMIN}, own=own, signed=signed)


PUBLIC = Rule(public=True)
EVERYONE = _r(VIEWER, AGENT, SUPERVISOR, INTEGRATION)
WALL = _r(VIEWER, SUPERVISOR)

TABLE: dict[tuple[str, str], Rule] = {
    ("GET", "/healthz"): PUBLIC,
    # the agent desktop API (cti/calls/api.py)
    ("GET", "/api/openapi.json"): EVERYONE,
    ("GET", "/api/hotlines"): EVERYONE,
    ("GET", "/api/calls"): _r(SUPERVISOR, INTEGRATION),
    ("GET", "/api/calls/{call_id}"): _r(AGENT, SUPERVISOR, INTEGRATION, own="call"),
    ("POST", "/api/calls/{call_id}/transfer"): _r(AGENT, SUPERVISOR, own="call"),
    ("POST", "/api/calls/{call_id}/threeway"): _r(AGENT, SUPERVISOR, own="call"),
    ("GET", "/api/calls/{call_id}/specialists"): _r(AGENT, SUPERVISOR, own="call"),
    ("POST", "/api/calls/{call_id}/specialist"): _r(AGENT, SUPERVISOR, own="call"),
    ("POST", "/api/calls/{call_id}/cancel"): _r(AGENT, SUPERVISOR, own="call"),
    ("POST", "/api/calls/{call_id}/drop-off"): _r(AGENT, SUPERVISOR, own="call"),
    ("POST", "/api/calls/{call_id}/hangup"): _r(AGENT, SUPERVISOR, own="call"),
    ("POST", "/api/calls/{call_id}/spy"): _r(SUPERVISOR),
    ("POST", "/api/agents/{agent}/session"): PUBLIC,          # the agent's PIN
    ("POST", "/api/agents/{agent}/login"): _r(AGENT, SUPERVISOR, own="agent"),
    ("POST", "/api/agents/{agent}/logout"): _r(AGENT, SUPERVISOR, own="agent"),
    ("POST", "/api/agents/{agent}/pause"): _r(AGENT, SUPERVISOR, own="agent"),
    ("POST", "/api/agents/{agent}/unpause"): _r(AGENT, SUPERVISOR, own="agent"),
    ("GET", "/api/agents/{agent}/ws"): _r(AGENT, SUPERVISOR, own="agent"),
    ("GET", "/api/departments/answer-rates"): _r(VIEWER, AGENT, SUPERVISOR),
    # dispositions (话后小结) and knowledge items of a call (cti/dispositions/api.py)
    ("GET", "/api/dispositions"): _r(AGENT, SUPERVISOR, INTEGRATION),
    ("GET", "/api/calls/{call_id}/disposition"): _r(AGENT, SUPERVISOR, INTEGRATION, own="call"),
    ("POST", "/api/calls/{call_id}/disposition"): _r(AGENT, SUPERVISOR, own="call"),
    ("POST", "/api/calls/{call_id}/knowledge"): _r(AGENT, SUPERVISOR, own="call"),
    # tickets (cti/tickets/api.py)
    ("POST", "/api/tickets"): _r(AGENT, SUPERVISOR, INTEGRATION, own="ticket"),
    ("GET", "/api/tickets/schema"): EVERYONE,
    ("GET", "/api/tickets/{ticket_id}"): _r(AGENT, SUPERVISOR, INTEGRATION, own="ticket"),
    ("POST", "/api/tickets/callback"): PUBLIC,                # Standard Webhooks signature
    # recordings (recordings/web.py)
    ("GET", "/api/recordings"): _r(SUPERVISOR),
    ("GET", "/api/recordings/{uniqueid}"): _r(SUPERVISOR, signed=True),
    ("GET", "/api/recordings/{uniqueid}/info"): _r(SUPERVISOR),
    ("GET", "/recordings/{uniqueid}/play"): _r(SUPERVISOR, signed=True),
    # outbound (cti/outbound/api.py)
    ("GET", "/api/outbound/linkage"): _r(VIEWER, SUPERVISOR),
    ("GET", "/api/outbound/test-dial"): _r(SUPERVISOR),
    ("GET", "/api/outbound/campaigns"): _r(SUPERVISOR),
    ("POST", "/api/outbound/campaigns/{name}/pause"): _r(),
    ("POST", "/api/outbound/campaigns/{name}/resume"): _r(),
    ("POST", "/api/outbound/campaigns/{name}/numbers"): _r(),
    ("POST", "/api/outbound/do-not-call"): _r(),
    # the agent toolbar (cti/toolbar/part.py): the page and the element hold no secret; the agent signs in
    ("GET", "/agent"): PUBLIC,
    ("GET", "/agent/toolbar.js"): PUBLIC,
    ("GET", "/api/agents/{agent}/desk"): _r(AGENT, SUPERVISOR, own="agent"),
    ("GET", "/api/agents/{agent}/caller-tickets"): _r(AGENT, SUPERVISOR, own="agent"),
    ("GET", "/api/directory"): _r(AGENT, SUPERVISOR, INTEGRATION),
    # IVR flows (ivr_flows/part.py)
    ("GET", "/api/flows"): _r(SUPERVISOR),
    # queue monitor (queue_monitor/part.py)
    ("GET", "/wallboard"): WALL,
    ("GET", "/wallboard/ws"): WALL,
    ("GET", "/api/figures"): WALL,
    ("GET", "/api/reports"): _r(VIEWER, SUPERVISOR, INTEGRATION),
    ("GET", "/metrics"): WALL,
}


def rule_for(method: str, template: str) -> Rule | None:
    """The rule of a route (``template`` as registered, e.g. ``/api/calls/{call_id}``), or None."""
    return TABLE.get(("GET" if method == "HEAD" else method, template))


PRINCIPAL: web.RequestKey = web.RequestKey("principal", object)   # set by cti.web's middleware


def principal(request: web.Request):
    """The :class:`cti.auth.Principal` the middleware found for ``request`` (None on a public route)."""
    return request.get(PRINCIPAL)


def require_own(request: web.Request, owner: str | None, what: str) -> None:
    """For an agent principal: raise 403 unless ``owner`` (the agent of the call or ticket) is itself."""
    who = principal(request)
    if who is not None and who.role == AGENT and owner != who.agent:
        raise forbidden(f"agent {who.agent} may use only its own {what}")


def forbidden(detail: str) -> web.HTTPForbidden:
    """The 403 every refusal of a known principal answers (JSON, like every error of the API)."""
    return web.HTTPForbidden(text=json.dumps({"error": "forbidden", "detail": detail}),
                             content_type="application/json")
