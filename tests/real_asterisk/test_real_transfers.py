"""Three-way calls and one-key transfers on a real Asterisk 22, driven through the agent's API."""

from __future__ import annotations

from real_asterisk.desk import api, login
from real_asterisk.switch import poll, until


async def answered_call(switch, layer, agent: str = "6001", keys: str = "1") -> dict:
    """A citizen presses ``keys``, agent ``agent`` answers; returns the layer's call (as /api/calls shows it)."""
    switch.agent(agent, ring=0.5)
    await login(layer, agent, "public")
    caller = await switch.call(keys=keys)

    def mine(resp):
        return next((c for c in resp[1] if c.get("caller") == caller and c.get("agent_channel")), None)

    resp = await poll(lambda: api(layer, "GET", "/api/calls"), mine, 60, f"{caller}'s call answered in /api/calls")
    return mine(resp)


def bridge_of(switch, channel_prefix: str) -> set[str]:
    """BridgeUniqueids the channel (by name prefix) is in now, from BridgeEnter/BridgeLeave."""
    inside: dict[str, set[str]] = {}
    for e in switch.events():
        if e["Event"] in ("BridgeEnter", "BridgeLeave") and e.get("Channel", "").startswith(channel_prefix):
            s = inside.setdefault(e["Channel"], set())
            (s.add if e["Event"] == "BridgeEnter" else s.discard)(e.get("BridgeUniqueid", ""))
    return set().union(*inside.values()) if inside else set()


async def transfer_state(layer, call_id: str, states: set[str], timeout: float = 40.0) -> dict:
    """The call once its transfer is in one of ``states`` (GET /api/calls/{id})."""
    resp = await poll(lambda: api(layer, "GET", f"/api/calls/{call_id}"),
                      lambda r: (r[1].get("transfer") or {}).get("state") in states, timeout,
                      f"the transfer of {call_id} to reach {states}")
    return resp[1]


async def test_given_an_answered_call_when_the_department_answers_then_all_three_talk_and_the_agent_may_drop_off(
        switch, layer):
    switch.department("12315", ring=2)
    call = await answered_call(switch, layer)
    status, body = await api(layer, "POST", f"/api/calls/{call['id']}/threeway", {"number": "12315"})
    assert status == 200, body
    await transfer_state(layer, call["id"], {"threeway"})
    # Asterisk optimises the department's Local pair away (its ;1 half hangs up); the department stays
    await switch.wait_event("LocalOptimizationEnd")
    await until(lambda: not bridge_of(switch, "Local/12315@departments"), 10, "the Local pair to leave the bridge")
    citizen, dept = bridge_of(switch, call["citizen_channel"]), bridge_of(switch, "Local/12315@test-dept")
    agent = bridge_of(switch, call["agent_channel"])
    assert citizen and citizen == agent == dept, (citizen, agent, dept)
    body = await transfer_state(layer, call["id"], {"threeway"})
    status, body = await api(layer, "POST", f"/api/calls/{call['id']}/drop-off")
    assert status == 200, body
    await transfer_state(layer, call["id"], {"handed_off"})
    await until(lambda: not bridge_of(switch, call["agent_channel"]), 20, "the agent to leave the bridge")
    assert bridge_of(switch, call["citizen_channel"]) & bridge_of(switch, "Local/12315@test-dept")


async def department_rates(layer, number: str) -> dict:
    """The department's own answer figures (GET /api/departments/answer-rates)."""
    status, rows = await api(layer, "GET", "/api/departments/answer-rates")
    assert status == 200, rows
    return next((r for r in rows if r.get("number") == number), {})


async def test_given_a_three_way_call_handed_off_then_the_department_leg_counts_answered_within_15_s(switch, layer):
    switch.department("12315", ring=1)
    call = await answered_call(switch, layer)
    await api(layer, "POST", f"/api/calls/{call['id']}/threeway", {"number": "12315"})
    await transfer_state(layer, call["id"], {"threeway"})
    await switch.wait_event("LocalOptimizationEnd")
    await api(layer, "POST", f"/api/calls/{call['id']}/drop-off")
    await transfer_state(layer, call["id"], {"handed_off"})
    rates = await poll(lambda: department_rates(layer, "12315"), lambda r: r.get("offered") == 1, 20,
                       "the 12315 leg in the department figures")
    assert rates["answered"] == 1 and rates["answered_15s"] == 1, rates
    assert 0.5 < rates["mean_answer_seconds"] < 15, rates


async def test_given_a_three_way_call_when_the_department_never_answers_then_agent_and_citizen_talk_again(
        switch, layer):
    switch.department("12315", ring=60)     # atxfernoanswertimeout = 15 in features_cti.conf
    call = await answered_call(switch, layer)
    await api(layer, "POST", f"/api/calls/{call['id']}/threeway", {"number": "12315"})
    body = await transfer_state(layer, call["id"], {"no_answer", "ended", "busy", "cancelled"}, timeout=40)
    assert body["transfer"]["state"] == "no_answer", body
    await until(lambda: bridge_of(switch, call["agent_channel"]) == bridge_of(switch, call["citizen_channel"]) != set(),
                10, "agent and citizen back in one bridge")
    rates = await poll(lambda: department_rates(layer, "12315"), lambda r: r.get("offered") == 1, 20,
                       "the unanswered 12315 leg in the department figures")
    assert rates["answered"] == 0, rates


async def test_given_a_three_way_call_when_the_department_is_busy_then_the_agent_is_told_busy(switch, layer):
    switch.department("12315", busy=True)
    call = await answered_call(switch, layer)
    await api(layer, "POST", f"/api/calls/{call['id']}/threeway", {"number": "12315"})
    body = await transfer_state(layer, call["id"], {"no_answer", "ended", "busy", "cancelled"}, timeout=40)
    assert body["transfer"]["state"] == "busy", body
    await until(lambda: bridge_of(switch, call["agent_channel"]) == bridge_of(switch, call["citizen_channel"]) != set(),
                20, "agent and citizen back in one bridge")


async def test_given_a_one_key_transfer_when_the_department_answers_then_citizen_and_department_talk(switch, layer):
    switch.department("12315", ring=1)
    call = await answered_call(switch, layer)
    status, body = await api(layer, "POST", f"/api/calls/{call['id']}/transfer", {"number": "12315"})
    assert status == 200, body
    body = await transfer_state(layer, call["id"], {"connected", "returned", "ended", "abandoned"})
    assert body["transfer"]["state"] == "connected", body
    blind = switch.events("BlindTransfer")
    assert blind and blind[0].get("Result") == "Success", blind
    # the citizen talks to the department's phone, through the Local pair [departments] dials
    pair = bridge_of(switch, "Local/12315@departments")
    assert bridge_of(switch, call["citizen_channel"]) & pair and bridge_of(switch, "Local/12315@test-dept") & pair
    await until(lambda: not bridge_of(switch, call["agent_channel"]), 10, "the agent to be free")
    rates = await poll(lambda: department_rates(layer, "12315"), lambda r: r.get("answered") == 1, 20,
                       "the answered 12315 leg in the department figures")
    assert rates["answered_15s"] == 1, rates


async def test_given_a_one_key_transfer_when_nobody_answers_then_the_citizen_is_back_in_the_queue_at_priority(
        switch, layer):
    switch.department("12315", ring=60)
    call = await answered_call(switch, layer)
    # the agent is free again after the transfer; another agent picks the citizen back up
    switch.agent("6002", ring=0.5)
    await login(layer, "6002", "public")
    await api(layer, "POST", f"/api/calls/{call['id']}/transfer", {"number": "12315"})
    failed = await switch.wait_event("UserEvent", timeout=40, UserEvent="CTITransferFailed")
    assert failed.get("DialStatus") in ("NOANSWER", "BUSY"), failed
    join = await switch.wait_event("QueueCallerJoin", timeout=20, Uniqueid=call["id"], Queue="public")
    assert join is not None
    # QUEUE_PRIO=10 from [cti-transfer]: Asterisk shows the caller's priority in its queue entry
    assert await poll(lambda: switch_priority(switch, call["id"]), lambda p: p is not None, 10,
                      "the caller's queue entry") == "10"
    assert "back to the 12345 queue" in (await transfer_state(layer, call["id"], {"returned"}))["transfer"]["reason"]


async def switch_priority(switch, uid: str):
    frames = await switch.observer.list_action({"Action": "QueueStatus", "Queue": "public"})
    entry = next((dict(f) for f in frames if dict(f).get("Event") == "QueueEntry" and dict(f).get("Uniqueid") == uid),
                 None)
    return entry.get("Priority") if entry else None
