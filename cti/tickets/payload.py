"""The JSON messages we send to the ticket backend (schema version 1) and the callbacks we accept.

Outgoing body: ``{"type": "ticket.created", "version": "1", "timestamp": ISO-8601 UTC, "data": {...}}``
where ``data`` is a ticket (SCHEMA below). Recordings travel as links (``data.recording.url``), never
inline; when a call's recording is converted after its ticket was made, a ``recording.ready`` message
follows for that ticket, with the link, duration, size and SHA-256 of the file; when the citizen answers a
follow-up call (回访) on a ticket, a ``ticket.followup`` message carries the rating and the settled answer
for that (original) ticket. Two messages concern a call rather than a ticket (issue 21): ``call.disposition``,
how an agent said a call ended (话后小结) with the links of its tickets, recording and rating when there are
any, and ``knowledge.item``, one question and its answer from a policy specialist's three-way call (一问一答)
for the backend's knowledge base. Callback body: ``{"type": "ticket.status", "timestamp": ..., "data": {"ticket_id",
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
EVENT_DISPOSITION = "call.disposition"
EVENT_KNOWLEDGE = "knowledge.item"
FOLLOWUP_OUTCOMES = ("surveyed", "to_agent", "followup_ticket")

_TIME = {"type": ["string", "null"], "format": "date-time"}
SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "12345 CTI ticket webhook, version 1",
    "type": "object",
    "required": ["type", "version", "timestamp", "data"],
    "properties": {
        "type": {"enum": [EVENT_CREATED, EVENT_RECORDING_READY, EVENT_FOLLOWUP, EVENT_DISPOSITION, EVENT_KNOWLEDGE]},
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
        {"if": {"properties": {"type": {"const": EVENT_DISPOSITION}}},
         "then": {"properties": {"data": {"$ref": "#/$defs/disposition"}}}},
        {"if": {"properties": {"type": {"const": EVENT_KNOWLEDGE}}},
         "then": {"properties": {"data": {"$ref": "#/$defs/knowledge_item"}}}},
    ],
    "$defs": {
        "line": {"type": "object", "required": ["id", "name"], "description": "the special line of the call "
                 "(config/specialists.yaml: enterprise 一企来, talent 尚贤...) or public (市民热线)",
                 "properties": {"id": {"type": "string"}, "name": {"type": "string"}}},
        "disposition": {
            "type": "object",
            "description": "how the agent said a call ended (话后小结); one per call, sent once",
            "required": ["call_id", "agent", "disposition", "line", "recorded_at", "tickets"],
            "properties": {
                "call_id": {"type": "string", "description": "uniqueid of the citizen's queue channel"},
                "agent": {"type": "string"},
                "caller_number": {"type": "string"},
                "hotline": {"type": "string", "description": "number the caller dialled"},
                "queue": {"type": "string"},
                "tags": {"type": "array", "items": {"type": "string"}, "description": "e.g. 企业"},
                "line": {"$ref": "#/$defs/line"},
                "disposition": {"type": "object", "required": ["code", "name", "online", "request"], "properties": {
                    "code": {"type": "string", "description": "dispositions.choices code, e.g. answered_online"},
                    "name": {"type": "string", "description": "e.g. 在线答复, 专员连线解答, 转办工单, 转接, 无效来电"},
                    "online": {"type": "boolean", "description": "counts as answered online (在线解答)"},
                    "request": {"type": "boolean", "description": "counts as a request (false: 无效来电)"}}},
                "request_type": {"type": ["string", "null"], "description": "consultation, complaint..."},
                "summary": {"type": "string"},
                "connected_at": _TIME, "ended_at": _TIME, "recorded_at": _TIME,
                "wrapup_seconds": {"type": ["number", "null"],
                                   "description": "after-call work: call end to disposition, seconds"},
                "tickets": {"type": "array", "items": {"type": "string"},
                            "description": "ids of the call's tickets (the one the agent named first)"},
                "recording": {"type": ["object", "null"], "description": "null when the call was not recorded",
                              "properties": {"ref": {"type": "string"}, "url": {"type": "string", "format": "uri"}}},
                "rating": {"type": ["integer", "null"], "description": "the citizen's survey rating of the call: "
                           "1 satisfied, 2 basically, 3 dissatisfied; null when none was given by then"},
            },
        },
        "knowledge_item": {
            "type": "object",
            "description": "one question and its answer from a policy specialist's three-way call (一问一答)",
            "required": ["id", "call_id", "question", "answer", "field", "department", "specialist", "line"],
            "properties": {
                "id": {"type": "string"},
                "call_id": {"type": "string", "description": "uniqueid of the citizen's queue channel"},
                "agent": {"type": "string"},
                "question": {"type": "string"}, "answer": {"type": "string"},
                "field": {"type": "string", "description": "e.g. 税务, 社保, 人才, 市场准入"},
                "department": {"type": "string"},
                "specialist": {"type": "object", "required": ["id", "name"], "properties": {
                    "id": {"type": "string"}, "name": {"type": "string"}}},
                "line": {"$ref": "#/$defs/line"},
                "leg_started_at": _TIME, "leg_ended_at": _TIME, "created_at": _TIME,
            },
        },
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


def line(line_id: str, name: str) -> dict[str, str]:
    return {"id": line_id, "name": name}


def disposition_data(d, tickets: list[str], recording_ref: str | None, base_url: str = "") -> dict[str, Any]:
    """``d``: a cti.dispositions.models.CallDisposition that is recorded."""
    return {"call_id": d.call_id, "agent": d.agent, "caller_number": d.caller_number, "hotline": d.hotline,
            "queue": d.queue, "tags": list(d.tags), "line": line(d.line, d.line_name),
            "disposition": {"code": d.code, "name": d.name, "online": d.online, "request": d.request},
            "request_type": d.request_type, "summary": d.summary, "connected_at": iso(d.connected_at),
            "ended_at": iso(d.ended_at), "recorded_at": iso(d.recorded_at), "wrapup_seconds": d.wrapup_seconds,
            "tickets": tickets, "recording": recording(recording_ref, base_url), "rating": d.rating}


def knowledge_data(k, line_name: str) -> dict[str, Any]:
    """``k``: a cti.dispositions.models.KnowledgeItem."""
    return {"id": k.id, "call_id": k.call_id, "agent": k.agent, "question": k.question, "answer": k.answer,
            "field": k.field, "department": k.department,
            "specialist": {"id": k.specialist_id, "name": k.specialist_name}, "line": line(k.line, line_name),
            "leg_started_at": iso(k.leg_started_at), "leg_ended_at": iso(k.leg_ended_at),
            "created_at": iso(k.created_at)}


def envelope(event_type: str, data: dict[str, Any], now: datetime) -> str:
    """The exact body text; stored once so every retry sends (and signs) the same bytes."""
    body = {"type": event_type, "version": SCHEMA_VERSION, "timestamp": iso(now), "data": data}
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))
