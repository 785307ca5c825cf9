"""110 linkage (应急联动) on a real Asterisk 22: calls 110 hands over to 12345 (DID 12345110, queue
linkage110, tag 110分流) and an agent's hand-over of a 12345 call to 110, as the agent's screen pop, the
figures and the linkage counts show them."""

from __future__ import annotations

import asyncio
import contextlib

import aiohttp

from real_asterisk.conftest import TOKEN
from real_asterisk.desk import api, login
from real_asterisk.switch import poll, until

LINKAGE_DID, LINKAGE_QUEUE, LINKAGE_TAG = "12345110", "linkage110", "110分流"   # extensions_cti.conf, cti.yaml


@contextlib.asynccontextmanager
async def desktop(layer, agent: str):
    """Agent ``agent``'s desktop WebSocket (/api/agents/{agent}/ws): yields the list its messages land in."""
    received: list[dict] = []
    url = f"http://127.0.0.1:{layer.http_port}/api/agents/{agent}/ws"
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {TOKEN}"}) as http:
        async with http.ws_connect(url) as ws:
            async def read() -> None:
                async for msg in ws:
                    if msg.type == aiohttp.WSMsgType.TEXT:
                        received.append(msg.json())

            reader = asyncio.ensure_future(read())
            await until(lambda: any(m.get("type") == "hello" for m in received), 10, "the desktop's hello",
                        lambda: received)
            try:
                yield received
            finally:
                reader.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reader


async def answered(layer, caller: str) -> dict:
    """The caller's call once an agent is on it (GET /api/calls/{id})."""
    def mine(resp):
        return next((c for c in resp[1] if c.get("caller") == caller and c.get("agent_channel")), None)

    resp = await poll(lambda: api(layer, "GET", "/api/calls"), mine, 60, f"{caller}'s call answered in /api/calls")
    status, call = await api(layer, "GET", f"/api/calls/{mine(resp)['id']}")
    assert status == 200, call
    return call


def hotline_total(wall: dict, hotline: str) -> dict:
    return wall["hotlines"].get(hotline, {}).get("windows", {}).get("total", {})


async def test_given_a_110_hand_over_call_when_an_agent_answers_then_the_pop_and_the_figures_say_hotline_110_tag_110分流(
        switch, layer):
    switch.agent("6001", ring=0.5)
    await login(layer, "6001", LINKAGE_QUEUE)
    async with desktop(layer, "6001") as received:
        caller = await switch.call(dialled=LINKAGE_DID, name="110指挥中心")
        call = await answered(layer, caller)
        assert call["queue"] == LINKAGE_QUEUE, call
        assert (call["hotline"], LINKAGE_TAG in call["tags"]) == ("110", True), call

        def pop():
            return next((m for m in received if m.get("type") == "screen_pop" and m.get("call_id") == call["id"]), None)

        await until(lambda: pop() is not None, 10, "the screen pop on the agent's desktop", lambda: received)
        assert (pop()["hotline"], pop()["queue"]) == ("110", LINKAGE_QUEUE), pop()
        assert LINKAGE_TAG in pop()["tags"], pop()
    # the hand-over skipped the menu: the pop's hotline and tag came from the dialplan, not an IVR session
    assert not switch.events("AGIExecStart", Uniqueid=call["id"])
    status, wall = await poll(lambda: api(layer, "GET", "/api/figures"),
                              lambda r: hotline_total(r[1], "110").get("answered") == 1, 30,
                              "the hand-over answered under hotline 110 on /api/figures")
    assert hotline_total(wall, "12345").get("offered", 0) == 0, wall["hotlines"]
    assert wall["queues"][LINKAGE_QUEUE]["windows"]["total"]["answered"] == 1, wall["queues"]
    status, counts = await poll(lambda: api(layer, "GET", "/api/outbound/linkage"),
                                lambda r: r[1].get("from_110") == 1, 10, "the hand-over counted as 110转12345")
    assert counts["to_110"] == 0, counts


async def test_given_a_12345_call_when_the_agent_hands_it_over_to_110_then_it_counts_as_12345转110(switch, layer):
    switch.agent("6001", ring=0.5)
    switch.department("110", ring=1)
    await login(layer, "6001", "public")
    caller = await switch.call(keys="1")
    call = await answered(layer, caller)
    assert call["hotline"] == "12345", call
    status, body = await api(layer, "POST", f"/api/calls/{call['id']}/threeway", {"number": "110"})
    assert status == 200 and body["emergency"] is True, body
    resp = await poll(lambda: api(layer, "GET", f"/api/calls/{call['id']}"),
                      lambda r: (r[1].get("transfer") or {}).get("state") == "threeway", 40,
                      "the three-way call with 110 to merge")
    assert resp[1]["transfer"]["number"] == "110", resp
    # the department's leg ran the shipped [departments] context marked as an emergency
    assert any("EMERGENCY" in e.get("AppData", "") for e in switch.events("Newexten", Context="departments")), \
        [e.get("AppData") for e in switch.events("Newexten", Context="departments")]
    status, counts = await poll(lambda: api(layer, "GET", "/api/outbound/linkage"),
                                lambda r: r[1].get("to_110") == 1, 10, "the hand-over counted as 12345转110")
    assert counts["from_110"] == 0 and "12345转110" in counts["label"]["to_110"], counts
    status, wall = await poll(lambda: api(layer, "GET", "/api/figures"),
                              lambda r: (r[1].get("linkage") or {}).get("windows", {}).get("today", {})
                              .get("to_110") == 1, 10, "12345转110 on the wallboard's linkage counts")
    assert wall["linkage"]["labels"]["to_110"] == "12345转110", wall["linkage"]
