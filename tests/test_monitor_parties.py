"""The monitor follows the agent, not the agent's first channel: a Local member without ``/n`` is
optimised away after AgentConnect (core_local.c), its ;1 half hangs up with cause 16, and the call goes on.

The input is a case from public reports (tests/fixtures/cases/ami_local_optimised_agent.ami, from
../shared/cases): before, talk came out as 0.31 s instead of 60 s and the agent stopped counting as talking.
"""

from __future__ import annotations

from pathlib import Path

from cti.ami.message import parse
from queue_monitor.engine import QueueEngine

CASE = Path(__file__).parent / "fixtures" / "cases" / "ami_local_optimised_agent.ami"


# The agent logged in before the case begins (the case holds the call only).
MEMBER = (b"Event: QueueMemberAdded\nTimestamp: 1764460800.000000\nQueue: public\nMemberName: 6001\n"
          b"Interface: Local/6001@agents\nStateInterface: Local/6001@agents\nStatus: 1\nPaused: 0\nInCall: 0\n\n")


def events():
    raw = (MEMBER + CASE.read_bytes()).replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    messages, _ = parse(raw + b"\r\n")
    return messages


def test_given_a_local_agent_optimised_away_when_the_call_goes_on_then_talk_lasts_until_agent_complete():
    engine, rows = QueueEngine(), []
    talking_after_optimisation = None
    for ev in events():
        rows += engine.on_event(ev)
        if ev.name == "Hangup" and ev.get("Channel", "").endswith(";1"):
            talking_after_optimisation = engine.agents("public", ev.timestamp).talking
    assert talking_after_optimisation == 1          # the agent still talks on the channel that replaced it
    [row] = [r for r in rows if r.outcome == "answered"]
    assert row.ended_at - row.connected_at == 60.0   # AgentComplete TalkTime 60
    assert engine.agents("public", engine.now).talking == 0


def test_given_an_agent_complete_without_the_callers_fields_then_the_talk_still_ends_and_wrapup_starts():
    engine, rows = QueueEngine(), []
    for ev in events():
        if ev.name == "AgentComplete":   # as Asterisk 22 sends it once the caller's channel is gone
            raw = "".join(f"{k}: {v}\r\n" for k, v in ev.fields
                          if not (k.startswith(("Channel", "CallerID", "ConnectedLine", "Uniqueid", "Linkedid",
                                                "Exten", "Context", "Priority", "Language", "AccountCode"))))
            ev = parse(raw.encode() + b"\r\n")[0][0]
        rows += engine.on_event(ev)
    [row] = [r for r in rows if r.outcome == "answered"]
    assert row.ended_at - row.connected_at == 60.0
    assert engine.members["public"]["Local/6001@agents"].wrapup_until > 0
