"""The layer's HTTP server (aiohttp): who may use which route, in front of every route the parts add.

Parts add routes with ``setup(app)`` functions. Every request is checked against cti/roles.py's table
by :func:`_auth`: the credential (``Authorization: Bearer`` (scheme in any case, RFC 9110 §11.1), else
``?token=``, else the ``cti_token`` cookie) names a principal (cti/auth.py); no or a wrong credential
answers 401, a role the table does not list 403. Browsers that cannot set a header (the wallboard) pass
``?token=`` once: the answer sets an HttpOnly cookie and the page drops the token from its address.
Refusals of unauthenticated requests are counted and logged at most once per ``http.refusal_log_interval``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import secrets
import time
import weakref
from collections.abc import Callable

from aiohttp import WSCloseCode, web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cti import roles
from cti.auth import Credentials, Principal

log = logging.getLogger(__name__)

CREDENTIALS: web.AppKey[Credentials] = web.AppKey("credentials", Credentials)
REFUSALS: web.AppKey[RefusalLog] = web.AppKey("refusals", object)
COOKIE = "cti_token"
WEBSOCKETS: web.AppKey[weakref.WeakSet] = web.AppKey("websockets", weakref.WeakSet)
# Parts add callables returning extra /healthz fields (the AMI session's event-time source: issue 16).
HEALTH: web.AppKey[list] = web.AppKey("health", list)
# An in-flight request gets this long to finish when the layer stops (aiohttp's default is 60 s, twice).
SHUTDOWN_TIMEOUT = 5.0


def new_token() -> str:
    return secrets.token_urlsafe(24)


def _presented_token(request: web.Request) -> str:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        return value.strip()
    return request.query.get("token") or request.cookies.get(COOKIE, "")


def authenticate(request: web.Request) -> Principal | None:
    """The principal of the credential ``request`` presents, or None."""
    return request.app[CREDENTIALS].principal(_presented_token(request))


class RefusalLog:
    """Unauthenticated requests are counted; one WARNING line per ``interval`` seconds says how many
    (2,000 refused requests once wrote 2,000 lines: issue 17). The last one's method, path and peer are
    named, escaped by cti.logs like every value from outside."""

    def __init__(self, interval: float, clock=time.monotonic) -> None:
        self.interval, self.clock = interval, clock
        self.count, self.last_logged, self.last = 0, None, ""

    def refused(self, request: web.Request, why: str) -> None:
        self.count += 1
        self.last = f"{request.method} {request.path} from {request.remote} ({why})"
        now = self.clock()
        if self.last_logged is None or now - self.last_logged >= self.interval:
            self.flush(now)

    def flush(self, now: float | None = None) -> None:
        if self.count:
            log.warning("HTTP refused %d unauthenticated request(s) in the last %.0f s; last: %s",
                        self.count, self.interval, self.last)
        self.count, self.last_logged = 0, self.clock() if now is None else now


def _unauthorized() -> web.Response:
    return web.json_response({"error": "unauthorized", "detail": "a valid credential is required"}, status=401)


@web.middleware
async def _auth(request: web.Request, handler):
    route = request.match_info.route
    template = route.resource.canonical if route.resource is not None else None
    rule = roles.rule_for(request.method, template) if template is not None else None
    if rule is not None and (rule.public or (rule.signed and ("sig" in request.query or "expires" in request.query))):
        return await handler(request)       # the handler authenticates the request itself
    who = authenticate(request)
    if who is None:
        request.app[REFUSALS].refused(request, "missing or wrong credential")
        return _unauthorized()
    if template is None:                    # no such route: 404 / 405, but only to a known principal
        return await handler(request)
    if rule is None:                        # a route missing from the table is nobody's (fail closed)
        log.error("HTTP %s %s: route %s is not in cti/roles.py's table; refused", request.method, request.path,
                  template)
        raise roles.forbidden("this route is not open to any role")
    if who.role not in rule.roles:
        log.info("HTTP %s %s refused: role %s (%s) may not use it", request.method, request.path, who.role, who.label)
        raise roles.forbidden(f"the {who.role} role may not use {request.method} {template}")
    if who.role == roles.AGENT and rule.own == "agent" and request.match_info.get("agent") != who.agent:
        log.info("HTTP %s %s refused: %s may not act for another agent", request.method, request.path, who.label)
        raise roles.forbidden(f"agent {who.agent} may act only for itself")
    request[roles.PRINCIPAL] = who
    response = await handler(request)
    if request.query.get("token") and isinstance(response, web.Response):
        response.set_cookie(COOKIE, request.query["token"], httponly=True, samesite="Strict")
    return response


@web.middleware
async def _errors(request: web.Request, handler):
    # A bad request gets a JSON body saying why; a bug gets a 500 and a log line, never a dead server.
    try:
        return await handler(request)
    except InvalidInput as exc:
        log.info("HTTP %s %s: 400 %s: %s", request.method, request.path, exc.field, exc.detail)
        return web.json_response({"error": "bad_request", "field": exc.field, "detail": f"{exc.field}: {exc.detail}"},
                                 status=400)
    except web.HTTPException as exc:
        if exc.status >= 400 and exc.content_type != "application/json":
            return web.json_response({"error": exc.reason, "detail": exc.text}, status=exc.status)
        raise
    except Exception:
        log.exception("HTTP %s %s failed", request.method, request.path)
        return web.json_response({"error": "internal error"}, status=500)


async def _healthz(request: web.Request) -> web.Response:
    body = {"status": "ok"}
    for fields in request.app[HEALTH]:
        body.update(fields())
    return web.json_response(body)


async def prepare_websocket(request: web.Request, ws: web.WebSocketResponse) -> None:
    """Prepare ``ws`` and register it, so the layer closes it (1001 going away) when it stops.

    Without this, aiohttp's shutdown waits for the open handler (a wallboard, an agent desktop) up to
    its shutdown timeout, twice: ``cti run`` took 30-120 s to stop with one wall open."""
    await ws.prepare(request)
    request.app[WEBSOCKETS].add(ws)


async def _close_websockets(app: web.Application) -> None:
    sockets = [ws for ws in app[WEBSOCKETS] if not ws.closed]
    if sockets:
        log.info("HTTP stopping: closing %d WebSocket(s)", len(sockets))
        await asyncio.gather(*(ws.close(code=WSCloseCode.GOING_AWAY, message=b"server stopping")
                               for ws in sockets), return_exceptions=True)


def create_app(credentials: Credentials | str, setups: list[Callable[[web.Application], None]] = (),
               refusal_interval: float = 60.0) -> web.Application:
    """The app with every part's routes; ``credentials`` a :class:`Credentials`, or one admin token."""
    if isinstance(credentials, str):
        from cti.settings import HttpSettings
        credentials = Credentials(HttpSettings(token=credentials), secrets.token_bytes(32))
    app = web.Application(middlewares=[_errors, _auth])
    app[CREDENTIALS] = credentials
    app[REFUSALS] = RefusalLog(refusal_interval)
    app[WEBSOCKETS] = weakref.WeakSet()
    app[HEALTH] = []
    app.on_shutdown.append(_close_websockets)
    app.on_cleanup.append(_flush_refusals)
    app.router.add_get("/healthz", _healthz)
    app.router.add_post("/api/agents/{agent}/session", _agent_session)
    for setup in setups:
        setup(app)
    return app


async def _flush_refusals(app: web.Application) -> None:
    app[REFUSALS].flush()


async def serve(app: web.Application, host: str, port: int) -> tuple[web.AppRunner, int]:
    """Start ``app`` on host:port (port 0 picks one); return the runner and the bound port."""
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = site._server.sockets[0].getsockname()[1]
    return runner, bound


class BadBody(ValueError):
    """A request body that is not a JSON object: the handler answers 400 with this text, never a 500."""


def json_object(raw: bytes) -> dict:
    """The body ``raw`` as a JSON object (dict). Raises :class:`BadBody` for bytes that are not UTF-8
    JSON, JSON nested too deeply for the parser (RecursionError), or JSON that is not an object."""
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadBody(f"the body is not valid JSON: {exc}") from None
    except RecursionError:
        raise BadBody("the body is nested too deeply") from None
    if not isinstance(data, dict):
        raise BadBody("the body must be a JSON object")
    return data


class InvalidInput(ValueError):
    """Bad input at the edge: the middleware answers 400 ``{"error": "bad_request", "field", "detail"}``."""

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(f"{field}: {detail}")
        self.field, self.detail = field, detail


_TYPE_TAGS = {"str", "int", "float", "bool", "none", "list", "dict", "date", "literal"}


def validate(model: type[BaseModel], data: dict) -> BaseModel:
    """``data`` as ``model``; raise :class:`InvalidInput` naming the first bad field (never its value:
    it may be a citizen's number)."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors(include_input=False, include_url=False)[0]
        # a union's member is named in the location ("changed_at", "str"): the field is what the caller sent
        loc = [p for p in err["loc"] if not (isinstance(p, str) and (p in _TYPE_TAGS or "[" in p))]
        field = ".".join(str(p) for p in loc) or "body"
        raise InvalidInput(field, err["msg"]) from None


async def body_as(request: web.Request, model: type[BaseModel], required: bool = True) -> BaseModel:
    """The request's JSON object body validated as ``model`` (an absent body is ``{}`` unless required)."""
    if not request.body_exists:
        if required:
            raise InvalidInput("body", "a JSON object body is required")
        return validate(model, {})
    try:
        return validate(model, json_object(await request.read()))
    except BadBody as exc:
        raise InvalidInput("body", str(exc)) from None


def query_as(request: web.Request, model: type[BaseModel]) -> BaseModel:
    """The query string validated as ``model`` (``token`` is the credential, not a parameter); a name
    given twice is refused."""
    names = [k for k, _ in request.query.items() if k != "token"]
    if len(names) != len(set(names)):
        raise InvalidInput(next(n for n in names if names.count(n) > 1), "given more than once")
    return validate(model, {k: request.query[k] for k in names})


class StrictModel(BaseModel):
    """A JSON body: no unknown fields, no type coercion ("12" is not 12, 12 is not "12")."""

    model_config = ConfigDict(extra="forbid", strict=True)


class NoBody(StrictModel):
    """Routes that take no fields: an absent body or ``{}``."""


class QueryModel(BaseModel):
    """A query string: no unknown names; text converts to the field's type ("100" is 100)."""

    model_config = ConfigDict(extra="forbid")


AGENT_ID = r"^[0-9A-Za-z_-]{1,32}$"     # the agent ids of cti.calls.agents


class SessionIn(StrictModel):
    pin: str = Field(min_length=4, max_length=64)


async def _agent_session(request: web.Request) -> web.Response:
    """``POST /api/agents/{agent}/session`` ``{"pin": "..."}``: an agent's session token (201), bound to
    that agent id; 401 for a wrong id or PIN, 429 after too many wrong PINs in a row."""
    agent = request.match_info["agent"]
    if not re.fullmatch(AGENT_ID, agent):
        raise InvalidInput("agent", "an agent id is 1-32 letters, digits, '-' or '_'")
    body = await body_as(request, SessionIn)
    creds = request.app[CREDENTIALS]
    if creds.locked(agent):
        request.app[REFUSALS].refused(request, "agent sign-in locked")
        return web.json_response({"error": "locked", "detail": "too many wrong PINs; try again later"},
                                 status=429, headers={"Retry-After": "60"})
    result = await asyncio.to_thread(creds.sign_in, agent, body.pin)   # scrypt: off the event loop
    if result is None:
        request.app[REFUSALS].refused(request, "wrong agent id or PIN")
        return web.json_response({"error": "unauthorized", "detail": "wrong agent id or PIN"}, status=401)
    token, expires = result
    log.info("agent %s signed in; session until %d", agent, expires)
    return web.json_response({"agent": agent, "token": token, "expires_at": expires}, status=201)
