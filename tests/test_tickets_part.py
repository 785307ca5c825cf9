"""The tickets part inside the layer: desktop API, IVR survey tickets, public signed callback."""

import json
from datetime import UTC, datetime

import aiohttp
from standardwebhooks.webhooks import Webhook
from tickets_support import Receiver, make_secret, tickets_layer_settings, wait_for

from cti.app import Layer
from cti.messages import Rating
from cti.tickets.part import TicketsPart
from ivr_flows.record import IvrSession, PathStep

SECRET = make_secret(11)


def survey_session(caller: str, uniqueid: str, rating: Rating) -> IvrSession:
    """What the IVR engine publishes after a survey answered with ``rating`` (see test_bus_seams for the real one)."""
    return IvrSession(uniqueid=uniqueid, caller=caller, hotline="12345", script="survey", flow="survey",
                      version="v1", started=0.0, ended=4.0, path=(PathStep("survey", "rate", f"key {int(rating)}"),),
                      keys=str(int(rating)), tags=(), outcome="survey", rating=rating)


async def test_the_part_creates_delivers_and_takes_callbacks(tmp_path):
    receiver = await Receiver().start()
    layer = Layer(tickets_layer_settings(tmp_path, receiver, SECRET), parts=[TicketsPart])
    [part] = layer.parts
    await layer.start()
    base = f"http://127.0.0.1:{layer.http_port}"
    try:
        async with aiohttp.ClientSession(base) as http:
            # The agent desktop, over HTTP with the token...
            async with http.post("/api/tickets", json={"request_type": "consultation", "summary": "社保查询"},
                                 headers={"Authorization": f"Bearer {layer.http_token}"}) as r:
                assert r.status == 201
                first = await r.json()
            async with http.post("/api/tickets", json={"request_type": "consultation"}) as r:
                assert r.status == 401
            # ...or in process.
            second = await part.tickets.create(request_type="report", caller_number="13900000002", agent="a1")
            # A finished IVR session with a "dissatisfied" survey rating makes a ticket by itself.
            layer.bus.publish("ivr.session", survey_session("13700000003", "1700000000.7", Rating.DISSATISFIED))
            layer.bus.publish("ivr.session", survey_session("13700000004", "1700000000.8", Rating.SATISFIED))
            await wait_for(lambda: len(receiver.unique) == 3)
            bodies = [json.loads(b)["data"] for _, b in receiver.requests]
            survey = next(d for d in bodies if d["source"] == "survey")
            assert survey["rating"] == 3 and survey["call_ids"] == ["1700000000.7"]
            assert survey["caller_number"] == "13700000003" and survey["ivr_path"] == ["survey/rate: key 3"]
            assert {first["id"], second["id"]} < {d["id"] for d in bodies}
            # The backend's callback needs no token, only its signature.
            body = json.dumps({"type": "ticket.status", "timestamp": datetime.now(UTC).isoformat(),
                               "data": {"ticket_id": first["id"], "status": "acknowledged"}}).encode()
            now = datetime.now(UTC)
            headers = {"webhook-id": "cb_part", "webhook-timestamp": str(int(now.timestamp())),
                       "webhook-signature": Webhook(SECRET).sign("cb_part", now, body.decode())}
            async with http.post("/api/tickets/callback", data=body, headers=headers) as r:
                assert r.status == 200, await r.text()
            got = await part.tickets.get(first["id"])
            assert got["status"] == "acknowledged" and got["light"] == "green"
    finally:
        await layer.stop()
        await receiver.stop()
