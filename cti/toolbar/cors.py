"""CORS for the ticket-system pages that embed the agent toolbar (``calls.toolbar_origins``).

A page on another origin loads ``/agent/toolbar.js`` as a module script (always a CORS request, HTML
spec "fetch a single module script") and calls the API with ``Authorization: Bearer`` (a preflighted
request, Fetch spec §3.2.2). Only listed origins get the headers; no cookies are allowed across origins
(the agent's session travels in the header). A middleware of our own rather than aiohttp-cors: that
library registers OPTIONS routes, which would bypass cti/roles.py's one table of routes.
"""

from __future__ import annotations

from aiohttp import web

PREFLIGHT_MAX_AGE = "600"          # seconds a browser may cache a preflight answer
ALLOWED_HEADERS = "Authorization, Content-Type"
ALLOWED_METHODS = "GET, POST"
EMBEDDABLE = ("/agent/toolbar.js", "/api/")   # what an embedding page may fetch; never /wallboard


def _embeddable(path: str) -> bool:
    return path == EMBEDDABLE[0] or path.startswith(EMBEDDABLE[1])


def middleware(origins: list[str]):
    """The middleware answering preflights and marking answers for ``origins``; None when none."""
    allowed = frozenset(origins)
    if not allowed:
        return None

    def mark(response: web.StreamResponse, origin: str) -> None:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Vary"] = "Origin"

    @web.middleware
    async def cors(request: web.Request, handler):
        origin = request.headers.get("Origin", "")
        if origin not in allowed or not _embeddable(request.path):
            return await handler(request)
        if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
            response = web.Response(status=204)
            response.headers.update({"Access-Control-Allow-Methods": ALLOWED_METHODS,
                                     "Access-Control-Allow-Headers": ALLOWED_HEADERS,
                                     "Access-Control-Max-Age": PREFLIGHT_MAX_AGE})
            mark(response, origin)
            return response
        try:
            response = await handler(request)
        except web.HTTPException as exc:       # a 401/403/404 must be readable by the page too
            mark(exc, origin)
            raise
        if not response.prepared:              # a WebSocket is already under way: no CORS there
            mark(response, origin)
        return response

    return cors
