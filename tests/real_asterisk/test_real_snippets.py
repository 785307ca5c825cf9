"""The shipped snippets on a real Asterisk 22: loaded without a warning, and queues that fill every agent."""

from __future__ import annotations

import asyncio

from real_asterisk.desk import login
from real_asterisk.switch import until


async def test_given_the_shipped_snippets_when_asterisk_loads_them_then_it_logs_no_warning_about_them(switch):
    # the CLI answers once each reload is done, and its warnings are in the log by then
    for command in ("module reload app_queue.so", "dialplan reload", "manager reload", "features reload"):
        switch.cli(command)
    assert "public" in switch.cli("queue show public")
    assert switch.our_warnings() == []


async def test_given_three_free_agents_when_three_callers_wait_then_all_three_ring_at_once(switch, layer):
    """autofill = yes: Asterisk 22's default (no) offers only the caller at the head of the line, one at a
    time, so the second caller would ring only after the first was connected."""
    for agent in ("6001", "6002", "6003"):
        switch.agent(agent, ring=3, talk=5)
        await login(layer, agent, "public")
    for n in range(3):
        await switch.queue_caller(f"1370000000{n}", patience=30)
        await asyncio.sleep(0.05)
    await until(lambda: len(switch.events("AgentCalled", Queue="public")) >= 3, 20, "three agents ringing",
                lambda: [e["Event"] for e in switch.events() if e["Event"].startswith("Agent")])
    called = switch.events("AgentCalled", Queue="public")[:3]
    connects = switch.events("AgentConnect", Queue="public")
    first_connect = min((float(e["Timestamp"]) for e in connects), default=float("inf"))
    assert all(float(e["Timestamp"]) < first_connect for e in called), (called, connects)
    assert len({e["DestChannel"] for e in called}) == 3
