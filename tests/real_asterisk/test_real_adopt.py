"""A layer that starts while a citizen is talking to an agent adopts the call, on a real Asterisk 22 (issues
21 and 22: a restart, an upgrade, a host coming back).

Given a citizen (key 1) answered by agent 6001 (``Local/6001@agents/n``), when the layer stops and a new
layer starts against the same switch, then the new layer knows the call with the same agent, channels,
queue, caller, hotline and tags; the agent's three-way call and hang-up work on it; and its end stores a
pending disposition (未小结).
"""

from __future__ import annotations

from cti.ami import AmiState
from cti.app import Layer
from real_asterisk.conftest import pin_clocks
from real_asterisk.desk import api
from real_asterisk.switch import poll, until
from real_asterisk.test_real_transfers import answered_call, transfer_state

SHOWN = ("caller", "caller_name", "queue", "hotline", "tags", "agent", "agent_channel", "citizen_channel")


async def test_given_a_connected_call_when_a_new_layer_starts_then_it_adopts_the_call(switch, layer):
    switch.department("12315", ring=1)
    before = await answered_call(switch, layer)
    await layer.stop()

    again = Layer(layer.settings)
    pin_clocks(again)
    await again.start()
    try:
        await until(lambda: again.ami.state == AmiState.CONNECTED, 20, "the new layer's AMI login",
                    lambda: again.ami.state)
        path = f"/api/calls/{before['id']}"
        _, after = await poll(lambda: api(again, "GET", path),
                              lambda r: r[0] == 200 and {k: r[1].get(k) for k in SHOWN} == {k: before[k] for k in SHOWN},
                              20, f"call {before['id']} adopted as {before}")
        # key 1's tag, told by a VarSet before the restart, read back from the citizen's channel
        assert (after["agent"], after["queue"], after["hotline"]) == ("6001", "public", "12345"), after
        assert "群众诉求" in after["tags"], after

        status, body = await api(again, "POST", f"{path}/threeway", {"number": "12315"})
        assert status == 200, body
        await transfer_state(again, before["id"], {"threeway"})
        status, body = await api(again, "POST", f"{path}/hangup")
        assert status < 300, body
        _, disposition = await poll(lambda: api(again, "GET", f"{path}/disposition"),
                                    lambda r: r[0] == 200 and r[1].get("ended_at"), 20,
                                    f"a pending disposition of call {before['id']}")
        assert (disposition["status"], disposition["agent"]) == ("pending", "6001"), disposition
    finally:
        await again.stop()
