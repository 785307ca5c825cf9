"""HTTP routes: create and read tickets (token), and the backend's signed status callbacks."""

from __future__ import annotations

import logging
import time
from typing import Any

from aiohttp import web

from cti.tickets import payload, signing
from cti.tickets.models import CALLBACK_STATUSES
from cti.tickets.service import TicketError, TicketService, UnknownTicket
from cti.web import BadBody, json_object

log = logging.getLogger(__name__)

CALLBACK_PATH = "/api/tickets/callback"
_CREATE_FIELDS = {"request_type", "caller_number", "call_ids", "hotline", "channel", "summary", "ivr_path",
                  "tags", "agent", "department", "urgency", "source", "recording_ref", "rating"}


def _bad(status: int, error: str, detail: str) -> web.Response:
    return web.json_response({"error": error, "detail": detail}, status=status)


async def _json_object(request: web.Request, body: bytes | None = None) -> dict[str, Any] | web.Response:
    raw = await request.read() if body is None else body
    try:
        return json_object(raw)
    except BadBody as exc:
        return _bad(400, "malformed JSON", str(exc))


class TicketsApi:
    def __init__(self, service: TicketService, secrets: list[str], tolerance: float) -> None:
        self.service = service
        self.secrets = secrets
        self.tolerance = tolerance

    def setup(self, app: web.Application) -> None:
        app.router.add_post("/api/tickets", self.create)
        app.router.add_get("/api/tickets/schema", self.schema)
        app.router.add_get("/api/tickets/{ticket_id}", self.get)
        app.router.add_post(CALLBACK_PATH, self.callback)

    async def schema(self, request: web.Request) -> web.Response:
        return web.json_response(payload.SCHEMA)

    async def create(self, request: web.Request) -> web.Response:
        data = await _json_object(request)
        if isinstance(data, web.Response):
            return data
        unknown = sorted(set(data) - _CREATE_FIELDS)
        if unknown:
            return _bad(400, "unknown fields", ", ".join(unknown))
        if not isinstance(data.get("request_type"), str):
            return _bad(400, "missing field", "request_type is required")
        for key in ("call_ids", "ivr_path", "tags"):
            if key in data and not (isinstance(data[key], list) and all(isinstance(x, str) for x in data[key])):
                return _bad(400, "bad field", f"{key} must be a list of strings")
        try:
            ticket = await self.service.create(**data)
        except TicketError as exc:
            return _bad(400, "bad ticket", str(exc))
        return web.json_response(ticket, status=201)

    async def get(self, request: web.Request) -> web.Response:
        ticket = await self.service.get(request.match_info["ticket_id"])
        if ticket is None:
            return _bad(404, "unknown ticket", request.match_info["ticket_id"])
        return web.json_response(ticket)

    # public in cti/roles.py's table: authenticated by its Standard Webhooks signature
    async def callback(self, request: web.Request) -> web.Response:
        body = await request.read()
        try:
            webhook_id = signing.verify(self.secrets, request.headers, body, time.time(), self.tolerance)
        except signing.SignatureError as exc:
            log.warning("ticket callback refused from %s: %s", request.remote, exc)
            return _bad(401, "bad signature", str(exc))
        data = await _json_object(request, body)
        if isinstance(data, web.Response):
            log.warning("ticket callback %s refused: malformed JSON", webhook_id)
            return data
        inner = data.get("data")
        if not isinstance(inner, dict) or not isinstance(inner.get("ticket_id"), str):
            return _bad(400, "bad callback", "data.ticket_id is required")
        status = inner.get("status")
        if status not in CALLBACK_STATUSES:
            log.warning("ticket callback %s refused: unknown status %r", webhook_id, status)
            return _bad(422, "unknown status", f"{status!r}; known: {', '.join(CALLBACK_STATUSES)}")
        try:
            changed_at = payload.parse_time(inner.get("changed_at", data.get("timestamp")))
            answer_by = payload.parse_time(inner["answer_by"]) if inner.get("answer_by") else None
        except (ValueError, OverflowError) as exc:
            return _bad(400, "bad time", str(exc))
        try:
            outcome = await self.service.apply_status(webhook_id, inner["ticket_id"], status, changed_at, answer_by)
        except UnknownTicket:
            log.warning("ticket callback %s refused: unknown ticket %s", webhook_id, inner["ticket_id"])
            return _bad(404, "unknown ticket", inner["ticket_id"])
        # A replayed id gets 200 (so an honest sender stops retrying) but changes nothing.
        return web.json_response({"webhook_id": webhook_id, "outcome": outcome})
