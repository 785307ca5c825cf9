"""A layer that starts while citizens are already talking to agents adopts those calls (a restart, an
upgrade, a host coming back; issues 21 and 22), against the simulator.

Given a citizen (key 2: 一企来) connected to an agent, when the layer stops and a new layer starts against
the same switch, then the new layer knows the call with its agent, queue, caller, hotline and tags; the
agent's three-way call and hang-up work on it; and its end stores a pending disposition (未小结).
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import aiohttp
from calls_support import centre, until
from test_dispositions import sessions_for

from cti.app import Layer
from cti.calls.part import CallsPart
from cti.calls.tracker import CallTracker
from cti.dispositions.part import DispositionsPart
from ivr_flows.part import FlowsPart

ADMIN = {"Authorization": "Bearer desk-token"}
WORKING = dt.datetime(2026, 3, 4, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))   # a Wednesday, office hours
SHOWN = ("caller", "caller_name", "queue", "hotline", "tags", "agent", "agent_channel", "citizen_channel")


def with_database(tmp_path):
    def change(s):
        return s.model_copy(update={"tickets": s.tickets.model_copy(update={
            "database_url": f"sqlite+aiosqlite:///{tmp_path / 'cti.db'}"})})
    return change


async def get(http, path: str, headers=ADMIN) -> tuple[int, dict]:
    async with http.get(path, headers=headers) as r:
        return r.status, await r.json()


async def test_a_new_layer_adopts_a_connected_call_and_its_agent_can_act_on_it_and_dispose_of_it(tmp_path):
    # speed 4: the citizen's script stays 30 s on the line after pressing 2, longer than the restart
    async with centre(tmp_path, parts=[FlowsPart, DispositionsPart], speed=4, configure=with_database(tmp_path)) as c:
        c.department("12315", answer_delay=1, talk_time=3600)
        call_id = await c.citizen("13800000031", exten="12345", script="press2")
        async with aiohttp.ClientSession(f"http://127.0.0.1:{c.layer.http_port}") as http:
            status, before = await get(http, f"/api/calls/{call_id}")
        assert status == 200 and before["agent_channel"], before
        await c.layer.stop()

        layer = Layer(c.layer.settings, parts=[FlowsPart, DispositionsPart, CallsPart])
        c.layer, c.part = layer, layer.parts[-1]     # the centre's exit stops this one
        await layer.start()
        c.control.clock = lambda: WORKING
        await layer.ami.wait_connected(5)
        async with aiohttp.ClientSession(f"http://127.0.0.1:{layer.http_port}") as http:
            async def adopted() -> dict | None:
                status, body = await get(http, f"/api/calls/{call_id}")
                return body if status == 200 and body.get("tags") == before["tags"] else None   # once read back
            try:
                await until(adopted, 10)
            finally:
                status, after = await get(http, f"/api/calls/{call_id}")
            assert {k: after.get(k) for k in SHOWN} == {k: before[k] for k in SHOWN}, (before, status, after)
            assert "企业" in after["tags"] and after["queue"], after    # the tags read back from the channel

            desks = await sessions_for(c, http, agents=(after["agent"],))
            desk = desks[after["agent"]]
            async with http.post(f"/api/calls/{call_id}/threeway", json={"number": "12315"}, headers=desk) as r:
                assert r.status == 200, await r.text()
            await c.state(call_id, "threeway")
            async with http.post(f"/api/calls/{call_id}/hangup", headers=desk) as r:
                assert r.status in (200, 202, 204), await r.text()

            path = f"/api/calls/{call_id}/disposition"
            async def pending() -> bool:
                status, body = await get(http, path, desk)
                return status == 200 and body.get("ended_at") is not None and body.get("status") == "pending"
            await until(pending, 10)
            status, body = await get(http, path, desk)
            assert (body["agent"], body["queue"], body["hotline"]) == (after["agent"], after["queue"], after["hotline"]), body


# CoreShowChannel frames of one answered call on the real switch (Asterisk 22.10.1, shipped snippets, key 1,
# agent 6001 as Local/6001@agents/n), the fields the adoption reads
CITIZEN = {"Channel": "Local/12345@cti-inbound-00000000;2", "Context": "cti-ivr", "Application": "Queue",
           "ApplicationData": "public,tTc,,,600", "BridgeId": "6a42144d", "Duration": "00:00:06",
           "CallerIDNum": "13807210001", "CallerIDName": "张三", "Uniqueid": "1796038179.1", "Linkedid": "1796038179.0"}
AGENT = {"Channel": "Local/6001@agents-00000001;1", "Context": "agents", "Application": "AppQueue",
         "ApplicationData": "(Outgoing Line)", "BridgeId": "6a42144d", "Duration": "00:01:05",
         "Uniqueid": "1796038185.2", "Linkedid": "1796038179.0"}
AGENT_HALF = {"Channel": "Local/6001@agents-00000001;2", "Application": "Answer", "BridgeId": "",
              "Duration": "00:01:05", "Uniqueid": "1796038185.3", "Linkedid": "1796038179.0"}


def test_the_snapshot_of_a_connected_call_is_adopted_with_the_agent_an_agentconnect_would_name():
    tracker = CallTracker()
    notices = tracker.reconcile([CITIZEN, AGENT, AGENT_HALF], 1000.0)
    assert [(n.kind, n.call.id) for n in notices] == [("adopted", "1796038179.1")]
    call = notices[0].call
    assert (call.agent, call.agent_channel, call.queue, call.caller, call.caller_name, call.connected_at) == \
        ("6001", "Local/6001@agents-00000001;1", "public", "13807210001", "张三", 935.0)
    # a phone as member: PJSIP/6001 rings as PJSIP/6001-0000000a, AgentConnect's Interface says PJSIP/6001
    phone = CallTracker().reconcile([CITIZEN, {**AGENT, "Channel": "PJSIP/6001-0000000a"}], 1000.0)
    assert [n.call.agent for n in phone] == ["6001"]
    # left with a department (the agent dropped off a three-way), or alone (a three-way ringing): not adopted
    department = {**AGENT, "Channel": "Local/12315@departments-0000000d;1", "Application": "AppDial"}
    assert CallTracker().reconcile([CITIZEN, department], 1000.0) == []
    assert CallTracker().reconcile([CITIZEN, {**AGENT, "BridgeId": "other"}], 1000.0) == []
