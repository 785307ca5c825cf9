"""The specialist directory (config/specialists.yaml): validation with file:line, lines, offers by field, line
and working hours on the work calendar, and `cti specialists check` (issue 21)."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from cti.calendar import WorkCalendar
from cti.hotlines import load_directory
from cti.specialists import PUBLIC, SpecialistError, flow_menus, load_specialists, parse_specialists

ROOT = Path(__file__).resolve().parents[1]
HOTLINES = load_directory(ROOT / "config/hotlines.yaml")
FLOWS = flow_menus(ROOT / "config/flows")
WEDNESDAY_10 = dt.datetime(2026, 3, 4, 10, 0)
WEDNESDAY_13 = dt.datetime(2026, 3, 4, 13, 0)       # lunch: office hours resume at 13:30
SPRING_FESTIVAL = dt.datetime(2026, 2, 17, 10, 0)   # a statutory holiday, a Tuesday
MAKEUP_SATURDAY = dt.datetime(2026, 2, 14, 10, 0)   # 调休: a working Saturday


@pytest.fixture(scope="module")
def calendar() -> WorkCalendar:
    return WorkCalendar.from_file(ROOT / "config/calendar-override.yaml")


@pytest.fixture(scope="module")
def shipped():
    return load_specialists(ROOT / "config/specialists.yaml", HOTLINES, ROOT / "config/flows")


def parse(text: str):
    return parse_specialists(textwrap.dedent(text), "sp.yaml", HOTLINES, FLOWS)


def problems(text: str) -> str:
    with pytest.raises(SpecialistError) as err:
        parse(text)
    return str(err.value)


def test_the_shipped_directory_has_the_two_example_lines_and_3_to_5_specialists_per_department(shipped):
    assert [(x.id, x.name, x.queue, x.tag, x.ivr_flow, x.ivr_key) for x in shipped.lines] == [
        ("enterprise", "一企来", "enterprise", "企业", "main", "2"), ("talent", "尚贤", "talent", "尚贤", "yiqilai", "3")]
    assert all(3 <= len(d.specialists) <= 5 for d in shipped.departments)
    assert {"税务", "社保", "人才", "市场准入"} <= set(shipped.fields())
    assert all(d.hotline and HOTLINES.get(d.hotline).owner == d.name for d in shipped.departments)


def test_a_call_belongs_to_the_line_of_its_queue_else_of_its_latest_tag_else_the_public_line(shipped):
    assert shipped.line_for("enterprise", []).id == "enterprise"
    assert shipped.line_for("talent", ["企业", "尚贤"]).id == "talent"
    assert shipped.line_for("public", ["企业", "尚贤"]).id == "talent"     # key 3 under the enterprise menu
    assert shipped.line_for("public", ["企业"]).id == "enterprise"
    assert shipped.line_for(None, ["群众诉求"]).id == PUBLIC
    assert shipped.line_for("supervision", ()).name == "市民热线"


def test_offers_are_the_specialists_of_the_field_on_the_line_in_working_hours(shipped, calendar):
    assert [s.id for s in shipped.offer("税务", "enterprise", WEDNESDAY_10, calendar)] == ["tax-01", "tax-02", "tax-03"]
    assert [s.id for s in shipped.offer("税务", "public", WEDNESDAY_10, calendar)] == ["tax-01"]
    assert [s.id for s in shipped.offer("人才", "talent", WEDNESDAY_10, calendar)] == ["hrss-02", "hrss-03"]
    assert shipped.offer("人才", "public", WEDNESDAY_10, calendar) == []
    # office hours of the work calendar: lunch, a statutory holiday, a make-up Saturday
    assert shipped.offer("税务", "enterprise", WEDNESDAY_13, calendar) == []
    assert shipped.offer("税务", "enterprise", SPRING_FESTIVAL, calendar) == []
    # tax-03 keeps 09:00-12:00 and 14:00-17:00 on working days
    assert [s.id for s in shipped.offer("税务", "enterprise", MAKEUP_SATURDAY, calendar)] == ["tax-01", "tax-02", "tax-03"]
    assert [s.id for s in shipped.offer("税务", "enterprise", WEDNESDAY_10.replace(hour=17, minute=10), calendar)] == \
        ["tax-01", "tax-02"]


def test_the_last_resort_is_the_hotline_of_the_first_offered_specialists_department(shipped, calendar):
    offered = shipped.offer("社保", "enterprise", WEDNESDAY_10, calendar)
    assert shipped.last_resort("社保", "enterprise", offered) == "12333"
    assert shipped.last_resort("市场准入", "enterprise", []) == "12315"    # out of hours: still the department
    assert shipped.last_resort("天文", "enterprise", []) == ""


GOOD = """\
lines:
  - {id: enterprise, name: 一企来, queue: enterprise, tag: 企业, ivr: {flow: main, key: "2"}}
departments:
  - department: 地税局
    hotline: "12366"
    specialists:
      - {id: a, name: 甲, number: "1001", fields: [税务], lines: [enterprise]}
      - {id: b, name: 乙, dial: "PJSIP/b@pool", fields: [税务], lines: [public], working_hours: always}
      - {id: c, name: 丙, number: "1003", fields: [税务], lines: [enterprise], working_hours: ["09:00-11:00"]}
"""


def test_a_good_file_parses_and_a_dial_only_specialist_rings_through_extension_0():
    d = parse(GOOD)
    assert d.get("a").dial == "PJSIP/1001@specialists" and d.get("a").exten == "1001"
    assert (d.get("b").dial, d.get("b").exten) == ("PJSIP/b@pool", "0")


@pytest.mark.parametrize("change, expected", [
    (("fields: [税务], lines: [enterprise]}", "fields: [], lines: [enterprise]}"),
     "sp.yaml:7: specialist a: 'fields' must be a non-empty list"),
    (('number: "1001"', 'number: "10x1"'), "sp.yaml:7: specialist a: number must be digits"),
    (("{id: b,", "{id: a,"), "sp.yaml:8: specialist a: id is already used at line 7"),
    (("lines: [public]", "lines: [talent]"), "sp.yaml:8: specialist b: unknown line 'talent'"),
    (('hotline: "12366"', 'hotline: "12316"'), "sp.yaml:5: department 地税局: hotline 12316 is directly merged"),
    (('hotline: "12366"', 'hotline: "99999"'), "sp.yaml:5: department 地税局: hotline 99999 is not in"),
    (('["09:00-11:00"]', '["11:00-09:00"]'), "sp.yaml:9: specialist c: working hours '11:00-09:00': the end"),
    (('key: "2"', 'key: "7"'), "sp.yaml:2: line enterprise: flow 'main' has no menu choice '7'"),
    (("queue: enterprise, ", ""), "sp.yaml:2: line enterprise: 'queue' is required"),
    (("      - {id: c,", "      - {id: c, colour: red,"), "sp.yaml:9: specialist: unknown key 'colour'"),
    (('number: "1003", ', ''), "sp.yaml:9: specialist c: give a 'number' (digits) or a 'dial' string"),
    # two lines on one queue (or tag): the second one's calls would be counted on the first
    (("lines:\n", 'lines:\n  - {id: talent, name: 尚贤, queue: talent, tag: 尚贤, ivr: {flow: yiqilai, key: "3"}}\n'
      "  - {id: shangxian, name: 尚贤人才, queue: talent, tag: 人才, ivr: {flow: yiqilai, key: \"3\"}}\n"),
     "sp.yaml:3: line shangxian: queue 'talent' is line talent's already (line 2)"),
    (("lines:\n", 'lines:\n  - {id: talent, name: 尚贤, queue: talent, tag: 企业, ivr: {flow: yiqilai, key: "3"}}\n'),
     "sp.yaml:3: line enterprise: tag '企业' is line talent's already (line 2)"),
])
def test_each_problem_is_reported_with_file_and_line(change, expected):
    old, new = change
    assert old in GOOD
    assert expected in problems(GOOD.replace(old, new, 1))


def test_a_department_names_3_to_5_specialists():
    two = GOOD.replace("      - {id: c, name: 丙, number: \"1003\", fields: [税务], lines: [enterprise], "
                       "working_hours: [\"09:00-11:00\"]}\n", "")
    assert "sp.yaml:4: department 地税局: names 2 specialists; each department names 3-5" in problems(two)


def test_bad_yaml_names_the_line():
    assert problems("lines: [\n  - {id: x").startswith("sp.yaml:")


def test_the_check_command_passes_the_shipped_file_and_names_the_problem_of_a_bad_one(tmp_path):
    ok = subprocess.run([sys.executable, "-m", "cti.cli", "specialists", "check"], cwd=ROOT, capture_output=True,
                        text=True, timeout=60)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "10 specialists in 3 departments ok" in ok.stdout
    bad = tmp_path / "sp.yaml"
    bad.write_text(GOOD.replace('number: "1001"', 'number: "10x1"'), encoding="utf-8")
    out = subprocess.run([sys.executable, "-m", "cti.cli", "specialists", "check", str(bad)], cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 1 and f"{bad}:7: specialist a: number must be digits" in out.stdout, out.stdout
