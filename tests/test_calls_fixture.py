"""The three-way recipe the controller sends and the events it expects, against the Asterisk 22 recording."""

from __future__ import annotations

from sim_support import Recording

from cti.ami import AmiMessage
from cti.calls import actions
from cti.calls import transfer as tx
from cti.calls.tracker import CallTracker


def _frames(rec: Recording):
    """(offset ms, AmiMessage | action dict) in the order the connection saw them."""
    for off, item in rec.items:
        yield off, item[">>>"] if isinstance(item, dict) else AmiMessage(item)


def test_the_threeway_actions_and_expected_events_match_the_recording():
    rec = Recording("three-way-transfer")
    recorded = [a for _, a in rec.actions if a["Action"] in ("Setvar", "PlayDTMF", "Hangup")]
    tracker = CallTracker("departments")
    sent: list[dict] = []
    states: list[str] = []
    t = None
    for _off, item in _frames(rec):
        if isinstance(item, dict):
            # the recorded controller acted here: ours must have decided the same at this point
            if item["Action"] == "Setvar" and item["Variable"] == "TRANSFER_EXTEN":
                call = next(iter(tracker.calls.values()))
                t = tx.Transfer(call.id, tx.THREEWAY, "12315", call.agent_channel, call.citizen, agent=call.agent)
                tracker.start_transfer(t)
                sent += actions.threeway_start(call.agent_channel, "12315", "departments", "*2")
            elif item["Action"] == "Hangup":
                assert t.state == tx.TALKING, "drop-off is offered once all three talk"
                sent.append(actions.hangup(t.initiator))
            continue
        for notice in tracker.feed(item):
            if notice.transfer is not None and (not states or states[-1] != notice.transfer.state):
                states.append(notice.transfer.state)
            if tx.PLAY_THREEWAY in notice.effects:
                sent += actions.threeway_merge(t.initiator, "*3")
    assert sent == recorded
    assert states == [tx.RINGING, tx.ANSWERED, tx.TALKING, tx.HANDED_OFF]
    assert t.recipient == "Local/12315@departments-0000000d;1"
    assert 2.9 < t.answer_seconds < 3.1                 # department Wait(3) then Answer, from the Timestamps
    assert tracker.get(t.call_id).agent_channel == ""    # the agent left; citizen and department remain


def test_the_agent_and_citizen_of_the_recording_are_recognised_from_agentconnect():
    rec = Recording("three-way-transfer")
    tracker = CallTracker()
    pops = []
    for _off, item in _frames(rec):
        if not isinstance(item, dict):
            pops += [(n.call.citizen, n.call.agent_channel, n.call.agent, n.call.queue, n.call.caller)
                     for n in tracker.feed(item) if n.kind == "connect"]
    assert pops[0] == (
        "Local/99@from-pstn-0000000b;2", "Local/6002@agents-0000000c;1", "6002", "public", "13800000002")
