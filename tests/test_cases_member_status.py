"""Agent state from every device state Asterisk reports (QueueMember / QueueMemberStatus ``Status``,
include/asterisk/devicestate.h: 0 UNKNOWN .. 8 ONHOLD) plus Paused, InCall and wrap-up.

The input is a case from public reports (tests/fixtures/cases/ami_member_status_busy_onhold.ami, from
../shared/cases; roramirez/qpanel issue 7): members with Status 3 (busy), 8 (on hold), 2 (in use, InCall
0) and 1 were counted 3 available and 1 ringing. With agents on real phones (PJSIP interfaces,
StateInterface) these codes are the normal case. Available only when the device is not in use, not
paused and not in wrap-up; a code Asterisk does not document is never available.
"""

from __future__ import annotations

import itertools

import pytest
from cases_support import case_events

from cti.ami.message import parse
from queue_monitor.engine import QueueEngine

STATES = ("available", "talking", "ringing", "busy", "paused", "wrapup", "unknown")
T0 = 1764464000.0


def counts(engine: QueueEngine, now: float) -> dict[str, int]:
    a = engine.agents("public", now)
    return {"logged_in": a.logged_in, **{s: getattr(a, s) for s in STATES if getattr(a, s)}}


def member(status: str, paused: str = "0", in_call: str = "0", at: float = T0, wrapup: str = "10") -> bytes:
    return (f"Event: QueueMemberStatus\r\nTimestamp: {at:.6f}\r\nQueue: public\r\nMemberName: 6011\r\n"
            f"Interface: PJSIP/6011\r\nStateInterface: PJSIP/6011\r\nInCall: {in_call}\r\nStatus: {status}\r\n"
            f"Paused: {paused}\r\nPausedReason: {'培训' if paused == '1' else ''}\r\nWrapuptime: {wrapup}\r\n\r\n").encode()


def fed(*frames: bytes) -> QueueEngine:
    engine = QueueEngine()
    messages, rest = parse(b"".join(frames))
    assert rest == b""
    for ev in messages:
        engine.on_event(ev)
    return engine


def test_case_busy_onhold_in_use_and_not_in_use_is_one_available_and_three_busy():
    engine = QueueEngine()
    for ev in case_events("ami_member_status_busy_onhold.ami"):
        engine.on_event(ev)
    assert counts(engine, engine.now) == {"logged_in": 4, "available": 1, "busy": 3}
    wall = engine.snapshot()["queues"]["public"]["agents"]
    assert (wall["available"], wall["busy"], wall["ringing"]) == (1, 3, 0)


@pytest.mark.parametrize(("status", "state"), [
    ("0", "unknown"),      # AST_DEVICE_UNKNOWN: Asterisk cannot tell: not available
    ("1", "available"),    # AST_DEVICE_NOT_INUSE
    ("2", "busy"),         # AST_DEVICE_INUSE (InCall 0: not a call of this queue)
    ("3", "busy"),         # AST_DEVICE_BUSY
    ("4", None),           # AST_DEVICE_INVALID: not logged in
    ("5", None),           # AST_DEVICE_UNAVAILABLE: not logged in (phone unregistered)
    ("6", "ringing"),      # AST_DEVICE_RINGING
    ("7", "busy"),         # AST_DEVICE_RINGINUSE: a call already up, another ringing
    ("8", "busy"),         # AST_DEVICE_ONHOLD
    ("9", "unknown"),      # not documented (a newer Asterisk): never falls through to available
    ("-1", "unknown"),
    ("", "unknown"),       # empty value
    ("busy", "unknown"),   # not a number
])
def test_each_device_state_code_maps_to_one_wall_state(status, state):
    engine = fed(member(status))
    assert counts(engine, T0) == ({"logged_in": 0} if state is None else {"logged_in": 1, state: 1})


@pytest.mark.parametrize("status", ["0", "1", "2", "3", "6", "7", "8"])
def test_paused_wins_over_the_device_state_and_incall_means_talking(status):
    assert counts(fed(member(status, paused="1")), T0) == {"logged_in": 1, "paused": 1}
    assert counts(fed(member(status, in_call="1")), T0) == {"logged_in": 1, "talking": 1}


def test_wrapup_after_agent_complete_then_available_once_the_members_wrapuptime_is_over():
    complete = (f"Event: AgentComplete\r\nTimestamp: {T0 + 1:.6f}\r\nQueue: public\r\nInterface: PJSIP/6011\r\n"
                "MemberName: 6011\r\nUniqueid: 1.1\r\nDestUniqueid: 1.2\r\nHoldTime: 3\r\nTalkTime: 30\r\n\r\n").encode()
    engine = fed(member("1"), complete)
    assert counts(engine, T0 + 5) == {"logged_in": 1, "wrapup": 1}       # Wrapuptime 10 s after T0 + 1
    assert counts(engine, T0 + 11.5) == {"logged_in": 1, "available": 1}


def test_available_only_when_not_in_use_not_paused_not_in_wrapup_and_not_in_a_call():
    for status, paused, in_call, wrapping in itertools.product(
            ["0", "1", "2", "3", "6", "7", "8", "9"], "01", "01", [False, True]):
        frames = [member(status, paused, in_call)]
        if wrapping:
            frames.append(f"Event: AgentComplete\r\nTimestamp: {T0:.6f}\r\nQueue: public\r\nInterface: PJSIP/6011\r\n"
                          "Uniqueid: 1.1\r\n\r\n".encode())
        available = counts(fed(*frames), T0 + 1).get("available", 0)
        assert available == (status == "1" and paused == "0" and in_call == "0" and not wrapping), \
            (status, paused, in_call, wrapping)
