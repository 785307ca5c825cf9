"""The recording travels with the ticket: tickets and recordings parts in one layer against the simulator's
MixMonitor capture, a real aiohttp receiver standing in for the ticket backend.

A ticket made while the citizen talks to an agent carries the recording's signed link in its
ticket.created webhook; when the conversion finishes after the call, a signed recording.ready webhook
follows with duration and SHA-256; the link downloads that very file."""

from __future__ import annotations

import hashlib
import json

import aiohttp
from standardwebhooks.webhooks import Webhook
from tickets_support import Receiver, make_secret, wait_for

from cti.ami import TOPIC_EVENT
from cti.app import Layer
from cti.settings import Settings
from cti.simulator import AgentTiming, SimConfig, Simulator
from cti.tickets.part import TicketsPart
from recordings.part import RecordingsPart
from recordings.pipeline import TOPIC_READY
from recordings.settings import RecordingsSettings

SECRET = make_secret(21)


def settings(tmp_path, ami_port: int, receiver: Receiver) -> Settings:
    s = Settings(data_dir=tmp_path)
    return s.model_copy(update={
        "ami": s.ami.model_copy(update={"port": ami_port, "reconnect_min": 0.05, "reconnect_max": 0.2}),
        "agi": s.agi.model_copy(update={"port": 0}),
        "http": s.http.model_copy(update={"port": 0}),
        "tickets": s.tickets.model_copy(update={
            "database_url": f"sqlite+aiosqlite:///{tmp_path / 'cti.db'}", "endpoint_url": receiver.url,
            "secrets": [SECRET], "poll_interval": 0.05}),
    })


async def test_ticket_webhook_carries_the_link_and_recording_ready_follows(tmp_path):
    rs = RecordingsSettings(capture_dir=tmp_path / "spool", store_dir=tmp_path / "store",
                            catalogue=tmp_path / "store" / "catalogue.db", settle_seconds=0)
    receiver = await Receiver().start()
    sim = Simulator(SimConfig(ami_port=0, agi_port=1, speed=20, seed=3, recording_dir=str(rs.capture_dir),
                              default_agent=AgentTiming(ring_delay=1.0, talk_time=60.0)))
    await sim.start()
    layer = Layer(settings(tmp_path, sim.ami_port, receiver),
                  parts=[TicketsPart, lambda lay: RecordingsPart(lay, settings=rs)])
    tickets, recordings = layer.parts
    events, ready = [], []
    layer.bus.subscribe(TOPIC_EVENT, lambda _t, m: events.append(m))
    layer.bus.subscribe(TOPIC_READY, lambda _t, m: ready.append(m))
    await layer.start()
    sim.config.agi_port = layer.agi.port
    base = f"http://127.0.0.1:{layer.http_port}"
    auth = {"Authorization": f"Bearer {layer.http_token}"}
    try:
        await layer.ami.wait_connected(5)
        await layer.ami.action({"Action": "Originate", "Async": "true", "Channel": "Local/12345@from-pstn",
                                "Context": "caller", "Exten": "press1", "Priority": 1,
                                "CallerID": '"市民" <13800000031>', "Timeout": 30000})
        await wait_for(lambda: any(m.name == "AgentConnect" for m in events))
        connect = next(m for m in events if m.name == "AgentConnect")
        uniqueid = connect["Uniqueid"]
        async with aiohttp.ClientSession(base) as http:
            # the agent makes a ticket while talking (the desktop names the call by its linkedid)
            async with http.post("/api/tickets", headers=auth, json={
                    "request_type": "consultation", "summary": "社保转移咨询", "caller_number": "13800000031",
                    "call_ids": [connect["Linkedid"]]}) as r:
                assert r.status == 201
                ticket = await r.json()
            # a ticket of a call nobody recorded has no recording
            async with http.post("/api/tickets", headers=auth, json={
                    "request_type": "consultation", "call_ids": ["1600000000.99"]}) as r:
                unrecorded = await r.json()
            assert unrecorded["recording"] is None
            await wait_for(lambda: len(receiver.unique) == 2)
            assert not ready, "the call is still going: nothing converted yet"
            created = [json.loads(b) for _, b in receiver.requests]
            sent = next(b["data"] for b in created if b["data"]["id"] == ticket["id"])
            link = sent["recording"]["url"]
            assert link.startswith(f"{base}/api/recordings/{uniqueid}?") and "sig=" in link
            async with http.get(link) as r:
                assert r.status == 503                   # not converted yet: the link says so
            # the call ends, the capture is converted: a recording.ready webhook follows, signed
            await wait_for(lambda: ready, 30)
            await wait_for(lambda: len(receiver.unique) == 3, 10)
            headers, body = receiver.requests[-1]
            msg = Webhook(SECRET).verify(body, headers)
            assert msg["type"] == "recording.ready" and msg["version"] == "1"
            data = msg["data"]
            assert (data["ticket_id"], data["call_id"]) == (ticket["id"], uniqueid)
            rec = ready[0]
            talked = next(m.timestamp for m in events if m.name == "Hangup" and m["Uniqueid"] == uniqueid) \
                - connect.timestamp
            assert abs(data["recording"]["duration"] - talked) <= 0.05
            assert (data["recording"]["sha256"], data["recording"]["size"]) == (rec.sha256, rec.size)
            # the link of the first webhook downloads that very file, without the API token
            async with http.get(link) as r:
                assert r.status == 200
                assert hashlib.sha256(await r.read()).hexdigest() == data["recording"]["sha256"]
            # the schema served to the backend documents the new message
            async with http.get("/api/tickets/schema", headers=auth) as r:
                schema = await r.json()
            assert "recording.ready" in schema["properties"]["type"]["enum"]
            assert schema["$defs"]["recording_ready"]["properties"]["recording"]["required"] == [
                "url", "duration", "sha256", "size", "format"]
            async with http.get(f"/api/tickets/{ticket['id']}", headers=auth) as r:
                assert (await r.json())["recording"]["url"] == link
            # a ticket made after the conversion gets the link too (from the catalogue)
            async with http.post("/api/tickets", headers=auth, json={
                    "request_type": "complaint", "call_ids": [uniqueid]}) as r:
                later = await r.json()
            assert later["recording"]["url"].startswith(f"{base}/api/recordings/{uniqueid}?")
        assert {json.loads(b)["type"] for _, b in receiver.requests} == {"ticket.created", "recording.ready"}
    finally:
        await layer.stop()
        await sim.stop()
        await receiver.stop()
