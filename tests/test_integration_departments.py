"""Department hotlines (部门热线) in the monitor: three-way calls and one-key transfers against the simulator,
with the call-control part publishing each department leg on the real bus and the monitor counting it;
the figures in /api/figures, in /api/reports and in `cti report` (from the SQLite file the layer wrote)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from contextlib import asynccontextmanager
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from calls_support import Centre, settings_for, until
from monitor_support import cti_report

from cti.app import Layer
from cti.calls.part import CallsPart
from cti.calls.stats import DepartmentLeg
from cti.simulator import SimConfig, Simulator
from cti.simulator.config import DepartmentTiming
from queue_monitor.departments import DepartmentBoard, merge_departments
from queue_monitor.figures import Definitions
from queue_monitor.part import MonitorPart

TZ = ZoneInfo("Asia/Shanghai")
WORKING = dt.datetime(2026, 3, 4, 10, 0, tzinfo=TZ)    # a Wednesday morning: departments answer
AUTH = {"Authorization": "Bearer desk-token"}


@asynccontextmanager
async def centre_with_monitor(tmp_path):
    sim = Simulator(SimConfig(ami_port=0, agi_port=1, speed=40, seed=1))
    await sim.start()
    for agent in ("6001", "6002", "6101"):
        sim.pbx.set_agent(agent, 1, 3600)
    sim.config.default_department = DepartmentTiming(answer_delay=3, talk_time=3600)
    s = settings_for(tmp_path, sim.ami_port)
    s = s.model_copy(update={"monitor": s.monitor.model_copy(update={
        "database_url": f"sqlite+aiosqlite:///{tmp_path / 'monitor.db'}", "push_interval": 0.05,
        "refresh_seconds": 0.5})})
    layer = Layer(s, parts=[MonitorPart, CallsPart])
    monitor, calls = layer.parts
    await layer.start()
    sim.config.agi_port = layer.agi.port
    try:
        await layer.ami.wait_connected(5)
        c = Centre(sim, layer, calls)
        c.control.clock = lambda: WORKING
        yield c, monitor, f"http://127.0.0.1:{layer.http_port}"
    finally:
        await layer.stop()
        await sim.stop()


async def test_threeway_and_one_key_transfer_legs_reach_the_wall_and_the_reports(tmp_path, capsys):
    async with centre_with_monitor(tmp_path) as (c, monitor, base):
        # 12315 answers a three-way call after 3 s; the agent drops off
        first = await c.citizen("13800000011")
        await c.control.transfer(first, "12315", "threeway")
        await c.state(first, "threeway")
        await c.control.drop_off(first)
        await c.state(first, "handed_off")
        # 12315 then never answers a second three-way call (atxfernoanswertimeout: 15 s)
        c.department("12315", answer_delay=999)
        second = await c.citizen("13800000012")
        await c.control.transfer(second, "12315", "threeway")
        await c.state(second, "no_answer")
        # 12333 answers a one-key transfer after 3 s
        third = await c.citizen("13800000013")
        await c.control.transfer(third, "12333", "blind")
        await c.state(third, "connected")
        # a cancelled attempt is not offered to the department (the agent withdrew it)
        c.department("12366", answer_delay=10)
        fourth = await c.citizen("13800000014")
        await c.control.transfer(fourth, "12366", "threeway")
        await c.state(fourth, "ringing")
        await c.control.cancel(fourth)
        await c.state(fourth, "cancelled")
        await until(lambda: len(monitor.departments.legs) == 3)

        async with aiohttp.ClientSession() as http:
            await until_figures(http, base)
            async with http.get(base + "/api/figures", headers=AUTH) as r:
                wall = await r.json()
            day = dt.datetime.fromtimestamp(c.sim.clock.now(), TZ).date().isoformat()
            async with http.get(base + f"/api/reports?from={day}&to={day}", headers=AUTH) as r:
                api_report = await r.json()
        departments = {d["number"]: d for d in wall["departments"]}
        assert set(departments) == {"12315", "12333"}
        t15 = departments["12315"]["windows"]["today"]
        # 2 legs offered, 1 answered after ~3 s (Wait(3) then Answer): 1/2 within 15 s
        assert (t15["offered"], t15["answered"], t15["answered_15s"]) == (2, 1, 1)
        assert t15["answer_rate_15s"] == 0.5
        assert 2.5 <= t15["average_answer_seconds"] <= 4
        assert departments["12315"]["owner"] == "市场监管局"
        t33 = departments["12333"]["windows"]["today"]
        assert (t33["offered"], t33["answered"], t33["answered_15s"], t33["answer_rate_15s"]) == (1, 1, 1, 1.0)
        assert departments["12333"]["windows"]["15m"]["offered"] == 1
        # the monitor agrees with the call-control part's own department counters
        own = {f["number"]: f for f in c.control.stats.as_list()}
        assert own["12315"]["answer_rate_15s"] == t15["answer_rate_15s"]
        # GET /api/reports: the same figures from the stored legs
        rows = {d["number"]: d for d in api_report["departments"]}
        assert (rows["12315"]["offered"], rows["12315"]["answered_15s"], rows["12315"]["answer_rate_15s"]) == (2, 1, 0.5)
        assert api_report["departments_total"]["offered"] == 3
        assert api_report["departments_total"]["answer_rate_15s"] == pytest.approx(2 / 3)

    # `cti report`, from the database the layer wrote (the layer is stopped now)
    for fmt in ("json", "table", "csv"):
        out = await cti_report(tmp_path, capsys, "--from", day, "--to", day, "--format", fmt)
        if fmt == "json":
            rep = json.loads(out)
            rows = {d["number"]: d for d in rep["departments"]}
            assert rows == {d["number"]: d for d in api_report["departments"]}
            assert rows["12333"]["answer_rate_15s"] == 1.0
        elif fmt == "table":
            assert "部门热线" in out and "12315" in out and "50.00%" in out and "市场监管局" in out
        else:
            assert "number,owner,offered,answered,answered_15s" in out
    # a period with no department leg has an empty section
    other_day = await cti_report(tmp_path, capsys, "--from", "2020-01-01", "--to", "2020-01-01", "--format", "json")
    assert json.loads(other_day)["departments"] == []


async def until_figures(http, base) -> None:
    async def ready():
        async with http.get(base + "/api/figures", headers=AUTH) as r:
            return len((await r.json())["departments"]) == 2
    for _ in range(200):
        if await ready():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("department figures never reached /api/figures")


async def test_department_legs_survive_a_restart_of_the_layer(tmp_path):
    async with centre_with_monitor(tmp_path) as (c, monitor, _base):
        call_id = await c.citizen("13800000021")
        await c.control.transfer(call_id, "12333", "blind")
        await c.state(call_id, "connected")
        await until(lambda: len(monitor.departments.legs) == 1)
    async with centre_with_monitor(tmp_path) as (c, monitor, _base):
        rows = monitor.departments.snapshot(c.sim.clock.now())
        assert [(r["number"], r["windows"]["today"]["answered"]) for r in rows] == [("12333", 1)]


def test_two_instances_department_rows_merge_into_true_rates():
    defs = Definitions()
    boards = [DepartmentBoard(defs, {"1h": 3600.0}), DepartmentBoard(defs, {"1h": 3600.0})]
    now = WORKING.timestamp()
    # instance A: 12315 answered in 4 s and in 20 s; instance B: 12315 unanswered, 12333 answered in 15.0 s
    boards[0].add(DepartmentLeg("a1", "12315", "市场监管局", "threeway", False, now - 100, 4.0, "handed_off"))
    boards[0].add(DepartmentLeg("a2", "12315", "市场监管局", "blind", False, now - 90, 20.0, "connected"))
    boards[1].add(DepartmentLeg("b1", "12315", "市场监管局", "threeway", False, now - 80, None, "no_answer"))
    boards[1].add(DepartmentLeg("b2", "12333", "人社局", "blind", False, now - 70, 15.0, "connected"))
    assert not boards[1].add(DepartmentLeg("b3", "12333", "人社局", "threeway", False, now - 60, None, "cancelled"))
    merged = {d["number"]: d["windows"]["today"] for d in merge_departments(b.snapshot(now) for b in boards)}
    # 12315: 3 offered, 2 answered (4 s, 20 s), 1 within 15 s -> 1/3; mean (4 + 20) / 2 = 12 s
    assert (merged["12315"]["offered"], merged["12315"]["answered"], merged["12315"]["answered_15s"]) == (3, 2, 1)
    assert merged["12315"]["answer_rate_15s"] == pytest.approx(1 / 3)
    assert merged["12315"]["average_answer_seconds"] == 12.0
    # 15.0 s is within 15 s (exact rule: wait <= 15.0)
    assert merged["12333"]["answer_rate_15s"] == 1.0
