"""HTTP routes: create and read tickets (token), and the backend's signed status callbacks."""

from __future__ import annotations

import logging
import time
from typing import Annotated, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from cti.roles import AGENT, principal, require_own
from cti.tickets import payload, signing
from cti.tickets.models import CALLBACK_STATUSES
from cti.tickets.service import SOURCES, URGENCIES, TicketError, TicketService, UnknownTicket
from cti.web import BadBody, InvalidInput, StrictModel, body_as, json_object, validate

log = logging.getLogger(__name__)

CALLBACK_PATH = "/api/tickets/callback"

# Lengths follow the tickets table's columns (cti/tickets/models.py); lists are bounded so one request
# cannot make a huge row.
Short = Annotated[str, Field(max_length=64)]


class TicketIn(StrictModel):
    """``POST /api/tickets``: what an agent desktop or a ticket system may set on a new ticket."""

    request_type: str = Field(min_length=1, max_length=40)
    caller_number: str = Field("", pattern=r"^\+?[0-9]{0,32}$")
    call_ids: list[Short] = Field(default_factory=list, max_length=20)
    hotline: str | None = Field(None, pattern=r"^[0-9]{1,20}$")
    channel: str = Field("phone", pattern=r"^[a-z_]{1,20}$")
    summary: str = Field("", max_length=4000)
    ivr_path: list[Short] = Field(default_factory=list, max_length=50)
    tags: list[Short] = Field(default_factory=list, max_length=20)
    agent: str | None = Field(None, pattern=r"^[0-9A-Za-z_-]{1,32}$")
    department: str | None = Field(None, max_length=120)
    urgency: Literal[URGENCIES] = "normal"
    source: Literal[SOURCES] = "agent"
    recording_ref: str | None = Field(None, max_length=400)
    rating: Literal[1, 2, 3] | None = None


class CallbackData(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)     # the backend may send more (a note...)
    ticket_id: str = Field(min_length=1, max_length=40)
    status: str = Field(max_length=40)
    changed_at: str | float | None = None
    answer_by: str | float | None = None


class CallbackIn(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)
    data: CallbackData
    timestamp: str | float | None = None


def _bad(status: int, error: str, detail: str) -> web.Response:
    return web.json_response({"error": error, "detail": detail}, status=status)


def data_time(body: bytes):
    """The envelope's ``timestamp`` (the change time when ``data.changed_at`` is absent)."""
    return json_object(body).get("timestamp")


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
        fields = (await body_as(request, TicketIn)).model_dump(exclude_unset=True)
        who = principal(request)
        if who is not None and who.role == AGENT:     # an agent's ticket is its own (cti/roles.py)
            require_own(request, fields.setdefault("agent", who.agent), "tickets")
        try:
            ticket = await self.service.create(**fields)
        except TicketError as exc:
            raise InvalidInput("request_type", str(exc)) from None
        return web.json_response(ticket, status=201)

    async def get(self, request: web.Request) -> web.Response:
        ticket_id = request.match_info["ticket_id"]
        ticket = await self.service.get(ticket_id) if len(ticket_id) <= 40 else None
        if ticket is None:
            return _bad(404, "unknown ticket", "no ticket with that id")
        require_own(request, ticket.get("agent"), "tickets")
        return web.json_response(ticket)

    async def callback(self, request: web.Request) -> web.Response:
        body = await request.read()
        try:
            webhook_id = signing.verify(self.secrets, request.headers, body, time.time(), self.tolerance)
        except signing.SignatureError as exc:
            log.warning("ticket callback refused from %s: %s", request.remote, exc)
            return _bad(401, "bad signature", str(exc))
        try:
            inner = validate(CallbackIn, json_object(body)).data
        except BadBody as exc:
            log.warning("ticket callback %s refused: malformed JSON", webhook_id)
            raise InvalidInput("body", str(exc)) from None
        status = inner.status
        if status not in CALLBACK_STATUSES:
            log.warning("ticket callback %s refused: unknown status %r", webhook_id, status)
            return _bad(422, "unknown status", f"{status!r}; known: {', '.join(CALLBACK_STATUSES)}")
        try:
            changed_at = payload.parse_time(inner.changed_at if inner.changed_at is not None else data_time(body))
            answer_by = payload.parse_time(inner.answer_by) if inner.answer_by else None
        except (ValueError, OverflowError, OSError) as exc:
            raise InvalidInput("data.changed_at", str(exc)) from None
        try:
            outcome = await self.service.apply_status(webhook_id, inner.ticket_id, status, changed_at, answer_by)
        except UnknownTicket:
            log.warning("ticket callback %s refused: unknown ticket %s", webhook_id, inner.ticket_id)
            return _bad(404, "unknown ticket", inner.ticket_id)
        # A replayed id gets 200 (so an honest sender stops retrying) but changes nothing.
        return web.json_response({"webhook_id": webhook_id, "outcome": outcome})
