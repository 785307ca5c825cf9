"""A closed ticket leads to a follow-up call, end to end: the backend's signed ``closed`` callback reaches
the real tickets part, the outbound part calls the citizen in the allowed hours only, the citizen presses
the rating, and the answer is stored on the original ticket and reaches the backend (a real aiohttp
receiver) as a signed ``ticket.followup`` webhook for that ticket.

A follow-up with no ticket of ours (an uploaded list) sends the answer as a survey-source ticket that
names the followed-up number (tag ``回访工单:<id>``)."""

from __future__ import annotations

import datetime as dt
import json
from datetime import UTC, datetime

import aiohttp
from outbound_support import followup_centre, outbound_settings
from standardwebhooks.webhooks import Webhook
from tickets_support import Receiver, make_secret, wait_for

from cti.simulator.outbound import CitizenPhone

SECRET = make_secret(41)
CITIZEN = "13900000011"


def signed(body: bytes, msg_id: str) -> dict[str, str]:
    when = datetime.now(UTC)
    return {"webhook-id": msg_id, "webhook-timestamp": str(int(when.timestamp())),
            "webhook-signature": Webhook(SECRET).sign(msg_id, when, body.decode()),
            "content-type": "application/json"}


async def close_ticket(http, ticket_id: str, msg_id: str) -> None:
    body = json.dumps({"type": "ticket.status", "timestamp": datetime.now(UTC).isoformat(),
                       "data": {"ticket_id": ticket_id, "status": "closed"}}).encode()
    async with http.post("/api/tickets/callback", data=body, headers=signed(body, msg_id)) as r:
        assert r.status == 200, await r.text()


def delivered(receiver: Receiver) -> list[dict]:
    """Every webhook the backend accepted, checked against the shared secret."""
    out = []
    for headers, body in receiver.requests:
        out.append(Webhook(SECRET).verify(body, {k.lower(): v for k, v in headers.items()}))
    return out


async def make_ticket(http, auth) -> str:
    async with http.post("/api/tickets", headers=auth, json={
            "request_type": "consultation", "caller_number": CITIZEN, "summary": "小区路灯不亮"}) as r:
        assert r.status == 201
        return (await r.json())["id"]


async def test_given_ticket_closed_at_night_when_morning_comes_then_citizen_called_and_rating_reaches_backend(
        tmp_path):
    receiver = await Receiver().start()
    s = outbound_settings(tmp_path)          # follow-up hours 09:00-20:00
    try:
        async with followup_centre(tmp_path, s, receiver, SECRET) as c:
            part = c.outbound
            part.clock = lambda: dt.datetime(2025, 3, 5, 22, 30, tzinfo=part.tz)
            c.ext.citizens[CITIZEN] = CitizenPhone(answer_delay=3, keys=["1", "1"])
            auth = {"Authorization": f"Bearer {c.layer.http_token}"}
            async with aiohttp.ClientSession(f"http://127.0.0.1:{c.layer.http_port}") as http:
                ticket_id = await make_ticket(http, auth)
                await close_ticket(http, ticket_id, "msg_close_1")

            # the close is followed up, but not at 22:30
            await wait_for(lambda: part.store.followups())
            await part.round()
            (f,) = await part.store.followups()
            assert (f.campaign, f.ticket_id, f.number, f.state) == ("closed-tickets", ticket_id, CITIZEN, "pending")
            assert c.ext.dialled == [] and part.hold_reason == "outside follow-up hours"

            part.clock = lambda: dt.datetime(2025, 3, 6, 9, 5, tzinfo=part.tz)
            await wait_for(lambda: len(receiver.unique) == 2)
            created, answer = delivered(receiver)
            assert created["data"]["id"] == ticket_id
            assert answer["type"] == "ticket.followup"
            a = answer["data"]
            assert (a["ticket_id"], a["rating"], a["settled"], a["outcome"]) == (ticket_id, 1, True, "surveyed")
            assert a["call_id"]
            f = await part.store.get(f.id)
            assert (f.state, f.rating, f.settled, f.attempts, f.result_ticket) == ("done", 1, True, 1, ticket_id)
            # no second ticket was made, and the original ticket shows the answer
            async with aiohttp.ClientSession(f"http://127.0.0.1:{c.layer.http_port}") as http:
                async with http.get(f"/api/tickets/{ticket_id}", headers=auth) as r:
                    assert r.status == 200
                    shown = await r.json()
                async with http.get("/api/tickets/schema", headers=auth) as r:
                    schema = await r.json()
            assert shown["rating"] == 1
            assert [(x["rating"], x["settled"], x["call_id"]) for x in shown["followups"]] == [(1, True, a["call_id"])]
            assert "ticket.followup" in schema["properties"]["type"]["enum"]
            assert "followup" in schema["$defs"]
            assert [n for _, n in c.ext.dialled] == [CITIZEN]
            # the citizen's phone showed 12345
            assert any(m.get("Channel", "").startswith(f"Local/{CITIZEN}@citizens") and m.get("CallerIDNum") == "12345"
                       for m in c.events)
    finally:
        await receiver.stop()


async def test_given_dissatisfied_when_agent_free_then_call_joins_queue_and_backend_told(tmp_path):
    receiver = await Receiver().start()
    s = outbound_settings(tmp_path, followup_hours=["00:00-23:59"])
    try:
        async with followup_centre(tmp_path, s, receiver, SECRET) as c:
            c.ext.citizens[CITIZEN] = CitizenPhone(answer_delay=2, keys=["3", "2"])
            fid = await c.outbound.schedule("list-2025", CITIZEN, "T-9")
            await wait_for(lambda: any(m.name == "AgentConnect" for m in c.events))
            connect = next(m for m in c.events if m.name == "AgentConnect")
            assert connect["Queue"] == "public" and connect["Channel"].startswith(f"Local/{CITIZEN}@citizens")
            assert connect["Channel"].endswith(";1")          # the answered outbound channel itself
            await wait_for(lambda: len(receiver.unique) == 1)
            (answer,) = delivered(receiver)
            a = answer["data"]
            assert (a["rating"], a["request_type"], a["urgency"]) == (3, "complaint", "normal")
            assert "不满意转人工回访" in a["tags"] and "回访工单:T-9" in a["tags"]
            f = await c.outbound.store.get(fid)
            assert (f.state, f.rating, f.settled, f.last_outcome) == ("done", 3, False, "to_agent")
    finally:
        await receiver.stop()


async def test_given_dissatisfied_when_no_agent_free_then_followup_ticket_and_no_queue(tmp_path):
    receiver = await Receiver().start()
    s = outbound_settings(tmp_path, followup_hours=["00:00-23:59"])
    try:
        async with followup_centre(tmp_path, s, receiver, SECRET) as c:
            for agent in ("6001", "6002"):
                reply = await c.layer.ami.action({"Action": "QueuePause", "Interface": f"Local/{agent}@agents/n",
                                          "Paused": "true", "Reason": "培训"})
                assert reply.success
            c.ext.citizens[CITIZEN] = CitizenPhone(answer_delay=2, keys=["3", "2"])
            fid = await c.outbound.schedule("list-2025", CITIZEN, "T-10")
            await wait_for(lambda: len(receiver.unique) == 1)
            (answer,) = delivered(receiver)
            a = answer["data"]
            assert (a["rating"], a["request_type"], a["urgency"]) == (3, "complaint", "urgent")
            assert "不满意待人工回访" in a["tags"] and "回访工单:T-10" in a["tags"]
            f = await c.outbound.store.get(fid)
            await wait_for(lambda: not c.outbound.calling)        # the call ended
            assert (f.state, f.last_outcome) == ("done", "followup_ticket")
            assert not any(m.name == "QueueCallerJoin" for m in c.events)
    finally:
        await receiver.stop()
