"""Test dialing (拨测): a department answering in 8 s and one never answering give the expected 15-second
answer rate, test-call records, and one alert after two failures in a row."""

from __future__ import annotations

import datetime as dt

import aiohttp
from calls_support import until
from outbound_support import outbound_centre, outbound_settings

from cti.simulator.config import DepartmentTiming

ANSWERS, SILENT = "89112319", "12333"   # parallel-merged hotlines of config/hotlines.yaml


async def test_given_two_departments_when_test_dialled_twice_then_rates_and_alert(tmp_path):
    # rounds are started by hand here (the scheduler starts one every test_dial_interval when enabled)
    s = outbound_settings(tmp_path, test_dial_enabled=False, test_dial_numbers=[ANSWERS, SILENT],
                          followup_enabled=False, test_dial_ring_timeout=30)
    async with outbound_centre(tmp_path, s, lockstep=True) as c:   # an 8 s answer is 8 s however loaded the machine
        part = c.outbound
        part.clock = lambda: dt.datetime(2025, 3, 5, 10, 0, tzinfo=part.tz)   # a Wednesday, office hours
        c.sim.config.departments[ANSWERS] = DepartmentTiming(answer_delay=8, talk_time=1)
        c.sim.config.departments[SILENT] = DepartmentTiming(no_answer_rate=1.0)
        legs, alerts, requests = [], [], []
        c.layer.bus.subscribe("outbound.test_dial", lambda _t, m: legs.append(m))
        c.layer.bus.subscribe("outbound.alert", lambda _t, m: alerts.append(m))
        c.layer.bus.subscribe("tickets.request", lambda _t, m: requests.append(m))
        assert await part.test_round() == 2
        await until(lambda: len(legs) == 2, 15)
        assert alerts == []
        await part.test_round()
        await until(lambda: len(legs) == 4, 15)
        figures = {f["number"]: f for f in part.book.as_list()}
        assert figures[ANSWERS]["answer_rate_15s"] == 1.0
        assert 7.9 <= figures[ANSWERS]["mean_answer_seconds"] <= 8.6
        assert figures[SILENT]["answer_rate_15s"] == 0.0 and figures[SILENT]["consecutive_failures"] == 2
        assert all(leg.kind == "test" for leg in legs)
        assert [a.number for a in alerts] == [SILENT]
        assert requests and SILENT in requests[0].summary and requests[0].tags == ("拨测告警",)
        async with aiohttp.ClientSession() as http:
            r = await http.get(f"http://127.0.0.1:{c.layer.http_port}/api/outbound/test-dial?token=desk-token")
            body = await r.json()
        assert body["test_calls"] is True and len(body["hotlines"]) == 2


async def test_given_after_hours_when_round_runs_then_no_test_call(tmp_path):
    s = outbound_settings(tmp_path, test_dial_numbers=[ANSWERS], followup_enabled=False)
    async with outbound_centre(tmp_path, s) as c:
        c.outbound.clock = lambda: dt.datetime(2025, 3, 5, 23, 0, tzinfo=c.outbound.tz)
        assert await c.outbound.test_round() == 0
