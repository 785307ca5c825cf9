"""Input at the edge and safe logs (issue 17), on a layer with every part and its real log pipeline
(cti.logs.setup, as `cti run` logs):

- every JSON route and every validated query answers bad input (wrong types, missing fields, oversize
  values, nulls, unknown fields) with 400 naming the field, never a 500;
- no caller's full number reaches the log, at DEBUG, whatever the request held;
- a value from outside with CR, LF or NUL (a forged log line) stays on its own record's line;
- refusals of unauthenticated requests are counted, not written one line each.
"""

from __future__ import annotations

import io
import json
import logging
import re
import time

import aiohttp
import pytest
import yarl
from calls_support import settings_for
from tickets_support import free_port

from cti import logs
from cti.app import Layer
from cti.tickets import signing

NUMBER = "13912345678"            # a citizen's number: it must never be written in full
HUGE = "1" * 100_000
SECRET = signing.new_secret()
ADMIN = {"Authorization": "Bearer desk-token"}

BAD_TICKETS = [
    ({"request_type": "complaint", "caller_number": int(NUMBER)}, "caller_number"),
    ({"request_type": "complaint", "summary": [NUMBER]}, "summary"),
    ({"request_type": "complaint", "hotline": {"n": NUMBER}}, "hotline"),
    ({"request_type": "complaint", "channel": None}, "channel"),
    ({"request_type": "complaint", "agent": 123}, "agent"),
    ({"request_type": "complaint", "caller_number": HUGE}, "caller_number"),
    ({"caller_number": NUMBER}, "request_type"),
    ({"request_type": "complaint", "caller_number": NUMBER, "colour": "red"}, "colour"),
    ({"request_type": "complaint", "tags": ["x"] * 21}, "tags"),
    ({"request_type": "complaint", "rating": "2"}, "rating"),
    ({"request_type": "complaint", "call_ids": [NUMBER * 10]}, "call_ids.0"),
    ({"request_type": "teleport", "caller_number": NUMBER}, "request_type"),
]
NUMBER_BODY = [({"number": 12315}, "number"), ({}, "number"), ({"number": "1" * 21}, "number"),
               ({"number": None}, "number"), ({"number": "12315", "x": 1}, "x"), ({"number": HUGE}, "number")]
NO_FIELDS = [({"x": 1}, "x"), ({"caller": NUMBER}, "caller")]
CASES: dict[str, list[tuple[object, str]]] = {
    "/api/tickets": BAD_TICKETS,
    "/api/calls/{call_id}/transfer": NUMBER_BODY,
    "/api/calls/{call_id}/threeway": NUMBER_BODY,
    "/api/calls/{call_id}/cancel": NO_FIELDS,
    "/api/calls/{call_id}/drop-off": NO_FIELDS,
    "/api/calls/{call_id}/hangup": NO_FIELDS,
    "/api/calls/{call_id}/spy": [({"supervisor": 7001, "mode": "listen"}, "supervisor"),
                                 ({"supervisor": "7001", "mode": "eavesdrop"}, "mode"),
                                 ({"supervisor": "7001"}, "mode"), ({"supervisor": None, "mode": "barge"}, "supervisor")],
    "/api/agents/{agent}/login": [({"queues": "public"}, "queues"), ({"paused": "yes"}, "paused"),
                                  ({"queues": []}, "queues"), ({"queues": ["public"], "agent": "6002"}, "agent")],
    "/api/agents/{agent}/logout": [({"queues": [1]}, "queues.0"), ({"queues": ["a" * 33]}, "queues.0")],
    "/api/agents/{agent}/pause": [({"reason": None}, "reason"), ({"reason": "x" * 81}, "reason"), ({}, "reason"),
                                  ({"reason": ["休息"]}, "reason")],
    "/api/agents/{agent}/unpause": NO_FIELDS,
    "/api/agents/{agent}/session": [({"pin": 1234}, "pin"), ({}, "pin"), ({"pin": "1" * 65}, "pin"),
                                    ({"pin": "1234", "agent": "6002"}, "agent")],
    "/api/outbound/campaigns/{name}/numbers": [({"numbers": NUMBER}, "numbers"), ({}, "numbers"),
                                               ({"calls": [{"number": NUMBER, "x": 1}]}, "calls.0.x"),
                                               ({"numbers": [HUGE]}, "numbers.0"), ({"numbers": [int(NUMBER)]}, "numbers.0"),
                                               ({"numbers": None}, "numbers")],
    "/api/outbound/campaigns/{name}/pause": NO_FIELDS,
    "/api/outbound/campaigns/{name}/resume": NO_FIELDS,
    "/api/outbound/do-not-call": [({"number": int(NUMBER)}, "number"), ({"number": NUMBER, "note": [NUMBER]}, "note"),
                                  ({"note": NUMBER}, "number"), ({"number": NUMBER, "note": "x" * 201}, "note")],
    "/api/calls/{call_id}/specialist": [({"field": 5, "in_turn": True}, "field"),
                                        ({"field": "税务", "in_turn": "yes"}, "in_turn")],
    "/api/calls/{call_id}/disposition": [({"code": 7}, "code"), ({}, "code"), ({"code": "nope"}, "code"),
                                         ({"code": "ticket", "request_type": "gossip"}, "request_type"),
                                         ({"code": "ticket", "summary": [NUMBER]}, "summary"),
                                         ({"code": "ticket", "caller": NUMBER}, "caller")],
    "/api/calls/{call_id}/knowledge": [({"question": ""}, "question"), ({"question": "q"}, "answer"),
                                       ({"question": "q", "answer": "a" * 4001}, "answer"),
                                       ({"question": "q", "answer": "a", "specialist_id": 5}, "specialist_id")],
    "/api/tickets/callback": [({"type": "ticket.status", "data": {"ticket_id": 5, "status": "closed"}}, "data.ticket_id"),
                              ({"data": NUMBER}, "data"), ({}, "data"),
                              ({"data": {"ticket_id": "t", "status": "closed", "changed_at": [NUMBER]}}, "data.changed_at")],
}
QUERIES = [("/api/reports?from=x&to=2026-01-01", "from"), ("/api/reports?from=2026-01-01", "to"),
           ("/api/reports?from=2026-01-01&to=2026-01-02&denominator=bogus", "denominator"),
           ("/api/reports?from=2026-01-01&to=2026-01-02&caller=" + NUMBER, "caller"),
           ("/api/reports?from=2026-01-02&to=2026-01-01", "to"),
           ("/api/outbound/linkage?since=abc", "since"), ("/api/outbound/linkage?since=1&since=2", "since"),
           ("/api/recordings?limit=0", "limit"), ("/api/recordings?limit=abc", "limit"),
           ("/api/recordings?status=" + NUMBER, "status")]


@pytest.fixture
def log_text():
    """The layer's own log pipeline (cti.logs.setup at DEBUG) into a buffer; the root logger restored."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    buf = io.StringIO()
    logs.setup("DEBUG", stream=buf)
    yield buf
    root.handlers[:], _ = saved
    root.setLevel(saved[1])


@pytest.fixture
async def layer(tmp_path):
    s = settings_for(tmp_path, free_port())
    s = s.model_copy(update={"tickets": s.tickets.model_copy(update={"secrets": [SECRET]})})
    lay = Layer(s)                                   # every part; Asterisk unreachable
    await lay.start()
    yield lay
    await lay.stop()


def _signed(body: bytes, n: int) -> dict:
    return {**signing.sign_headers([SECRET], f"msg_{n}", int(time.time()), body), "Content-Type": "application/json"}


async def test_bad_input_to_every_json_route_is_a_400_naming_the_field_and_no_number_is_logged(layer, log_text):
    posts = {r.resource.canonical for r in layer.http_app.router.routes() if r.method == "POST"}
    assert posts - set(CASES) == set(), "a JSON route without bad-input cases here"
    seen = {}
    async with aiohttp.ClientSession(f"http://127.0.0.1:{layer.http_port}", headers=ADMIN) as http:
        for n, (template, cases) in enumerate(CASES.items()):
            path = template.replace("{call_id}", "1700000000.1").replace("{agent}", "6001").replace("{name}", "c1")
            for i, (body, field) in enumerate(cases):
                raw = json.dumps(body).encode()
                headers = _signed(raw, n * 100 + i) if template == "/api/tickets/callback" else {
                    "Content-Type": "application/json"}
                async with http.post(path, data=raw, headers=headers) as r:
                    answer = await r.json()
                    seen[(template, i)] = (r.status, answer.get("field"), field)
        for path, field in QUERIES:
            async with http.get(path) as r:
                seen[(path, 0)] = (r.status, (await r.json()).get("field"), field)
    wrong = {k: v for k, v in seen.items() if v[:2] != (400, v[2])}
    assert wrong == {}
    await layer.stop()
    text = log_text.getvalue()
    assert "HTTP POST /api/tickets: 400 caller_number" in text          # each refusal has its log line
    assert NUMBER not in text and "1" * 20 not in text
    assert "Traceback" not in text and " 500" not in text


async def test_a_forged_log_line_stays_inside_its_record(layer, log_text):
    forged = "2026-11-30 03:00:00,000 ERROR cti.web: forged"
    base = f"http://127.0.0.1:{layer.http_port}"
    paths = [("/api/x%0A" + forged.replace(" ", "%20"), {}),
             ("/recordings/x%0D%0A" + forged.replace(" ", "%20") + "/play?expires=1&sig=bad", {}),
             ("/api/recordings/1%00" + NUMBER + "?expires=1&sig=bad", {}),
             ("/api/agents/60%0001/pause", {}),
             ("/api/agents/60%0D%0A01/ws", ADMIN),
             ("/api/calls/x%E2%80%A8" + forged.replace(" ", "%20") + "/hangup", ADMIN)]
    async with aiohttp.ClientSession() as http:
        for path, headers in paths:
            method = "POST" if path.endswith(("/pause", "/hangup")) else "GET"
            async with http.request(method, yarl.URL(base + path, encoded=True), headers=headers) as r:
                assert 400 <= r.status < 500, (path, r.status)
    await layer.stop()                              # the refusal counts are written at stop
    text = log_text.getvalue()
    assert "\x00" not in text and "\r" not in text and "\u2028" not in text
    record = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR|CRITICAL) ")
    lines = text.splitlines()
    assert all(record.match(line) or line.startswith(" ") for line in lines), lines
    assert not any(line.startswith("2026-11-30 03:00:00,000") for line in lines)
    assert "\\n" + forged in text and "\\r\\n" + forged in text        # written, escaped, on its record's line
    assert NUMBER not in text


async def test_unauthenticated_refusals_are_counted_not_written_one_by_one(layer, log_text):
    async with aiohttp.ClientSession(f"http://127.0.0.1:{layer.http_port}") as http:
        for n in range(300):
            async with http.get(f"/api/calls/{n}", headers={"Authorization": "Bearer wrong"} if n % 2 else {}) as r:
                assert r.status == 401
    await layer.stop()
    lines = [line for line in log_text.getvalue().splitlines() if "refused" in line]
    counts = [int(m.group(1)) for line in lines if (m := re.search(r"refused (\d+) unauthenticated", line))]
    assert len(lines) <= 2 and sum(counts) == 300, lines


async def test_a_database_error_is_logged_without_its_parameters(tmp_path, log_text):
    """A failed statement (here a duplicate ticket id) carries its row; the log shows neither the row's
    number nor the parameters."""
    from sqlalchemy import insert
    from sqlalchemy.exc import IntegrityError

    from cti.tickets.db import make_engine, migrate
    from cti.tickets.models import Ticket
    from cti.tickets.outbox import utcnow

    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 't.db'}")
    await migrate(engine)
    row = dict(id="t1", call_ids=[], caller_number=NUMBER, hotline="12345", channel="phone",
               request_type="complaint", summary=f"回电 {NUMBER}", created_at=utcnow(), status_changed_at=utcnow())
    try:
        async with engine.begin() as conn:
            await conn.execute(insert(Ticket), [row])
        with pytest.raises(IntegrityError) as caught:
            async with engine.begin() as conn:
                await conn.execute(insert(Ticket), [row])
        logging.getLogger("cti.tickets").exception("tickets: storing failed: %s", caught.value)
        logging.getLogger("cti.tickets").error("raw parameters: %s",
                                               f"[parameters: ('t1', '{NUMBER}')]")   # whoever writes them
    finally:
        await engine.dispose()
    text = log_text.getvalue()
    assert "IntegrityError" in text and NUMBER not in text and "'t1'" not in text, text
