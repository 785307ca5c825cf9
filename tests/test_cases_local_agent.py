"""A party followed by more than one channel id: a ``Local/...`` agent without ``/n`` is optimised away
after AgentConnect while the call goes on (tests/fixtures/cases/ami_local_optimised_agent.ami, from
../shared/cases; asterisk/asterisk issue 393, FreePBX 124).

The monitor's figures are in tests/test_monitor_parties.py; here: the wall counts the agent as talking
until AgentComplete, the call tracker keeps the agent on the call (on the channel that replaced the
Local half), and the layer warns about a Local interface without ``/n`` in its settings, in
``cti check-config`` and when Asterisk's queue config shows one.
"""

from __future__ import annotations

import argparse
import logging

from cases_support import case_events

from cti.ami.message import parse
from cti.calls.tracker import CallTracker
from cti.checks import fatal, problems
from cti.cli import cmd_check_config
from cti.settings import Settings
from queue_monitor.engine import QueueEngine

CASE = "ami_local_optimised_agent.ami"
# The agent logged in before the case begins (the case holds the call only).
MEMBER = parse(b"Event: QueueMemberAdded\r\nTimestamp: 1764460800.000000\r\nQueue: public\r\nMemberName: 6001\r\n"
               b"Interface: Local/6001@agents\r\nStateInterface: Local/6001@agents\r\nStatus: 1\r\nPaused: 0\r\n"
               b"InCall: 0\r\nWrapuptime: 10\r\n\r\n")[0][0]


def test_given_the_optimised_local_agent_then_the_wall_counts_the_agent_talking_until_agent_complete(caplog):
    engine, seen = QueueEngine(), []
    with caplog.at_level(logging.WARNING):
        engine.on_event(MEMBER)
    for ev in case_events(CASE):
        engine.on_event(ev)
        agents = engine.snapshot()["queues"]["public"]["agents"]
        seen.append((ev.name, ev.get("Channel", ""), agents["talking"], agents["available"]))
    connect = next(i for i, s in enumerate(seen) if s[0] == "AgentConnect")
    complete = next(i for i, s in enumerate(seen) if s[0] == "AgentComplete")
    # from AgentConnect through both Local halves hanging up (cause 16), the agent talks
    assert [s[2] for s in seen[connect:complete]] == [1] * (complete - connect), seen
    assert [s[3] for s in seen[connect:complete]] == [0] * (complete - connect), seen
    after = engine.snapshot()["queues"]["public"]["agents"]
    assert (after["talking"], after["wrapup"]) == (0, 1), after        # AgentComplete: talk over, wrap-up
    # Asterisk's queue shows a Local member without /n: the monitor names it, once
    assert caplog.text.count("'Local/6001@agents' is a Local channel without /n") == 1, caplog.text


def test_given_the_optimised_local_agent_then_the_call_tracker_keeps_the_agent_on_the_replacing_channel():
    tracker, ended = CallTracker(), []
    for ev in case_events(CASE):
        notices = tracker.feed(ev)
        ended += [n for n in notices if n.kind == "ended"]
        if ev.name == "Hangup" and ev.get("Channel", "").startswith("Local/"):
            call = tracker.call_of_agent("6001")
            assert call is not None and call.agent_channel == "PJSIP/6001-00000033", ev
    assert [n.call.id for n in ended] == ["1764460900.30"] and tracker.calls == {}


def _check_config(tmp_path, capsys, interface: str) -> tuple[int, list[str]]:
    path = tmp_path / "cti.yaml"
    path.write_text(f'data_dir: {tmp_path}\ncalls:\n  agent_interface: "{interface}"\n', encoding="utf-8")
    code = cmd_check_config(argparse.Namespace(path=str(path), strict=False))
    return code, [line for line in capsys.readouterr().err.splitlines() if "agent_interface" in line]


def test_given_a_local_agent_interface_without_n_then_check_config_warns_and_still_accepts(tmp_path, capsys):
    code, lines = _check_config(tmp_path, capsys, "Local/{agent}@agents")
    assert code == 0
    [line] = lines
    assert line.startswith("warning: calls.agent_interface:") and "without /n" in line
    assert "'Local/{agent}@agents/n'" in line
    assert _check_config(tmp_path, capsys, "Local/{agent}@agents/n") == (0, [])
    assert _check_config(tmp_path, capsys, "PJSIP/{agent}") == (0, [])


def test_given_a_local_agent_interface_with_other_options_then_the_start_checks_name_the_n_form(tmp_path):
    # `cti run` logs each of cti.checks.problems at start (and stops only on the fatal ones)
    settings = Settings(data_dir=tmp_path)
    settings = settings.model_copy(update={"calls": settings.calls.model_copy(
        update={"agent_interface": "Local/{agent}@agents/j"})})
    found = dict(problems(settings, ports=False))
    assert "'Local/{agent}@agents/jn'" in found["calls.agent_interface"]
    assert fatal(list(found.items())) == []
