"""The flow validator: each broken flow yields its message with file and line; all errors at once."""

from __future__ import annotations

import re

import pytest

from ivr_flows.cli import main as flows_cli
from ivr_flows.loader import FlowLoadError, load_texts
from ivr_flows.schema import Context

CONTEXT = Context(frozenset({"public", "enterprise"}), lambda name: name in {"p/welcome", "p/menu", "p/bye"})

GOOD = """\
flow: main
nodes:
  welcome:
    type: play
    prompt: p/welcome
    barge_in: true
    next: menu
  menu:
    type: menu
    greeting: {file: p/menu, text: 请按1}
    choices:
      "1": public
      "2": enterprise
    exhausted: public
  public:
    type: queue
    queue: public
  enterprise:
    type: queue
    queue: enterprise
"""


def errors_of(text: str, path: str = "flows/main.yaml", extra: dict | None = None) -> list[str]:
    try:
        load_texts({path: text, **(extra or {})}, CONTEXT, ("main",))
    except FlowLoadError as exc:
        return [str(e) for e in exc.errors]
    return []


def line_of(text: str, fragment: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if fragment in line)


def test_the_good_flow_has_no_errors():
    assert errors_of(GOOD) == []


BROKEN = [
    ("unknown target", GOOD.replace('"2": enterprise', '"2": enterprse'), '"2": enterprse',
     "node menu: key 2 goes to unknown node 'enterprse'"),
    ("unreachable node", GOOD + "  orphan:\n    type: queue\n    queue: public\n", "  orphan:",
     "node orphan: unreachable from the start node 'welcome'"),
    ("menu key with no branch", GOOD.replace('"2": enterprise', '"2": enterprise\n      "3":'), '"3":',
     "node menu: menu key 3 has no branch"),
    ("not one key", GOOD.replace('"2": enterprise', '"2": enterprise\n      "12": public'), '"12": public',
     "node menu: menu key '12' is not one key (0-9, *, #)"),
    ("loop with no exit", GOOD.replace("    next: menu", "    next: again") +
     "  again:\n    type: play\n    prompt: p/bye\n    next: welcome\n", "  welcome:",
     "node welcome: loop with no exit: welcome -> again never reach a queue, transfer, goto or hangup"),
    ("missing prompt", GOOD.replace("prompt: p/welcome", "prompt: p/welcom"), "prompt: p/welcom",
     "node welcome: prompt 'p/welcom' does not exist (no sound file or catalogue entry)"),
    ("queue not in the list", GOOD.replace("queue: enterprise", "queue: enterprize"), "queue: enterprize",
     "node enterprise: queue 'enterprize' is not in the queue list (enterprise, public)"),
    ("unknown field", GOOD.replace("barge_in: true", "bargein: true"), "bargein: true",
     "node welcome: unknown field 'bargein' for a play node"),
    ("missing field", GOOD.replace("    next: menu\n", ""), "  welcome:",
     "node welcome: missing required field 'next'"),
    ("unknown type", GOOD.replace("type: play", "type: ploy"), "type: ploy",
     "node welcome: unknown or missing type 'ploy'"),
    ("wrong value type", GOOD.replace("exhausted: public", "exhausted: public\n    timeout: soon"),
     "timeout: soon", "node menu: 'timeout' must be a number from 0.5 to 60, got 'soon'"),
    ("bad boolean", GOOD.replace("barge_in: true", "barge_in: maybe"), "barge_in: maybe",
     "node welcome: 'barge_in' must be true or false, got 'maybe'"),
    ("duplicate node id", GOOD + "  public:\n    type: queue\n    queue: public\n", "  public:\n    type: queue\n    queue: public\n",
     "node public: duplicate node id"),
    ("goto to an unknown flow", GOOD.replace("    type: queue\n    queue: enterprise", "    type: goto\n    flow: yiqilai"),
     "flow: yiqilai", "node enterprise: goto to unknown flow 'yiqilai'"),
    ("bad pattern", GOOD.replace("  public:\n", "  public:\n    note: x\n").replace(
        '"1": public', '"1": ask') + "  ask:\n    type: collect\n    prompt: p/menu\n    store: id\n"
     "    pattern: '[0-9'\n    next: public\n", "pattern: '[0-9'", "node ask: pattern '[0-9' is not a valid regular"),
    ("bad condition test", GOOD.replace('"1": public', '"1": hours') +
     "  hours:\n    type: condition\n    cases:\n      - if: sunny\n        then: public\n    else: public\n",
     "      - if: sunny", "node hours: unknown test 'sunny'"),
    ("yaml syntax", GOOD.replace("    next: menu", "    next: [menu"), "  menu:", "not valid YAML"),
]


@pytest.mark.parametrize("name,text,marker,message", BROKEN, ids=[b[0] for b in BROKEN])
def test_each_broken_flow_reports_file_line_node_and_what(name, text, marker, message):
    errors = errors_of(text)
    if name == "duplicate node id":
        line = text.splitlines().index("  public:", line_of(text, "  public:")) + 1
    else:
        line = line_of(text, marker.splitlines()[0])
    wanted = f"flows/main.yaml:{line}: {message}"
    at_column = re.compile(rf"flows/main\.yaml:{line}:\d+: {re.escape(message)}")   # YAML slips: line:column
    assert any(e.startswith(wanted) or at_column.match(e) for e in errors), (wanted, errors)


def test_all_errors_are_reported_at_once_in_line_order():
    text = (GOOD.replace("prompt: p/welcome", "prompt: p/nope")
            .replace('"2": enterprise', '"2": nowhere')
            .replace("queue: public\n  enterprise", "queue: publick\n  enterprise"))
    errors = errors_of(text)
    assert errors == [
        f"flows/main.yaml:{line_of(text, 'p/nope')}: node welcome: prompt 'p/nope' does not exist "
        "(no sound file or catalogue entry)",
        f"flows/main.yaml:{line_of(text, 'nowhere')}: node menu: key 2 goes to unknown node 'nowhere'",
        f"flows/main.yaml:{line_of(text, 'publick')}: node public: queue 'publick' is not in the queue list "
        "(enterprise, public)",
        f"flows/main.yaml:{line_of(text, '  enterprise:')}: node enterprise: unreachable from the start node 'welcome'",
    ]


def test_errors_across_files_and_the_missing_entry_flow():
    other = "flow: side\nnodes:\n  go:\n    type: goto\n    flow: main\n    node: menuu\n"
    errors = errors_of(GOOD.replace("flow: main", "flow: mian"), extra={"flows/side.yaml": other})
    assert "flows/side.yaml:5: node go: goto to unknown node 'menuu' of flow 'main'" not in errors
    assert "flows/side.yaml:5: node go: goto to unknown flow 'main'" in errors
    assert any(e.endswith("the flow 'main' is missing") for e in errors)


def test_cli_check_passes_on_the_shipped_flows(capsys):
    assert flows_cli(["check"]) == 0
    out = capsys.readouterr().out
    for name in ("main", "yiqilai", "supervision", "after_hours", "survey"):
        assert f"flow {name} OK" in out


def test_cli_check_fails_with_every_error(tmp_path, capsys):
    (tmp_path / "main.yaml").write_text(GOOD.replace("queue: enterprise", "queue: vip").replace(
        '"2": enterprise', '"2": enterprise\n      "3":'), encoding="utf-8")
    assert flows_cli(["check", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert f"main.yaml:{line_of(GOOD, '  enterprise:') + 3}: node enterprise: queue 'vip' is not in the queue list" in err
    assert "node menu: menu key 3 has no branch" in err
    assert "prompt 'p/welcome' does not exist" in err     # the shipped catalogue has no p/ prompts
    assert "error(s) in" in err
