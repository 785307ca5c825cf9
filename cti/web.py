"""The layer's HTTP server (aiohttp): token auth in front of every route the parts register.

Parts add routes with ``setup(app)`` functions; a handler that authenticates by other means (a signed
webhook callback, a signed download link) is marked with :func:`public`. Browsers that cannot set a
header (the wallboard's WebSocket) may pass ``?token=``; a successful page load sets an HttpOnly cookie.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import secrets
import weakref
from collections.abc import Callable

from aiohttp import WSCloseCode, web

log = logging.getLogger(__name__)

TOKEN: web.AppKey[str] = web.AppKey("token", str)
COOKIE = "cti_token"
WEBSOCKETS: web.AppKey[weakref.WeakSet] = web.AppKey("websockets", weakref.WeakSet)
# An in-flight request gets this long to finish when the layer stops (aiohttp's default is 60 s, twice).
SHUTDOWN_TIMEOUT = 5.0


def new_token() -> str:
    return secrets.token_urlsafe(24)


def public(handler):
    """Mark a route handler the token check lets through: it authenticates the request itself."""
    handler.cti_public = True
    return handler


def _presented_token(request: web.Request) -> str:
    auth = request.headers.get("Authorization", "")
    if auth.startswith("Bearer "):
        return auth[7:].strip()
    return request.query.get("token") or request.cookies.get(COOKIE, "")


def token_ok(request: web.Request) -> bool:
    presented = _presented_token(request)
    return bool(presented) and hmac.compare_digest(presented.encode(), request.app[TOKEN].encode())


@web.middleware
async def _auth(request: web.Request, handler):
    if getattr(request.match_info.handler, "cti_public", False):
        return await handler(request)
    presented = _presented_token(request)
    if not token_ok(request):
        log.warning("HTTP %s %s refused: missing or wrong token (from %s)", request.method, request.path, request.remote)
        return web.json_response({"error": "unauthorized", "detail": "a valid token is required"}, status=401)
    response = await handler(request)
    if request.query.get("token") and isinstance(response, web.Response):
        response.set_cookie(COOKIE, presented, httponly=True, samesite="Strict")
    return response


@web.middleware
async def _errors(request: web.Request, handler):
    # A bad request gets a JSON body saying why; a bug gets a 500 and a log line, never a dead server.
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status >= 400 and exc.content_type != "application/json":
            return web.json_response({"error": exc.reason, "detail": exc.text}, status=exc.status)
        raise
    except Exception:
        log.exception("HTTP %s %s failed", request.method, request.path)
        return web.json_response({"error": "internal error"}, status=500)


@public
async def _healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


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


def create_app(token: str, setups: list[Callable[[web.Application], None]] = ()) -> web.Application:
    app = web.Application(middlewares=[_errors, _auth])
    app[TOKEN] = token
    app[WEBSOCKETS] = weakref.WeakSet()
    app.on_shutdown.append(_close_websockets)
    app.router.add_get("/healthz", _healthz)
    for setup in setups:
        setup(app)
    return app


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
