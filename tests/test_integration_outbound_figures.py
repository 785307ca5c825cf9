"""Test dialing (拨测) and 110 linkage in the monitor: the real outbound part test-dials two department
hotlines of the simulator and counts two 110 hand-overs on the real bus; the monitor shows the test calls
apart from the citizens' department legs and both linkage counts in /api/figures, in /api/reports and in
`cti report` (from the SQLite file the layer wrote)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from contextlib import asynccontextmanager
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import aiohttp
from calls_support import Centre, settings_for, until
from monitor_support import cti_report
from outbound_support import outbound_settings
from prometheus_client.parser import text_string_to_metric_families

from cti.app import Layer
from cti.calls.part import CallsPart
from cti.outbound.linkage import TO_110, TOPIC_LINKAGE, Handover
from cti.outbound.part import OutboundPart
from cti.simulator import SimConfig, Simulator
from cti.simulator import outbound as sim_outbound
from cti.simulator.config import DepartmentTiming, QueueConfig
from queue_monitor.part import MonitorPart

TZ = ZoneInfo("Asia/Shanghai")
WORKING = dt.datetime(2025, 3, 5, 10, 0, tzinfo=TZ)     # a Wednesday morning: departments answer
ANSWERS, SILENT = "89112319", "12333"                   # parallel-merged hotlines of config/hotlines.yaml
AUTH = {"Authorization": "Bearer desk-token"}


@asynccontextmanager
async def centre(tmp_path):
    queues = [QueueConfig("public", ["6001", "6002"], timeout=20, retry=1),
              QueueConfig("enterprise", ["6101"], timeout=12, retry=1),
              QueueConfig("linkage110", ["6201"], timeout=20, retry=1)]
    sim = Simulator(SimConfig(ami_port=0, agi_port=1, speed=40, seed=1, queues=queues))
    await sim.start()
    for agent in ("6001", "6002", "6101", "6201"):
        sim.pbx.set_agent(agent, 1, 3600)
    sim.config.default_department = DepartmentTiming(answer_delay=3, talk_time=3600)
    sim.config.departments[ANSWERS] = DepartmentTiming(answer_delay=8, talk_time=1)
    sim.config.departments[SILENT] = DepartmentTiming(no_answer_rate=1.0)
    s = settings_for(tmp_path, sim.ami_port)
    s = s.model_copy(update={"monitor": s.monitor.model_copy(update={
        "database_url": f"sqlite+aiosqlite:///{tmp_path / 'monitor.db'}", "push_interval": 0.05,
        "refresh_seconds": 0.5})})
    o = outbound_settings(tmp_path, test_dial_enabled=False, test_dial_numbers=[ANSWERS, SILENT],
                          followup_enabled=False, test_dial_ring_timeout=30)
    layer = Layer(s, parts=[MonitorPart, lambda lay: OutboundPart(lay, o), CallsPart])
    monitor, outbound, calls = layer.parts
    await layer.start()
    sim.config.agi_port = layer.agi.port
    try:
        await layer.ami.wait_connected(5)
        sim_outbound.install(sim.pbx, o.linkage_did, o.linkage_queue)
        c = Centre(sim, layer, calls)
        c.control.clock = lambda: WORKING
        outbound.clock = lambda: WORKING
        yield SimpleNamespace(c=c, monitor=monitor, outbound=outbound, o=o,
                              base=f"http://127.0.0.1:{layer.http_port}")
    finally:
        await layer.stop()
        await sim.stop()


async def figures(http, base) -> dict:
    async with http.get(base + "/api/figures", headers=AUTH) as r:
        assert r.status == 200
        return await r.json()


async def test_test_dials_and_110_linkage_reach_the_wall_and_the_reports(tmp_path, capsys):
    async with centre(tmp_path) as x:
        c = x.c
        # a citizen's one-key transfer to 12315 (answers after 3 s): a department leg of a citizen
        first = await c.citizen("13800000031")
        await c.control.transfer(first, "12315", "blind")
        await c.state(first, "connected")
        # two test rounds: 89112319 answers in 8 s, 12333 never answers
        assert await x.outbound.test_round() == 2
        await until(lambda: len(x.monitor.test_dials.legs) == 2, 15)
        assert await x.outbound.test_round() == 2
        await until(lambda: len(x.monitor.test_dials.legs) == 4, 15)
        # 110 -> 12345 on the hand-over DID, then an agent hands a citizen to 110
        await c.layer.ami.action({"Action": "Originate", "Channel": f"Local/{x.o.linkage_did}@from-pstn",
                                  "Context": "caller", "Exten": "abandon", "Priority": 1,
                                  "CallerID": '"110" <110>', "Timeout": 30000})
        second = await c.citizen("13800000032")
        await c.control.transfer(second, "110", "threeway")
        await c.state(second, "threeway")                  # 110 answered: its leg is a department leg too
        await until(lambda: x.outbound.linkage.as_dict() == {"from_110": 1, "to_110": 1}, 15)

        async with aiohttp.ClientSession() as http:
            for _ in range(200):
                wall = await figures(http, x.base)
                if wall["linkage"]["windows"]["today"] == {"from_110": 1, "to_110": 1} and len(wall["departments"]) == 2:
                    break
                await asyncio.sleep(0.05)
            day = dt.datetime.fromtimestamp(c.sim.clock.now(), TZ).date().isoformat()
            async with http.get(x.base + f"/api/reports?from={day}&to={day}", headers=AUTH) as r:
                api_report = await r.json()
            async with http.get(x.base + "/metrics", headers=AUTH) as r:
                metrics = {(m.name, frozenset(m.labels.items())): m.value    # as Prometheus reads it
                           for f in text_string_to_metric_families(await r.text()) for m in f.samples}
        # the citizens' department figures hold no test call; 110 is there, flagged emergency
        rows = {d["number"]: d for d in wall["departments"]}
        assert set(rows) == {"110", "12315"}
        assert (rows["110"]["emergency"], rows["12315"]["emergency"]) == (True, False)
        assert rows["12315"]["windows"]["today"]["offered"] == 1
        tests = {d["number"]: d["windows"]["today"] for d in wall["test_dials"]}
        assert set(tests) == {ANSWERS, SILENT}
        assert (tests[ANSWERS]["offered"], tests[ANSWERS]["answered_15s"], tests[ANSWERS]["answer_rate_15s"]) == (2, 2, 1.0)
        assert 7.9 <= tests[ANSWERS]["average_answer_seconds"] <= 8.6
        assert (tests[SILENT]["offered"], tests[SILENT]["answered"], tests[SILENT]["answer_rate_15s"]) == (2, 0, 0.0)
        assert wall["linkage"]["windows"]["today"] == {"from_110": 1, "to_110": 1}
        assert wall["linkage"]["labels"] == {"from_110": "110转12345", "to_110": "12345转110"}
        assert api_report["linkage"]["from_110"] == 1 and api_report["linkage"]["to_110"] == 1
        assert [d["number"] for d in api_report["departments"]] == ["110", "12315"]
        assert api_report["test_dials_total"]["offered"] == 4 and api_report["test_dials_total"]["answer_rate_15s"] == 0.5
        # Prometheus sees the same figures
        today = ("window", "today")
        for name, label, value in (("cti_test_dial_offered", ("number", ANSWERS), 2),
                                   ("cti_test_dial_answer_rate", ("number", ANSWERS), 1),
                                   ("cti_test_dial_answer_rate", ("number", SILENT), 0),
                                   ("cti_department_offered", ("number", "12315"), 1),
                                   ("cti_linkage_calls", ("direction", "from_110"), 1),
                                   ("cti_linkage_calls", ("direction", "to_110"), 1)):
            assert metrics.get((name, frozenset({label, today}))) == value, (name, label, metrics)
        assert not any(name == "cti_department_offered" and ("number", ANSWERS) in labels for name, labels in metrics)

    # `cti report`, from the database the layer wrote (the layer is stopped now)
    for fmt in ("json", "table", "csv"):
        out = await cti_report(tmp_path, capsys, "--from", day, "--to", day, "--format", fmt)
        if fmt == "json":
            rep = json.loads(out)
            assert (rep["linkage"]["from_110"], rep["linkage"]["to_110"]) == (1, 1)
            assert [d["number"] for d in rep["departments"]] == ["110", "12315"]
            rows = {d["number"]: d for d in rep["test_dials"]}
            assert (rows[ANSWERS]["answer_rate_15s"], rows[SILENT]["answer_rate_15s"]) == (1.0, 0.0)
            assert rows == {d["number"]: d for d in api_report["test_dials"]}
        elif fmt == "table":
            assert "拨测" in out and ANSWERS in out and "110转12345 1" in out and "12345转110 1" in out
        else:
            assert "direction,label,count" in out and "from_110,110转12345,1" in out
    # another day has no linkage and no test call
    other_day = await cti_report(tmp_path, capsys, "--from", "2020-01-01", "--to", "2020-01-01", "--format", "json")
    rep = json.loads(other_day)
    assert rep["test_dials"] == [] and (rep["linkage"]["from_110"], rep["linkage"]["to_110"]) == (0, 0)


async def test_test_dials_and_linkage_survive_a_restart_of_the_layer(tmp_path):
    async with centre(tmp_path) as x:
        assert await x.outbound.test_round() == 2
        await until(lambda: len(x.monitor.test_dials.legs) == 2, 15)
        handover = Handover(TO_110, "1700000000.5", x.c.sim.clock.now(), "requested")
        x.c.layer.bus.publish(TOPIC_LINKAGE, handover)
        x.c.layer.bus.publish(TOPIC_LINKAGE, handover)                                      # heard twice
        x.c.layer.bus.publish(TOPIC_LINKAGE, Handover("sideways", "1700000000.6", 0.0))     # ignored
    async with centre(tmp_path) as x:
        now = x.c.sim.clock.now()
        assert {r["number"] for r in x.monitor.test_dials.snapshot(now)} == {ANSWERS, SILENT}
        assert x.monitor.departments.snapshot(now) == []
        assert x.monitor.linkage.snapshot(now)["windows"]["today"] == {"from_110": 0, "to_110": 1}
