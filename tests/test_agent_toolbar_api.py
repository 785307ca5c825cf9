"""The agent toolbar's reads over HTTP (issue 19), against the simulator: the desk, the caller's last
five tickets, the directory picker, input validation, and CORS for the configured ticket-system origin."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import aiohttp
from calls_support import centre, settings_for
from tickets_support import free_port

from cti.app import Layer
from cti.auth import hash_pin
from cti.calls.part import CallsPart
from cti.tickets.part import TicketsPart
from cti.toolbar.part import ToolbarPart

TZ = ZoneInfo("Asia/Shanghai")
ORIGIN = "http://gd.example.gov.cn:8080"


async def test_the_desk_shows_the_agents_state_call_and_its_callers_last_five_tickets(tmp_path):
    async with centre(tmp_path, parts=[TicketsPart, ToolbarPart]) as c, \
            aiohttp.ClientSession(f"http://127.0.0.1:{c.layer.http_port}") as http:
        s = c.layer.settings
        c.layer.reload_credentials(s.model_copy(update={"http": s.http.model_copy(update={
            "agent_pins": {a: [hash_pin(f"{a}9")] for a in ("6001", "6002")}})}))
        c.control.clock = lambda: dt.datetime(2026, 3, 4, 10, 0, tzinfo=TZ)       # a working Wednesday
        tickets = c.layer.parts[0].tickets
        for n in range(7):                                    # seven earlier tickets of the caller...
            await tickets.create(request_type="complaint" if n % 2 else "consultation",
                                 caller_number="13700000077", summary=f"第{n}件")
        await tickets.create(request_type="help", caller_number="13700000099")   # ...and someone else's
        call_id = await c.citizen("13700000077")
        owner = c.control.tracker.get(call_id).agent
        other = "6002" if owner == "6001" else "6001"
        auth = {}
        for agent in (owner, other):
            async with http.post(f"/api/agents/{agent}/session", json={"pin": f"{agent}9"}) as r:
                auth[agent] = {"Authorization": f"Bearer {(await r.json())['token']}"}

        async with http.get(f"/api/agents/{owner}/desk", headers=auth[owner]) as r:
            desk = await r.json()
        assert desk["call"]["call_id"] == call_id and desk["call"]["caller"] == "13700000077"
        assert desk["state"]["signed_in"] and "public" in desk["state"]["queues"]
        assert desk["pause_reasons"] == s.calls.pause_reasons
        assert {"value": "consultation", "label": "咨询"} in desk["request_types"]
        async with http.get(f"/api/agents/{owner}/caller-tickets", headers=auth[owner]) as r:
            history = await r.json()
        assert history["call_id"] == call_id
        assert [t["summary"] for t in history["tickets"]] == ["第6件", "第5件", "第4件", "第3件", "第2件"]
        assert {t["status"] for t in history["tickets"]} == {"created"}
        # the other agent has no call: it sees no caller, and may not read the owner's desk
        async with http.get(f"/api/agents/{other}/caller-tickets", headers=auth[other]) as r:
            assert await r.json() == {"call_id": None, "tickets": []}
        async with http.get(f"/api/agents/{owner}/caller-tickets", headers=auth[other]) as r:
            assert r.status == 403
        # bad input: 400 naming the field
        async with http.get(f"/api/agents/{owner}/desk?number=13700000099", headers=auth[owner]) as r:
            assert r.status == 400 and (await r.json())["field"] == "number"
        async with http.get("/api/directory?kind=x&kind=y", headers=auth[owner]) as r:
            assert r.status == 400 and (await r.json())["field"] == "kind"

        async with http.get("/api/directory", headers=auth[owner]) as r:
            directory = await r.json()
        groups = {g["kind"]: g for g in directory["groups"]}
        assert [g["kind"] for g in directory["groups"]] == ["parallel-merged", "emergency", "direct-merged"]
        assert {h["number"] for h in groups["emergency"]["hotlines"]} == {"110", "119", "120", "96333"}
        x12315 = next(h for h in groups["parallel-merged"]["hotlines"] if h["number"] == "12315")
        assert x12315["open_now"] and x12315["transferable"] and x12315["answer_timeout"] > 0
        assert not any(h["transferable"] for h in groups["direct-merged"]["hotlines"])
        c.control.clock = lambda: dt.datetime(2026, 3, 4, 22, 0, tzinfo=TZ)      # after hours
        async with http.get("/api/directory", headers=auth[owner]) as r:
            late = {g["kind"]: g for g in (await r.json())["groups"]}
        x12315 = next(h for h in late["parallel-merged"]["hotlines"] if h["number"] == "12315")
        assert not x12315["open_now"] and x12315["transferable"]              # a ticket, not a transfer
        assert all(h["open_now"] for h in late["emergency"]["hotlines"])


async def test_a_configured_ticket_system_origin_may_embed_the_toolbar_and_no_other(tmp_path):
    s = settings_for(tmp_path, free_port())
    s = s.model_copy(update={"calls": s.calls.model_copy(update={"toolbar_origins": [ORIGIN]})})
    layer = Layer(s, parts=[CallsPart, ToolbarPart])
    await layer.start()
    try:
        async with aiohttp.ClientSession(f"http://127.0.0.1:{layer.http_port}") as http:
            preflight = {"Origin": ORIGIN, "Access-Control-Request-Method": "GET",
                         "Access-Control-Request-Headers": "authorization"}
            async with http.options("/api/agents/6001/desk", headers=preflight) as r:
                assert r.status == 204 and r.headers["Access-Control-Allow-Origin"] == ORIGIN
                assert "Authorization" in r.headers["Access-Control-Allow-Headers"]
            async with http.get("/agent/toolbar.js", headers={"Origin": ORIGIN}) as r:
                assert r.status == 200 and r.headers["Access-Control-Allow-Origin"] == ORIGIN
                assert r.content_type == "text/javascript" and "customElements.define" in await r.text()
            async with http.get("/api/directory", headers={"Origin": ORIGIN}) as r:   # no credential
                assert r.status == 401 and r.headers["Access-Control-Allow-Origin"] == ORIGIN
            for origin, path in (("http://evil.example", "/agent/toolbar.js"), (ORIGIN, "/wallboard")):
                async with http.get(path, headers={"Origin": origin}) as r:
                    assert "Access-Control-Allow-Origin" not in r.headers, (origin, path)
            async with http.options("/api/agents/6001/desk", headers={**preflight, "Origin": "http://evil.example"}) as r:
                assert "Access-Control-Allow-Origin" not in r.headers
    finally:
        await layer.stop()
