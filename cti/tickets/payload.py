"""The JSON messages we send to the ticket backend (schema version 1) and the callbacks we accept.

Outgoing body: ``{"type": "ticket.created", "version": "1", "timestamp": ISO-8601 UTC, "data": {...}}``
where ``data`` is a ticket (SCHEMA below). Recordings travel as links (``data.recording.url``), never
inline; when a call's recording is converted after its ticket was made, a ``recording.ready`` message
follows for that ticket, with the link, duration, size and SHA-256 of the file; when the citizen answers a
follow-up call (回访) on a ticket, a ``ticket.followup`` message carries the rating and the settled answer
for that (original) ticket. Callback body: ``{"type": "ticket.status", "timestamp": ..., "data": {"ticket_id",
"status": acknowledged|returned|extended|closed, "changed_at"?, "answer_by"? (extended), "note"?}}``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

SCHEMA_VERSION = "1"
EVENT_CREATED = "ticket.created"
EVENT_RECORDING_READY = "recording.ready"
EVENT_FOLLOWUP = "ticket.followup"
FOLLOWUP_OUTCOMES = ("surveyed", "to_agent", "followup_ticket")

_TIME = {"type": ["string", "null"], "format": "date-time"}
SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "12345 CTI ticket webhook, version 1",
    "type": "object",
    "required": ["type", "version", "timestamp", "data"],
    "properties": {
        "type": {"enum": [EVENT_CREATED, EVENT_RECORDING_READY, EVENT_FOLLOWUP]},
        "version": {"const": SCHEMA_VERSION},
        "timestamp": {"type": "string", "format": "date-time"},
        "data": {"description": "ticket.created: a ticket (#/$defs/ticket); recording.ready: "
                            "#/$defs/recording_ready; ticket.followup: #/$defs/followup"},
    },
    "allOf": [
        {"if": {"properties": {"type": {"const": EVENT_CREATED}}},
         "then": {"properties": {"data": {"$ref": "#/$defs/ticket"}}}},
        {"if": {"properties": {"type": {"const": EVENT_RECORDING_READY}}},
         "then": {"properties": {"data": {"$ref": "#/$defs/recording_ready"}}}},
        {"if": {"properties": {"type": {"const": EVENT_FOLLOWUP}}},
         "then": {"properties": {"data": {"$ref": "#/$defs/followup"}}}},
    ],
    "$defs": {
        "followup": {
            "type": "object",
            "description": "the citizen's answer to a follow-up call (回访) on a closed ticket; one per answer",
            "required": ["ticket_id", "rating", "settled", "answered_at"],
            "properties": {
                "ticket_id": {"type": "string", "description": "the followed-up (original) ticket"},
                "rating": {"enum": [1, 2, 3], "description": "1 满意 satisfied, 2 基本满意 basically, 3 不满意 dissatisfied"},
                "settled": {"type": ["boolean", "null"],
                            "description": "was the request settled: true 1 yes, false 2 no, null no answer"},
                "call_id": {"type": ["string", "null"], "description": "uniqueid of the follow-up call"},
                "outcome": {"enum": [*FOLLOWUP_OUTCOMES, None],
                            "description": "surveyed; dissatisfied: to_agent (handed to an agent) or "
                                           "followup_ticket (no agent free, a follow-up ticket was made)"},
                "answered_at": {"type": "string", "format": "date-time"},
            },
        },
        "recording_ready": {
            "type": "object",
            "description": "the recording of a ticket's call is converted and stored (sent once per ticket)",
            "required": ["ticket_id", "call_id", "recording"],
            "properties": {
                "ticket_id": {"type": "string"},
                "call_id": {"type": "string", "description": "uniqueid of the recorded channel"},
                "linkedid": {"type": "string"},
                "recording": {"type": "object", "required": ["url", "duration", "sha256", "size", "format"],
                              "properties": {
                                  "url": {"type": "string", "format": "uri",
                                          "description": "signed download link; expires (recordings.link_ttl)"},
                                  "duration": {"type": "number", "description": "seconds"},
                                  "sha256": {"type": "string", "description": "of the file the link serves"},
                                  "size": {"type": "integer", "description": "bytes"},
                                  "format": {"type": "string", "description": "opus, mp3..."}}},
            },
        },
        "ticket": {
            "type": "object",
            "required": ["id", "request_type", "created_at", "deadlines", "status"],
            "properties": {
                "id": {"type": "string"},
                "call_ids": {"type": "array", "items": {"type": "string"}},
                "caller_number": {"type": "string"},
                "hotline": {"type": "string", "description": "number the caller dialled"},
                "channel": {"type": "string", "description": "phone"},
                "request_type": {"type": "string", "description": "consultation, complaint, report, help, suggestion..."},
                "summary": {"type": "string"},
                "ivr_path": {"type": "array", "items": {"type": "string"}},
                "tags": {"type": "array", "items": {"type": "string"}, "description": "e.g. 企业"},
                "agent": {"type": ["string", "null"]},
                "department": {"type": ["string", "null"]},
                "urgency": {"type": "string"},
                "source": {"enum": ["agent", "after_hours", "survey", "layer"]},
                "created_at": _TIME,
                "deadlines": {"type": "object", "properties": {
                    "acknowledge_by": _TIME, "answer_by": _TIME, "return_by": _TIME}},
                "recording": {"type": ["object", "null"], "description": "null when the call was not recorded",
                              "properties": {"ref": {"type": "string"}, "url": {"type": "string", "format": "uri"}}},
                "rating": {"type": ["integer", "null"], "description": "1 satisfied, 2 basically, 3 dissatisfied"},
                "status": {"type": "string"},
            },
        },
    },
}


def iso(when: datetime | None) -> str | None:
    return None if when is None else when.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_time(value: Any) -> datetime:
    """ISO-8601 with a zone (``Z`` allowed) or epoch seconds; raise ValueError otherwise."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    if not isinstance(value, str):
        raise ValueError("a time must be an ISO-8601 string or epoch seconds")
    when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if when.tzinfo is None:
        raise ValueError(f"time {value!r} has no time zone")
    return when.astimezone(UTC)


def recording(ref: str | None, base_url: str) -> dict[str, str] | None:
    if not ref:
        return None
    url = ref if "://" in ref else (base_url.rstrip("/") + "/" + ref.lstrip("/") if base_url else ref)
    return {"ref": ref, "url": url}


def ticket_data(t, recording_base_url: str = "") -> dict[str, Any]:
    return {
        "id": t.id, "call_ids": list(t.call_ids), "caller_number": t.caller_number, "hotline": t.hotline,
        "channel": t.channel, "request_type": t.request_type, "summary": t.summary,
        "ivr_path": list(t.ivr_path), "tags": list(t.tags), "agent": t.agent, "department": t.department,
        "urgency": t.urgency, "source": t.source, "created_at": iso(t.created_at),
        "deadlines": {"acknowledge_by": iso(t.acknowledge_by), "answer_by": iso(t.answer_by),
                      "return_by": iso(t.return_by)},
        "recording": recording(t.recording_ref, recording_base_url), "rating": t.rating, "status": t.status,
    }


def followup_data(f) -> dict[str, Any]:
    """``f``: a models.TicketFollowup (or anything with its fields)."""
    return {"ticket_id": f.ticket_id, "rating": f.rating, "settled": f.settled, "call_id": f.call_id,
            "outcome": f.outcome, "answered_at": iso(f.recorded_at)}


def recording_ready_data(ticket_id: str, ready) -> dict[str, Any]:
    """``ready``: a recordings.pipeline.RecordingReady (or anything with its fields)."""
    return {"ticket_id": ticket_id, "call_id": ready.uniqueid, "linkedid": ready.linkedid,
            "recording": {"url": ready.link, "duration": ready.duration, "sha256": ready.sha256,
                          "size": ready.size, "format": ready.format}}


def envelope(event_type: str, data: dict[str, Any], now: datetime) -> str:
    """The exact body text; stored once so every retry sends (and signs) the same bytes."""
    body = {"type": event_type, "version": SCHEMA_VERSION, "timestamp": iso(now), "data": data}
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))
