"""Three-way calls to policy specialists (政策专员) against the simulator, through the agent's API: the offer,
each in turn until one answers, the department hotline as the last resort, the SpecialistLeg messages and
the specialists' 15 s answer figures on /api/figures, /api/reports and `cti report` (issue 21)."""

from __future__ import annotations

import datetime as dt
import json

import aiohttp
import pytest
from calls_support import ROOT, until
from monitor_support import cti_report
from test_integration_departments import AUTH, TZ, centre_with_monitor

ENTERPRISE = "98"   # the simulator's entrance straight into the enterprise queue (一企来, agent 6101)


async def _post(base: str, path: str, body: dict) -> tuple[int, dict]:
    async with aiohttp.ClientSession() as http, http.post(base + path, json=body, headers=AUTH) as r:
        return r.status, await r.json()


async def _get(base: str, path: str) -> dict:
    async with aiohttp.ClientSession() as http, http.get(base + path, headers=AUTH) as r:
        assert r.status == 200, await r.text()
        return await r.json()


def _legs(c) -> list:
    """The SpecialistLeg messages from now on (and the transfer updates into ``c.transfers``)."""
    legs: list = []
    c.layer.bus.subscribe("calls.specialist_leg", lambda _t, leg: legs.append(leg))
    c.layer.bus.subscribe("calls.transfer", lambda _t, m: c.transfers.append(m))
    return legs


async def test_given_an_enterprise_call_when_each_is_rung_in_turn_then_the_first_who_answers_joins_and_is_counted(
        tmp_path, capsys):
    async with centre_with_monitor(tmp_path) as (c, monitor, base):
        legs = _legs(c)
        c.department("89180101", answer_delay=999)    # tax-01 never answers (atxfernoanswertimeout 15 s)
        c.department("89180102", busy=True)           # tax-02 is busy
        c.department("89180103", answer_delay=2)      # tax-03 answers after 2 s
        call_id = await c.citizen("13800000031", exten=ENTERPRISE)
        offer = await _get(base, f"/api/calls/{call_id}/specialists?field=税务")
        assert offer["line"]["name"] == "一企来" and offer["last_resort"]["number"] == "12366", offer
        assert [s["id"] for s in offer["specialists"]] == ["tax-01", "tax-02", "tax-03"]
        status, first = await _post(base, f"/api/calls/{call_id}/specialist", {"field": "税务", "in_turn": True})
        assert status == 200 and first["specialist"]["id"] == "tax-01", first
        await until(lambda: [(t.specialist or {}).get("id") for t in c.transfers if t.state == "threeway"] == ["tax-03"],
                    30, seen=lambda: [(t.number, t.state) for t in c.transfers])
        assert [t.number for t in c.transfers if t.state == "requested"] == ["89180101", "89180102", "89180103"]
        await c.control.drop_off(call_id)
        await c.state(call_id, "handed_off")
        await until(lambda: len(legs) == 3, 10, seen=lambda: legs)
        assert [(x.specialist_id, x.answered, x.department, x.field, x.line) for x in legs] == [
            ("tax-01", False, "地税局", "税务", "enterprise"), ("tax-02", False, "地税局", "税务", "enterprise"),
            ("tax-03", True, "地税局", "税务", "enterprise")]
        assert 1.5 <= legs[2].answer_seconds <= 15 and legs[2].started_at <= legs[2].ended_at
        # per specialist and per department, next to the department hotlines (none rung here)
        await until(lambda: len(monitor.departments.legs) == 3, 10)
        wall = await _get(base, "/api/figures")
        rows = {r["number"]: r["windows"]["today"] for r in wall["specialists"]}
        assert {n: (r["offered"], r["answered"], r["answered_15s"]) for n, r in rows.items()} == {
            "tax-01": (1, 0, 0), "tax-02": (1, 0, 0), "tax-03": (1, 1, 1)}
        assert rows["tax-02"]["not_answered"]["busy"] == 1 and rows["tax-01"]["not_answered"]["no_answer"] == 1
        (department,) = wall["specialist_departments"]
        today = department["windows"]["today"]
        assert (department["owner"], today["offered"], today["answered_15s"]) == ("地税局", 3, 1)
        assert wall["departments"] == []
        day = dt.datetime.fromtimestamp(c.sim.clock.now(), TZ).date().isoformat()
        report = await _get(base, f"/api/reports?from={day}&to={day}")
        assert [(r["number"], r["answered_15s"]) for r in report["specialists"]] == \
            [("tax-01", 0), ("tax-02", 0), ("tax-03", 1)]
        assert report["specialist_departments"][0]["answer_rate_15s"] == 1 / 3
    rep = json.loads(await cti_report(tmp_path, capsys, "--from", day, "--to", day, "--format", "json"))
    assert rep["specialists_total"]["offered"] == 3 and rep["departments"] == []
    table = await cti_report(tmp_path, capsys, "--from", day, "--to", day)
    assert "政策专员" in table and "tax-03" in table and "33.33%" in table


async def test_given_no_specialist_answers_then_the_departments_hotline_is_rung_last(tmp_path):
    async with centre_with_monitor(tmp_path) as (c, _monitor, base):
        _legs(c)
        for number in ("89180201", "89180204"):    # 社保 on the enterprise line: hrss-01, hrss-04, silent
            c.department(number, answer_delay=999)
        c.department("12333", answer_delay=2)
        call_id = await c.citizen("13800000032", exten=ENTERPRISE)
        status, _ = await _post(base, f"/api/calls/{call_id}/specialist", {"field": "社保", "in_turn": True})
        assert status == 200
        await c.state(call_id, "ringing", "threeway", timeout=30)
        await until(lambda: c.transfers[-1].number == "12333" and c.transfers[-1].state == "threeway", 30,
                    seen=lambda: [(t.number, t.state) for t in c.transfers])
        assert c.transfers[-1].specialist is None and c.transfers[-1].owner == "人社局"
        assert list(dict.fromkeys(t.number for t in c.transfers)) == ["89180201", "89180204", "12333"]


async def test_given_a_field_nobody_serves_or_a_bad_body_then_the_agent_gets_a_4xx_naming_it(tmp_path):
    async with centre_with_monitor(tmp_path) as (c, _monitor, base):
        _legs(c)
        call_id = await c.citizen("13800000033", exten=ENTERPRISE)
        status, body = await _post(base, f"/api/calls/{call_id}/specialist", {"field": "天文", "in_turn": True})
        assert (status, body["error"]) == (409, "no_specialist"), body
        status, body = await _post(base, f"/api/calls/{call_id}/specialist", {"field": "税务", "specialist": "x-9"})
        assert (status, body["error"]) == (422, "not_offered"), body
        status, body = await _post(base, f"/api/calls/{call_id}/specialist", {"field": "", "in_turn": True})
        assert status == 400 and "field" in json.dumps(body), body
        assert c.transfers == []


async def test_given_a_reload_when_the_new_file_is_bad_then_it_raises_and_the_old_directory_stays_in_force(tmp_path):
    from cti.specialists import SpecialistError

    async with centre_with_monitor(tmp_path) as (c, _monitor, base):
        call_id = await c.citizen("13800000034", exten=ENTERPRISE)
        shipped = (ROOT / "config/specialists.yaml").read_text(encoding="utf-8")
        path = tmp_path / "specialists.yaml"
        settings = c.layer.settings.model_copy(update={"specialists": path})
        path.write_text(shipped.replace('number: "89180101"', 'number: "8918O101"'), encoding="utf-8")
        with pytest.raises(SpecialistError, match=r"specialists.yaml:\d+: specialist tax-01: number must be digits"):
            c.part.reload(settings)
        offer = await _get(base, f"/api/calls/{call_id}/specialists?field=税务")
        assert [s["id"] for s in offer["specialists"]] == ["tax-01", "tax-02", "tax-03"]
        path.write_text(shipped.replace("fields: [税务, 减税降费]", "fields: [减税降费]"), encoding="utf-8")
        c.part.reload(settings)                                   # SIGHUP with a good file: in force at once
        offer = await _get(base, f"/api/calls/{call_id}/specialists?field=税务")
        assert [s["id"] for s in offer["specialists"]] == ["tax-02", "tax-03"]
