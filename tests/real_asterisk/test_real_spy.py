"""Listen (监听), whisper (耳语) and barge (强插) on a real Asterisk 22: a supervisor joins an agent's call
through POST /api/calls/{id}/spy; ChanSpy runs on the agent's channel with the mode's options
(calls.spy_options of config/cti.yaml: q quiet, w whisper, B barge, E/S end with the call)."""

from __future__ import annotations

import pytest

from real_asterisk.desk import api
from real_asterisk.test_real_transfers import answered_call

SUPERVISOR = "8001"


def running_app(switch, channel: str) -> tuple[str, str]:
    """(application, data) the channel runs now, as Asterisk's ``core show channel`` says. An Originate
    into an application raises no Newexten for it: the CLI is the switch's own word on what runs."""
    text = switch.cli(f"core show channel {channel}")
    fields = dict(line.strip().split(": ", 1) for line in text.splitlines() if ": " in line)
    return fields.get("Application", ""), fields.get("Data", "")


@pytest.mark.parametrize("mode", ["listen", "whisper", "barge"])
async def test_given_an_answered_call_when_a_supervisor_spies_then_chanspy_runs_on_the_agents_channel_in_that_mode(
        switch, layer, mode):
    options = layer.settings.calls.spy_options[mode]
    switch.agent(SUPERVISOR, ring=0.2)         # the supervisor's phone: [agents] of extensions_test.conf
    call = await answered_call(switch, layer)
    status, body = await api(layer, "POST", f"/api/calls/{call['id']}/spy", {"supervisor": SUPERVISOR, "mode": mode})
    assert status == 200, body
    assert (body["target"], body["mode"]) == (call["agent_channel"], mode), body
    start = await switch.wait_event("ChanSpyStart", timeout=20)
    assert start["SpyeeChannel"] == call["agent_channel"], start
    assert start["SpyerChannel"].startswith(f"Local/{SUPERVISOR}@agents-"), start
    originated = await switch.wait_event("OriginateResponse", timeout=10, Application="ChanSpy")
    assert originated["Response"] == "Success" and originated["Channel"] == start["SpyerChannel"], originated
    application, data = running_app(switch, start["SpyerChannel"])
    assert application == "ChanSpy", (application, data)
    target, spied_options = data.split(",", 1)
    assert (target, spied_options) == (call["agent_channel"], options)
    # the mode's own letter, and only that one: w whispers to the agent, B talks to both, neither listens only
    assert ("w" in spied_options, "B" in spied_options) == {"listen": (False, False), "whisper": (True, False),
                                                             "barge": (False, True)}[mode]
    assert "q" in spied_options    # no beep or name announcement on the agent's line
    # E: the supervisor leaves when the agent puts the phone down, never spies on the agent's next call
    hangup = dict(await switch.observer.action({"Action": "Hangup", "Channel": call["agent_channel"]}))
    assert hangup.get("Response") == "Success", hangup
    stop = await switch.wait_event("ChanSpyStop", timeout=20)
    assert stop["SpyeeChannel"] == call["agent_channel"], stop
    await switch.wait_event("Hangup", timeout=20, Channel=start["SpyerChannel"])
