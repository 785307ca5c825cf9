"""Follow-up calls (回访) in the monitor: the real outbound part calls three citizens of the simulator, two
answer and rate, one never answers until the attempts run out; the monitor counts the calls placed, answered,
surveyed, not answered, exhausted and the ratings in /api/figures, in /api/reports and in `cti report`
(from the SQLite file the layer wrote), and keeps them across a restart of the layer."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from contextlib import asynccontextmanager
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import aiohttp
from calls_support import settings_for
from monitor_support import cti_report
from outbound_support import outbound_settings
from prometheus_client.parser import text_string_to_metric_families

from cti.app import Layer
from cti.messages import Rating
from cti.outbound.followups import TOPIC_FOLLOWUP, FollowupAttempt
from cti.outbound.part import OutboundPart
from cti.simulator import SimConfig, Simulator
from cti.simulator import outbound as sim_outbound
from cti.simulator.config import QueueConfig
from cti.simulator.outbound import CitizenPhone
from queue_monitor.part import MonitorPart

TZ = ZoneInfo("Asia/Shanghai")
AUTH = {"Authorization": "Bearer desk-token"}
PLEASED, UNHAPPY, SILENT = "13900000011", "13900000012", "13900000013"


@asynccontextmanager
async def centre(tmp_path):
    queues = [QueueConfig("public", ["6001", "6002"], timeout=20, retry=1),
              QueueConfig("linkage110", ["6201"], timeout=20, retry=1)]
    sim = Simulator(SimConfig(ami_port=0, agi_port=1, speed=40, seed=1, queues=queues))
    await sim.start()
    for agent in ("6001", "6002", "6201"):
        sim.pbx.set_agent(agent, 1, 5)
    s = settings_for(tmp_path, sim.ami_port)
    s = s.model_copy(update={"monitor": s.monitor.model_copy(update={
        "database_url": f"sqlite+aiosqlite:///{tmp_path / 'monitor.db'}", "push_interval": 0.05,
        "refresh_seconds": 0.5})})
    o = outbound_settings(tmp_path, followup_hours=["00:00-23:59"], max_attempts=2, retry_spacing=0.2,
                          ring_timeout=10)
    layer = Layer(s, parts=[MonitorPart, lambda lay: OutboundPart(lay, o)])
    monitor, outbound = layer.parts
    await layer.start()
    sim.config.agi_port = layer.agi.port
    try:
        await layer.ami.wait_connected(5)
        ext = sim_outbound.install(sim.pbx, o.linkage_did, o.linkage_queue)
        ext.citizens[PLEASED] = CitizenPhone(answer_delay=2, keys=["1", "1"])    # 满意, 已解决
        ext.citizens[UNHAPPY] = CitizenPhone(answer_delay=2, keys=["3", "2"])    # 不满意, 未解决
        ext.citizens[SILENT] = CitizenPhone(answers=False)
        yield SimpleNamespace(sim=sim, layer=layer, monitor=monitor, outbound=outbound,
                              base=f"http://127.0.0.1:{layer.http_port}")
    finally:
        await layer.stop()
        await sim.stop()


EXPECTED = {"placed": 4, "answered": 2, "surveyed": 2, "no_answer": 2, "exhausted": 1, "satisfied": 1,
            "basically_satisfied": 0, "dissatisfied": 1, "settled_yes": 1, "settled_no": 1}


async def figures(http, base) -> dict:
    async with http.get(base + "/api/figures", headers=AUTH) as r:
        assert r.status == 200
        return await r.json()


async def test_followup_calls_reach_the_wall_the_reports_and_survive_a_restart(tmp_path, capsys):
    async with centre(tmp_path) as x:
        ids = [await x.outbound.schedule("list-2025", n, t) for n, t in
               ((PLEASED, "T1"), (UNHAPPY, "T2"), (SILENT, "T3"))]
        done = {"done", "exhausted"}

        async def finished() -> bool:
            states = [(await x.outbound.store.get(i)).state for i in ids]
            return all(state in done for state in states)

        for _ in range(1500):
            if await finished() and x.monitor.followups.snapshot(x.sim.clock.now())["windows"]["today"][
                    "placed"] == 4:
                break
            await asyncio.sleep(0.02)
        async with aiohttp.ClientSession() as http:
            for _ in range(200):
                wall = await figures(http, x.base)
                if wall["followups"]["windows"]["today"] == EXPECTED:
                    break
                await asyncio.sleep(0.05)
            day = dt.datetime.fromtimestamp(x.sim.clock.now(), TZ).date().isoformat()
            async with http.get(x.base + f"/api/reports?from={day}&to={day}", headers=AUTH) as r:
                api_report = await r.json()
            async with http.get(x.base + "/metrics", headers=AUTH) as r:
                metrics = {(m.name, frozenset(m.labels.items())): m.value    # as Prometheus reads it
                           for f in text_string_to_metric_families(await r.text()) for m in f.samples}
        assert wall["followups"]["windows"]["today"] == EXPECTED
        for figure, count in EXPECTED.items():          # Prometheus sees the same counts
            assert metrics.get(("cti_followup_calls", frozenset({"window": "today", "figure": figure}.items()))) == count
        assert wall["followups"]["labels"]["satisfied"].startswith("满意")
        assert {k: api_report["followups"][k] for k in EXPECTED} == EXPECTED
        await x.monitor.flush()

    # `cti report`, from the database the layer wrote (the layer is stopped now)
    for fmt in ("json", "table", "csv"):
        out = await cti_report(tmp_path, capsys, "--from", day, "--to", day, "--format", fmt)
        if fmt == "json":
            rep = json.loads(out)
            assert {k: rep["followups"][k] for k in EXPECTED} == EXPECTED
        elif fmt == "table":
            assert "回访" in out and "满意 satisfied" in out and "不满意 dissatisfied" in out
        else:
            assert "figure,label,count" in out and "placed,回访外呼 calls placed,4" in out
            assert "exhausted,多次未接通 attempts exhausted,1" in out
    # another day has no follow-up
    other_day = await cti_report(tmp_path, capsys, "--from", "2020-01-01", "--to", "2020-01-01", "--format", "json")
    rep = json.loads(other_day)
    assert rep["followups"]["placed"] == 0 and rep["followups"]["satisfied"] == 0

    # a restarted layer shows the same counts on the wall; an attempt heard twice counts once
    async with centre(tmp_path) as x:
        assert x.monitor.followups.snapshot(x.sim.clock.now())["windows"]["today"] == EXPECTED
        x.layer.bus.publish(TOPIC_FOLLOWUP, FollowupAttempt(ids[0], "surveyed", 1, "done", "T1",
                                                            Rating.SATISFIED, True))
        x.layer.bus.publish(TOPIC_FOLLOWUP, FollowupAttempt(ids[0], "", 1, "done"))    # no outcome: ignored
        assert x.monitor.followups.snapshot(x.sim.clock.now())["windows"]["today"] == EXPECTED
