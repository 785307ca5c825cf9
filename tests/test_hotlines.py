"""The hotline directory: the 38 hotlines of the integration plan, validation with file:line, hours."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from cti.calendar import WorkCalendar
from cti.hotlines import DIRECT, EMERGENCY, PARALLEL, HotlineError, load_directory, parse_directory

ROOT = Path(__file__).resolve().parents[1]
SEED_NUMBERS = {
    DIRECT: "12316 12356 12336 12318 12350 12355 12351 12338 12312 12369 12310 12385",
    PARALLEL: "12333 12315 12329 12348 12365 12358 12349 12320 12313 12330 12366 89182131 89112319 "
              "89182105 95598 10000 10086 10010 96296 11185 84864000 962007",
    EMERGENCY: "110 120 119 96333",
}


@pytest.fixture(scope="module")
def directory():
    return load_directory(ROOT / "config/hotlines.yaml")


@pytest.fixture(scope="module")
def calendar():
    return WorkCalendar.from_file(ROOT / "config/calendar-override.yaml")


def test_the_shipped_directory_holds_the_38_hotlines_of_appendices_1_to_3(directory):
    assert len(directory) == 38
    for kind, numbers in SEED_NUMBERS.items():
        assert {h.number for h in directory.of_kind(kind)} == set(numbers.split())
    h = directory.get("12315")
    assert (h.name, h.owner, h.answer_timeout, h.dial) == ("消费者投诉举报热线", "市场监管局", 15.0,
                                                         "PJSIP/12315@hotlines")


def test_given_a_parallel_merged_line_when_asked_in_office_hours_then_dial_else_ticket(directory, calendar):
    assert directory.decide("12333", dt.datetime(2026, 3, 4, 10, 0), calendar).action == "dial"
    assert directory.decide("12333", dt.datetime(2026, 3, 4, 12, 30), calendar).action == "ticket"  # lunch
    assert directory.decide("12333", dt.datetime(2026, 3, 4, 20, 0), calendar).action == "ticket"
    # Spring Festival Monday is a holiday; the make-up Saturday before it is a working day
    assert directory.decide("12333", dt.datetime(2026, 2, 16, 10, 0), calendar).action == "ticket"
    assert directory.decide("12333", dt.datetime(2026, 2, 14, 10, 0), calendar).action == "dial"


def test_given_an_emergency_line_at_3am_on_a_holiday_then_it_is_dialled_and_flagged(directory, calendar):
    for number in ("110", "119", "120", "96333"):
        d = directory.decide(number, dt.datetime(2026, 10, 2, 3, 0), calendar)
        assert (d.action, d.emergency) == ("dial", True)


def test_given_a_direct_merged_or_unknown_number_then_the_transfer_is_refused(directory, calendar):
    noon = dt.datetime(2026, 3, 4, 10, 0)
    assert directory.decide("12316", noon, calendar).action == "refuse"
    refused = directory.decide("99999", noon, calendar)
    assert refused.action == "refuse" and "99999" in refused.reason


def test_an_admin_adds_a_hotline_with_its_own_hours_without_code(calendar):
    d = parse_directory("""
hotlines:
  - {number: "12340", name: 测试热线, owner: 测试局, kind: parallel-merged,
     working_hours: ["09:00-11:00"], answer_timeout: 20, dial: "PJSIP/{number}@trunk2"}
""")
    h = d.get("12340")
    assert (h.dial, h.answer_timeout) == ("PJSIP/12340@trunk2", 20.0)
    assert h.answers_at(dt.datetime(2026, 3, 4, 10, 30), calendar)
    assert not h.answers_at(dt.datetime(2026, 3, 4, 11, 30), calendar)
    assert not h.answers_at(dt.datetime(2026, 3, 7, 10, 30), calendar)  # a Saturday


def test_every_problem_is_reported_with_file_and_line():
    text = """defaults:
  answer_timeout: 15
hotlines:
  - {number: "12315", name: 甲, owner: 局, kind: parallel-merged}
  - {number: "12315", name: 乙, owner: 局, kind: parallel-merged}
  - {number: "12a", name: 丙, owner: 局, kind: merged}
  - number: "110"
    name: 报警
    owner: 公安局
    kind: emergency
    working_hours: ["08:00-07:00"]
  - {number: "12366", name: 丁, owner: 局, kind: parallel-merged, answer_timeout: 0, colour: red}
"""
    with pytest.raises(HotlineError) as info:
        parse_directory(text, "hl.yaml")
    message = str(info.value)
    assert "hl.yaml:5: number 12315 is already listed at line 4" in message
    assert "hl.yaml:6: number must be digits" in message
    assert "hl.yaml:6: hotline 12a: kind must be one of" in message
    assert "hl.yaml:11: hotline 110: working hours '08:00-07:00'" in message
    assert "hl.yaml:12: hotline 12366: answer_timeout must be seconds" in message
    assert "hl.yaml:12: unknown key 'colour'" in message


def test_broken_yaml_and_missing_file_are_clear_errors(tmp_path):
    with pytest.raises(HotlineError, match=r"hl.yaml:3: not valid YAML"):
        parse_directory("hotlines:\n  - [unclosed\n", "hl.yaml")
    with pytest.raises(HotlineError, match="cannot read the hotline directory"):
        load_directory(tmp_path / "nope.yaml")
    with pytest.raises(HotlineError, match="'hotlines' must be a list"):
        parse_directory("hotlines: 3\n", "hl.yaml")


def test_the_check_command_names_the_problem_and_fails(tmp_path, capsys):
    import argparse

    from cti.calls.cli import add_parser

    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers())
    args = parser.parse_args(["hotlines", "check", str(ROOT / "config/hotlines.yaml")])
    assert args.func(args) == 0 and "38 hotlines ok" in capsys.readouterr().out
    bad = tmp_path / "hl.yaml"
    bad.write_text('hotlines:\n  - {number: "110", name: 报警, owner: 公安局, kind: police}\n', encoding="utf-8")
    args = parser.parse_args(["hotlines", "check", str(bad)])
    assert args.func(args) == 1 and f"{bad}:2: hotline 110: kind must be one of" in capsys.readouterr().out
