"""Deadlines in working time on the shared calendar, and the deadline lights."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from cti.calendar import WorkCalendar
from cti.tickets import deadlines
from cti.tickets.models import Ticket
from cti.tickets.settings import LightThresholds, TicketsSettings

TZ = ZoneInfo("Asia/Shanghai")
SETTINGS = TicketsSettings()
OVERRIDE_2027 = """
years:
  2027:
    holidays:
      - {name: 国庆节, from: 2027-10-01, to: 2027-10-07}
    workdays:
      - {name: 国庆节, date: 2027-10-09}
"""


@pytest.fixture(scope="module")
def cal(tmp_path_factory):
    path = tmp_path_factory.mktemp("cal") / "override.yaml"
    path.write_text(OVERRIDE_2027, encoding="utf-8")
    return WorkCalendar.from_file(path, hours=["08:30-12:00", "13:30-17:30"])


def local(*args):
    return dt.datetime(*args, tzinfo=TZ)


def due(cal, created, request_type, urgency="normal"):
    d = deadlines.compute(cal, TZ, SETTINGS, created.astimezone(dt.UTC), request_type, urgency)
    return d.acknowledge_by.astimezone(TZ), d.answer_by.astimezone(TZ), d.return_by.astimezone(TZ)


def test_across_a_weekend(cal):
    ack, answer, back = due(cal, local(2025, 3, 14, 17, 0), "consultation")  # a Friday, 17:00
    assert ack == local(2025, 3, 17, 9, 0)          # 30 min on Friday, 30 min on Monday
    assert answer == local(2025, 3, 19, 17, 30)     # Mon, Tue, Wed
    assert back == local(2025, 3, 17, 17, 30)       # consultation: return within 1 working day


def test_other_types_get_five_days_and_two_for_a_return(cal):
    _, answer, back = due(cal, local(2025, 3, 14, 10, 0), "complaint")
    assert answer == local(2025, 3, 21, 17, 30)
    assert back == local(2025, 3, 18, 17, 30)


def test_across_a_statutory_holiday_with_a_make_up_saturday(cal):
    # 2025 National Day and Mid-autumn: 1-8 October off, Saturday 11 October a make-up working day.
    ack, answer, _ = due(cal, local(2025, 9, 30, 17, 10), "complaint")
    assert ack == local(2025, 10, 9, 9, 10)
    assert answer == local(2025, 10, 14, 17, 30)    # 9, 10, 11 (Saturday), 13, 14


def test_acknowledge_on_a_make_up_saturday(cal):
    ack, _, _ = due(cal, local(2025, 10, 10, 17, 0), "help")
    assert ack == local(2025, 10, 11, 9, 0)


def test_a_2027_date_from_the_override_file(cal):
    ack, answer, _ = due(cal, local(2027, 9, 30, 10, 0), "consultation")
    assert ack == local(2027, 9, 30, 11, 0)
    assert answer == local(2027, 10, 11, 17, 30)    # 8 Oct, Saturday 9 Oct (make-up), Monday 11


def test_the_time_limit_table_is_keyed_by_type_and_urgency(cal):
    s = TicketsSettings(time_limits={"default": {"answer_days": 5}, "complaint": {"answer_days": 7},
                                     "complaint:urgent": {"acknowledge_hours": 0.5, "answer_days": 1}})
    created = local(2025, 3, 17, 9, 0).astimezone(dt.UTC)
    assert deadlines.compute(cal, TZ, s, created, "complaint").answer_by.astimezone(TZ) == local(2025, 3, 26, 17, 30)
    urgent = deadlines.compute(cal, TZ, s, created, "complaint", "urgent")
    assert urgent.acknowledge_by.astimezone(TZ) == local(2025, 3, 17, 9, 30)
    assert urgent.answer_by.astimezone(TZ) == local(2025, 3, 18, 17, 30)
    assert deadlines.compute(cal, TZ, s, created, "help").answer_by.astimezone(TZ) == local(2025, 3, 24, 17, 30)


@pytest.mark.parametrize(("now", "light"), [
    (local(2025, 3, 17, 10, 0), "green"),    # 1.5 of 7.5 working hours used
    (local(2025, 3, 17, 14, 0), "yellow"),   # 4 h: past half
    (local(2025, 3, 17, 16, 30), "orange"),  # 6.5 h: past 80 %
    (local(2025, 3, 17, 17, 30), "red"),     # the deadline itself
])
def test_lights_follow_the_working_time_used(cal, now, light):
    start, deadline = local(2025, 3, 17, 8, 30), local(2025, 3, 17, 17, 30)
    assert deadlines.light_of(cal, TZ, LightThresholds(), start, deadline, now) == light


def test_a_weekend_does_not_use_up_the_time(cal):
    start, deadline = local(2025, 3, 14, 13, 30), local(2025, 3, 17, 12, 0)  # Friday afternoon to Monday noon
    sunday = local(2025, 3, 16, 12, 0)
    assert deadlines.working_seconds(cal, TZ, start, sunday) == 4 * 3600
    assert deadlines.light_of(cal, TZ, LightThresholds(yellow=0.6, orange=0.9), start, deadline, sunday) == "green"


def test_thresholds_are_settings():
    with pytest.raises(ValueError, match="orange"):
        LightThresholds(yellow=0.8, orange=0.5)


def test_ticket_light_is_the_worst_running_deadline_and_none_once_closed(cal):
    created = local(2025, 3, 17, 8, 30)
    d = deadlines.compute(cal, TZ, SETTINGS, created, "complaint")
    t = Ticket(status="delivered", created_at=created, acknowledge_by=d.acknowledge_by, answer_by=d.answer_by)
    two_hours_later = local(2025, 3, 17, 10, 30)
    assert deadlines.ticket_light(cal, TZ, SETTINGS.lights, t, two_hours_later) == "red"   # not signed in
    t.status = "acknowledged"
    assert deadlines.ticket_light(cal, TZ, SETTINGS.lights, t, two_hours_later) == "green"
    t.status = "closed"
    assert deadlines.ticket_light(cal, TZ, SETTINGS.lights, t, two_hours_later) is None
