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
