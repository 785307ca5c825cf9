"""The tickets HTTP API on a real server: create and read (token), signed status callbacks."""

import json
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
from standardwebhooks.webhooks import Webhook
from tickets_support import database, make_secret

from cti import web
from cti.bus import EventBus
from cti.tickets import events
from cti.tickets.api import TicketsApi
from cti.tickets.db import make_engine
from cti.tickets.service import TicketService
from cti.tickets.settings import TicketsSettings

TOKEN = "t0ken"
SECRET = make_secret(8)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(params=["sqlite", "postgresql"])
async def api(request, tmp_path):
    async with database(request.param, tmp_path) as url:
        s = TicketsSettings(database_url=url, secrets=[SECRET], recording_base_url="https://rec.example/r")
        engine = make_engine(url)
        bus = EventBus()
        service = TicketService(engine, s, bus)
        runner, port = await web.serve(web.create_app(TOKEN, [TicketsApi(service, s.secrets, 300).setup]),
                                       "127.0.0.1", 0)
        async with aiohttp.ClientSession(f"http://127.0.0.1:{port}") as http:
            yield http, service, bus
        await runner.cleanup()
        await engine.dispose()


AUTH = {"Authorization": f"Bearer {TOKEN}"}


async def create(http, **fields):
    body = {"request_type": "complaint", "caller_number": "13800000001", "summary": "夜间施工噪音"} | fields
    async with http.post("/api/tickets", json=body, headers=AUTH) as r:
        return r.status, await r.json()


def signed(body: bytes, msg_id: str, when: datetime | None = None, secret: str = SECRET) -> dict[str, str]:
    when = when or datetime.now(UTC)
    return {"webhook-id": msg_id, "webhook-timestamp": str(int(when.timestamp())),
            "webhook-signature": Webhook(secret).sign(msg_id, when, body.decode()), "content-type": "application/json"}


async def callback(http, ticket_id, status, msg_id, changed_at=None, headers=None, **extra):
    data = {"ticket_id": ticket_id, "status": status} | extra
    if changed_at is not None:
        data["changed_at"] = changed_at
    body = json.dumps({"type": "ticket.status", "timestamp": datetime.now(UTC).isoformat(), "data": data}).encode()
    async with http.post("/api/tickets/callback", data=body, headers=headers or signed(body, msg_id)) as r:
        return r.status, await r.json()


async def test_create_and_read_a_ticket(api):
    http, _, bus = api
    created, _ = bus.queue(events.TOPIC_CREATED)
    status, t = await create(http, tags=["企业"], ivr_path=["main", "2"], recording_ref="2027/01/a.wav",
                             call_ids=["1700000000.1"], agent="agent-007", department="市住建局")
    assert status == 201
    assert t["status"] == "created" and t["tags"] == ["企业"] and t["hotline"] == "12345"
    assert t["recording"] == {"ref": "2027/01/a.wav", "url": "https://rec.example/r/2027/01/a.wav"}
    async with http.get(f"/api/tickets/{t['id']}", headers=AUTH) as r:
        assert r.status == 200
        got = await r.json()
    assert got["summary"] == "夜间施工噪音" and got["call_ids"] == ["1700000000.1"]
    assert created.qsize() == 1


async def test_create_needs_the_token_and_good_fields(api):
    http, _, _ = api
    async with http.post("/api/tickets", json={"request_type": "complaint"}) as r:
        assert r.status == 401
    assert (await create(http, request_type="praise"))[0] == 400
    status, body = await create(http, colour="red")
    assert status == 400 and "colour" in body["detail"]
    assert (await create(http, rating=7))[0] == 400
    assert (await create(http, tags="企业"))[0] == 400
    async with http.post("/api/tickets", data=b"{not json", headers=AUTH) as r:
        assert r.status == 400 and (await r.json())["field"] == "body"
    async with http.get("/api/tickets/nope", headers=AUTH) as r:
        assert r.status == 404


async def test_callback_applies_a_status_once_and_publishes_it(api):
    http, _, bus = api
    heard, _ = bus.queue(events.TOPIC_CALLBACK)
    _, t = await create(http)
    status, body = await callback(http, t["id"], "acknowledged", "cb_1")
    assert (status, body["outcome"]) == (200, "applied")
    status, body = await callback(http, t["id"], "acknowledged", "cb_1")   # the backend retried
    assert (status, body["outcome"]) == (200, "duplicate")
    async with http.get(f"/api/tickets/{t['id']}", headers=AUTH) as r:
        assert (await r.json())["status"] == "acknowledged"
    assert heard.qsize() == 1


async def test_a_status_older_than_the_stored_one_is_ignored(api):
    http, service, _ = api
    _, t = await create(http)
    now = datetime.now(UTC)
    assert (await callback(http, t["id"], "closed", "cb_2", (now + timedelta(hours=2)).isoformat()))[1]["outcome"] == "applied"
    late = await callback(http, t["id"], "acknowledged", "cb_3", (now + timedelta(hours=1)).isoformat())
    assert late == (200, {"webhook_id": "cb_3", "outcome": "older"})
    assert (await service.get(t["id"]))["status"] == "closed"


async def test_an_extension_moves_the_answer_deadline(api):
    http, service, _ = api
    _, t = await create(http)
    new = "2030-01-10T09:30:00Z"
    assert (await callback(http, t["id"], "extended", "cb_4", answer_by=new))[0] == 200
    got = await service.get(t["id"])
    assert got["status"] == "extended" and got["deadlines"]["answer_by"] == new


async def test_callback_refuses_a_bad_signature_an_old_timestamp_and_an_unsigned_request(api):
    http, service, _ = api
    _, t = await create(http)
    body = json.dumps({"type": "ticket.status", "data": {"ticket_id": t["id"], "status": "closed"}}).encode()
    cases = [
        signed(body, "cb_5", secret=make_secret(99)),                              # wrong secret
        signed(body, "cb_6", when=datetime.now(UTC) - timedelta(minutes=10)),      # outside the window
        {"content-type": "application/json"},                                      # not signed
        signed(body, "cb_7") | {"webhook-id": "cb_other"},                         # id swapped
    ]
    for headers in cases:
        async with http.post("/api/tickets/callback", data=body, headers=headers) as r:
            assert r.status == 401
            assert (await r.json())["error"] == "bad signature"
    assert (await service.get(t["id"]))["status"] == "created"


async def test_callback_bad_input_gets_a_clear_4xx_and_changes_nothing(api):
    http, service, _ = api
    _, t = await create(http)
    bad = b'{"type": "ticket.status", "data": '
    async with http.post("/api/tickets/callback", data=bad, headers=signed(bad, "cb_8")) as r:
        assert r.status == 400 and (await r.json())["field"] == "body"
    assert await callback(http, "no-such-ticket", "closed", "cb_9") == (
        404, {"error": "unknown ticket", "detail": "no-such-ticket"})
    status, body = await callback(http, t["id"], "teleported", "cb_10")
    assert status == 422 and "teleported" in body["detail"]
    status, body = await callback(http, t["id"], "closed", "cb_11", changed_at="yesterday")
    assert status == 400
    assert (await service.get(t["id"]))["status"] == "created"
    # Refused ids were not recorded: the same id with a good body is applied.
    assert (await callback(http, t["id"], "acknowledged", "cb_9"))[1]["outcome"] == "applied"


async def test_light_changes_are_pushed_on_the_bus(tmp_path):
    async with database("sqlite", tmp_path) as url:
        from zoneinfo import ZoneInfo

        from cti.calendar import WorkCalendar
        from cti.tickets import deadlines

        s = TicketsSettings(database_url=url)
        cal, tz = WorkCalendar.from_file(None), ZoneInfo("Asia/Shanghai")
        clock = Clock(datetime(2025, 3, 17, 8, 30, tzinfo=tz).astimezone(UTC))  # a Monday morning
        bus = EventBus()
        lights, _ = bus.queue(events.TOPIC_LIGHT)
        engine = make_engine(url)
        service = TicketService(engine, s, bus, deadlines=deadlines.for_settings(s, cal, tz),
                                light=deadlines.light_for_settings(s, cal, tz), clock=clock)
        t = await service.create(request_type="consultation")
        assert t["light"] == "green"
        assert await service.refresh_lights() == 0
        clock.now += timedelta(minutes=40)                     # 40 of the 60 acknowledge minutes
        assert await service.refresh_lights() == 1
        assert lights.get_nowait()[1].light == "yellow"
        clock.now += timedelta(minutes=30)
        await service.refresh_lights()
        assert lights.get_nowait()[1].light == "red"           # not acknowledged in time
        await service.apply_status("cb_x", t["id"], "acknowledged", clock.now)
        await service.refresh_lights()
        assert lights.get_nowait()[1].light == "green"         # the answer deadline is days away
        await service.apply_status("cb_y", t["id"], "closed", clock.now + timedelta(seconds=1))
        await service.refresh_lights()
        event = lights.get_nowait()[1]
        assert (event.light, event.status) == (None, "closed")
        assert (await service.get(t["id"]))["light"] is None
        await engine.dispose()




async def test_a_followup_answer_is_stored_on_its_ticket_with_its_message_in_one_transaction(api):
    from cti.tickets.outbox import Outbox
    from cti.tickets.service import TicketError, UnknownTicket

    http, service, _ = api
    _, t = await create(http)
    data = await service.record_followup(t["id"], 2, False, call_id="1700000000.9", outcome="surveyed")
    assert (data["ticket_id"], data["rating"], data["settled"], data["call_id"]) == (t["id"], 2, False, "1700000000.9")
    async with http.get(f"/api/tickets/{t['id']}", headers=AUTH) as r:
        got = await r.json()
    assert got["rating"] == 2
    assert [(f["rating"], f["settled"], f["outcome"]) for f in got["followups"]] == [(2, False, "surveyed")]
    rows = await Outbox(service.engine).list()
    (msg,) = [m for m in rows if m.event_type == "ticket.followup"]
    body = json.loads(msg.body)
    assert msg.ticket_id == t["id"] and body["type"] == "ticket.followup" and body["data"] == data
    # bad input changes nothing: no answer row, no message
    with pytest.raises(UnknownTicket):
        await service.record_followup("no-such-ticket", 1, True)
    with pytest.raises(TicketError):
        await service.record_followup(t["id"], 7, True)
    assert len(await Outbox(service.engine).list()) == len(rows)
