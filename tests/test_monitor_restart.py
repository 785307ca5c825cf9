"""Today survives a restart of the layer: given simulated traffic, when the layer restarts in the middle
of it, then /api/figures "today" equals `cti report` for the day, queue by queue and in total, and no
call in progress at the restart is counted twice (issue 18)."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from zoneinfo import ZoneInfo

import aiohttp
from monitor_support import cti_report, monitor_settings, start_layer, until

from cti.simulator import SimConfig, Simulator
from cti.simulator.presets import nantong_config, nantong_traffic

SHANGHAI = ZoneInfo("Asia/Shanghai")
COUNTERS = ("answered", "answered_15s", "answered_10s", "abandoned", "short_abandoned", "timed_out",
            "unanswered_15s", "unanswered_10s", "talk_count")


def nine_am() -> float:
    """9:00 today at the centre (Asia/Shanghai), whatever the host's time zone: the traffic stays in the day."""
    return dt.datetime.combine(dt.datetime.now(SHANGHAI).date(), dt.time(9), SHANGHAI).timestamp()


async def figures(layer) -> dict:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{layer.http_port}/api/figures",
                            headers={"Authorization": "Bearer wall-token"}) as r:
            assert r.status == 200, await r.text()
            return await r.json()


def today(fig: dict) -> dict:
    return {k: fig["windows"]["today"]["counters"][k] for k in COUNTERS}


def reported(row: dict) -> dict:
    return {k: row["counters"][k] for k in COUNTERS}


async def test_given_traffic_when_the_layer_restarts_then_today_equals_the_report(tmp_path, capsys):
    start = nine_am()
    sim = Simulator(nantong_config(SimConfig(ami_port=0, agi_port=1, speed=300, start_epoch=start), seed=18))
    await sim.start()
    settings = monitor_settings(tmp_path, sim.ami_port)
    layer, part = await start_layer(settings, sim)
    try:
        sim.start_traffic(nantong_traffic(rate_factor=1.5))
        # the first layer sees calls decided, and the restart comes while others wait or talk
        await until(lambda: part.stored >= 20 and part.engine.by_agent_channel and part.engine.waiting(
            part.engine.queue_names), 60, 0.01)
        before = (await figures(layer))["centre"]["windows"]["today"]["offered"]
        in_progress = len(part.engine.legs)
        await layer.stop()
        layer, part = await start_layer(settings, sim)
        restarted = (await figures(layer))["centre"]["windows"]["today"]["offered"]
        await sim.clock.sleep(600)
        sim.stop_traffic()
        await until(lambda: sim.totals()["active"] == 0, 120, 0.1)
        await until(lambda: not part.engine.legs, 10)
        await part.flush()
        wall = await figures(layer)
    finally:
        await layer.stop()
        await sim.stop()
    day = dt.datetime.fromtimestamp(start, SHANGHAI).date().isoformat()
    report = json.loads(await cti_report(tmp_path, capsys, "--from", day, "--to", day, "--format", "json"))
    # the restarted layer's today starts where the first one stopped, not from 0
    assert restarted >= before > 0, (before, restarted)
    assert in_progress > 0
    assert today(wall["centre"]) == reported(report["total"]), (wall["centre"]["windows"]["today"], report["total"])
    queues = {r["name"]: reported(r) for r in report["queues"]}
    assert {q: today(f) for q, f in wall["queues"].items() if f["windows"]["today"]["offered"]} == queues
    # no call in progress at the restart was stored (so counted) twice
    rows = await part.store.calls(0, float("inf"))
    await part.store.close()
    answered = Counter(r.uniqueid for r in rows if r.outcome == "answered")
    assert [u for u, n in answered.items() if n > 1] == []
    assert report["total"]["answered"] <= sim.totals()["answered"]
