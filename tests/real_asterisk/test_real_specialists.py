"""A three-way call to a policy specialist (政策专员) on a real Asterisk 22, driven through the agent's API
(issue 21): an 一企来 call (IVR key 2, policy, tax), the agent asks for 税务, the specialist answers within
15 s and is counted, the agent drops off, citizen and specialist stay talking."""

from __future__ import annotations

import yaml

from real_asterisk.conftest import layer_settings, running_layer
from real_asterisk.desk import api, login
from real_asterisk.switch import ROOT, poll, until
from real_asterisk.test_real_transfers import answered_call, bridge_of, transfer_state


def specialists_for_tests(tmp_path) -> str:
    """The shipped specialist directory, specialists dialled as the suite's Local phones ([test-dept])."""
    data = yaml.safe_load((ROOT / "config" / "specialists.yaml").read_text(encoding="utf-8"))
    data.setdefault("defaults", {})["dial"] = "Local/{number}@test-dept"
    path = tmp_path / "specialists.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return str(path)


async def test_given_an_enterprise_call_when_the_agent_asks_for_a_tax_specialist_then_citizen_and_specialist_talk(
        switch, tmp_path):
    settings = layer_settings(switch, tmp_path).model_copy(update={"specialists": specialists_for_tests(tmp_path)})
    async with running_layer(switch, settings) as layer:
        legs: list = []
        layer.bus.subscribe("calls.specialist_leg", lambda _t, leg: legs.append(leg))
        switch.department("89180101", ring=1)           # tax-01, the first of the offer, answers after 1 s
        switch.agent("6101", ring=0.5)
        await login(layer, "6101", "enterprise")
        caller = await switch.call(keys="2wwww1wwww1", key_delay=1.5)   # 一企来 -> policy -> tax

        def mine(resp):
            return next((c for c in resp[1] if c.get("caller") == caller and c.get("agent_channel")), None)

        resp = await poll(lambda: api(layer, "GET", "/api/calls"), mine, 90, f"{caller}'s call answered")
        call = mine(resp)
        assert call["queue"] == "enterprise" and "税务" in call["tags"], call
        status, offer = await api(layer, "GET", f"/api/calls/{call['id']}/specialists?field=税务")
        assert status == 200 and offer["line"]["id"] == "enterprise", offer
        assert offer["specialists"][0]["id"] == "tax-01", offer
        status, body = await api(layer, "POST", f"/api/calls/{call['id']}/specialist",
                                 {"field": "税务", "in_turn": True})
        assert status == 200 and body["specialist"]["id"] == "tax-01", body
        await transfer_state(layer, call["id"], {"threeway"})
        await switch.wait_event("LocalOptimizationEnd")
        specialist = "Local/89180101@test-dept"
        await until(lambda: bridge_of(switch, call["citizen_channel"]) == bridge_of(switch, specialist)
                    == bridge_of(switch, call["agent_channel"]) != set(), 10, "all three in one bridge")
        status, body = await api(layer, "POST", f"/api/calls/{call['id']}/drop-off")
        assert status == 200, body
        await transfer_state(layer, call["id"], {"handed_off"})
        await until(lambda: not bridge_of(switch, call["agent_channel"]), 20, "the agent to leave the bridge")
        assert bridge_of(switch, call["citizen_channel"]) & bridge_of(switch, specialist)
        # answered within 15 s by the switch's own stamps, counted on the specialist and the department
        await until(lambda: legs, 10, "the specialist's leg on the bus")
        (leg,) = legs
        assert (leg.specialist_id, leg.department, leg.field, leg.line, leg.answered) == \
            ("tax-01", "地税局", "税务", "enterprise", True), leg
        assert 0.5 < leg.answer_seconds < 15, leg

        def counted(resp):
            rows = {r["number"]: r for r in resp[1].get("specialists", [])}
            return rows.get("tax-01", {}).get("windows", {}).get("today", {}).get("answered_15s") == 1

        resp = await poll(lambda: api(layer, "GET", "/api/figures"), counted, 20, "tax-01 in /api/figures")
        (department,) = resp[1]["specialist_departments"]
        assert (department["owner"], department["windows"]["today"]["answer_rate_15s"]) == ("地税局", 1.0)
        assert not switch.our_warnings(), switch.our_warnings()


async def test_given_the_only_specialist_is_busy_then_the_agent_is_back_and_the_departments_hotline_rings_next(
        switch, tmp_path):
    settings = layer_settings(switch, tmp_path).model_copy(update={"specialists": specialists_for_tests(tmp_path)})
    async with running_layer(switch, settings) as layer:
        switch.department("89180101", busy=True)        # tax-01, the public line's only 税务 specialist
        switch.department("12366", ring=1)              # 地税局's hotline, the last resort
        call = await answered_call(switch, layer)       # key 1: the public line
        status, body = await api(layer, "POST", f"/api/calls/{call['id']}/specialist",
                                 {"field": "税务", "in_turn": True})
        assert status == 200 and body["specialist"]["id"] == "tax-01", body

        def hotline_talking(resp):
            t = resp[1].get("transfer") or {}
            return t.get("number") == "12366" and t.get("state") == "threeway"

        await poll(lambda: api(layer, "GET", f"/api/calls/{call['id']}"), hotline_talking, 60,
                   "the 12366 hotline in a three-way call after the busy specialist")
        await until(lambda: bridge_of(switch, call["citizen_channel"]) & bridge_of(switch, "Local/12366@test-dept"),
                    10, "the citizen and the hotline in one bridge")
        assert "17" in {e.get("Cause") for e in switch.events("Hangup")
                        if e.get("Channel", "").startswith("Local/89180101@")}   # the specialist was busy
        assert not switch.our_warnings(), switch.our_warnings()
