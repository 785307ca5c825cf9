"""The screen pop reaches the right agent's WebSocket with the IVR path, on AgentConnect."""

from __future__ import annotations

import asyncio
import datetime as dt
from zoneinfo import ZoneInfo

import aiohttp
from calls_support import centre, until

from ivr_flows.part import FlowsPart
from queue_monitor.part import MonitorPart

TZ = ZoneInfo("Asia/Shanghai")


async def _next(ws, kind: str, timeout: float = 10.0) -> dict:
    async def loop():
        while True:
            msg = await ws.receive_json()
            if msg["type"] == kind:
                return msg
    return await asyncio.wait_for(loop(), timeout)


async def test_a_screen_pop_with_the_ivr_path_reaches_only_the_answering_agent(tmp_path):
    async with centre(tmp_path, parts=[FlowsPart]) as c, aiohttp.ClientSession() as session:
        ten_am = dt.datetime(2026, 3, 4, 10, 0, tzinfo=TZ)           # a working Wednesday
        c.control.clock = lambda: ten_am
        c.layer.parts[0].engine.clock = ten_am.timestamp       # key 2 leads to 一企来 in working hours only
        seen_at = []
        c.layer.bus.subscribe("calls.screen_pop", lambda _t, m: seen_at.append(len(c.events)))
        base = f"ws://127.0.0.1:{c.layer.http_port}/api/agents"
        async with session.ws_connect(f"{base}/6101/ws?token=desk-token") as enterprise, \
                session.ws_connect(f"{base}/6001/ws", headers={"Authorization": "Bearer desk-token"}) as public:
            assert (await enterprise.receive_json())["type"] == "hello"
            assert (await public.receive_json())["type"] == "hello"
            call_id = await c.citizen(number="13700000001", exten="12345", script="press2")   # 一企来
            pop = await _next(enterprise, "screen_pop")
            connect = next(i for i, m in enumerate(c.events) if m.name == "AgentConnect")
            # published while AgentConnect itself is handled: no later AMI event came first
            assert len(seen_at) == 1 and connect <= seen_at[0] <= connect + 1
            assert (pop["call_id"], pop["agent"], pop["caller"], pop["queue"]) == (
                call_id, "6101", "13700000001", "enterprise")
            assert pop["hotline"] == "12345"
            assert "企业" in pop["tags"]
            assert pop["ivr_path"] and any("key 2" in step for step in pop["ivr_path"])
            assert pop["wait_seconds"] >= 0 and pop["transfer"] is None
            # the transfer state follows on the same socket
            await c.control.transfer(call_id, "12315", "threeway")
            update = await _next(enterprise, "transfer")
            assert (update["call_id"], update["state"]) == (call_id, "requested")
            other = []
            while True:
                try:
                    other.append(await asyncio.wait_for(public.receive_json(), 0.05))
                except TimeoutError:
                    break
            assert other == []                                # agent 6001 saw nothing of it
            await until(lambda: c.control.tracker.get(call_id).transfer.state == "threeway")


async def test_a_second_call_of_the_same_caller_shows_the_previous_one(tmp_path):
    async with centre(tmp_path) as c:
        c.control.clock = lambda: dt.datetime(2026, 3, 4, 10, 0, tzinfo=TZ)
        first = await c.citizen(number="13600000009")
        await c.layer.ami.action({"Action": "Hangup", "Channel": c.control.tracker.get(first).citizen})
        await until(lambda: c.control.tracker.get(first) is None)
        await c.citizen(number="13600000009")
        pop = c.pops[-1]
        assert [p["call_id"] for p in pop.previous_calls] == [first]


async def test_stopping_the_layer_tells_open_desktops_and_walls_it_is_going_away(tmp_path):
    # aiohttp waited for open WebSocket handlers up to its shutdown timeout, twice: a layer with one
    # wall open took 30-120 s to stop, and the wall saw no close frame until then.
    async with centre(tmp_path, parts=[MonitorPart]) as c, \
            aiohttp.ClientSession(headers={"Authorization": "Bearer desk-token"}) as session:
        base = f"ws://127.0.0.1:{c.layer.http_port}"
        async with session.ws_connect(f"{base}/api/agents/6001/ws") as desk, \
                session.ws_connect(f"{base}/wallboard/ws") as wall:
            assert (await desk.receive_json())["type"] == "hello"
            assert "queues" in await wall.receive_json()
            stopping = asyncio.create_task(c.layer.stop())
            for name, ws in (("agent desktop", desk), ("wall", wall)):
                seen = []
                async def closed(ws=ws, seen=seen):
                    while (msg := await ws.receive()).type not in (aiohttp.WSMsgType.CLOSE,
                                                                   aiohttp.WSMsgType.CLOSED):
                        seen.append(msg.type)
                    return msg
                try:
                    msg = await asyncio.wait_for(closed(), 20)
                except TimeoutError:
                    raise AssertionError(f"{name}: no close frame 20 s after stop; saw {seen}") from None
                assert (msg.type, msg.data) == (aiohttp.WSMsgType.CLOSE, aiohttp.WSCloseCode.GOING_AWAY), name
            await asyncio.wait_for(stopping, 30)
