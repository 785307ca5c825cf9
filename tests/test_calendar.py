"""The work calendar: statutory holidays, make-up working days, the override file, the known range."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import pytest

from cti.calendar import CalendarError, WorkCalendar, load_override

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "config" / "calendar-override.yaml"
D = dt.date.fromisoformat


@pytest.fixture(scope="module")
def cal() -> WorkCalendar:
    return WorkCalendar.from_file(SHIPPED)


@pytest.mark.parametrize("day", ["2026-01-04", "2026-02-14", "2026-02-28", "2026-05-09", "2026-09-20", "2026-10-10"])
def test_2026_make_up_weekend_days_are_working_days(cal, day):
    assert D(day).weekday() >= 5
    assert cal.is_working_day(D(day)) and cal.is_makeup_day(D(day)) and not cal.is_holiday(D(day))


@pytest.mark.parametrize("day,name", [("2026-02-16", "春节"), ("2026-10-01", "国庆节"), ("2026-01-01", "元旦"),
                                      ("2026-10-07", "国庆节")])
def test_2026_statutory_holidays_are_days_off(cal, day, name):
    assert not cal.is_working_day(D(day)) and cal.holiday_name(D(day)) == name


def test_plain_weekends_and_weekdays(cal):
    assert not cal.is_working_day(D("2026-03-01")) and not cal.is_holiday(D("2026-03-01"))  # Sunday
    assert cal.is_working_day(D("2026-03-02"))


def test_2027_comes_from_the_override_file_only(cal):
    assert cal.knows(D("2027-02-08"))
    assert cal.holiday_name(D("2027-02-08")) == "春节"                 # a Monday off
    assert cal.is_working_day(D("2027-02-20")) and cal.is_makeup_day(D("2027-02-20"))   # a Saturday at work
    assert cal.is_working_day(D("2027-03-01"))
    assert cal.known_range == (D("2004-01-01"), D("2027-12-31"))
    bare = WorkCalendar()
    assert not bare.knows(D("2027-02-08")) and bare.known_range[1] == D("2026-12-31")


def test_working_time_uses_hours_and_days(cal):
    tz = dt.timezone(dt.timedelta(hours=8))
    assert cal.is_working_time(dt.datetime(2026, 2, 14, 9, 0, tzinfo=tz))        # make-up Saturday
    assert not cal.is_working_time(dt.datetime(2026, 2, 14, 12, 30, tzinfo=tz))  # lunch
    assert not cal.is_working_time(dt.datetime(2026, 2, 14, 17, 30, tzinfo=tz))  # closing time
    assert not cal.is_working_time(dt.datetime(2026, 2, 16, 10, 0, tzinfo=tz))   # Spring Festival


def test_add_working_days_skips_the_national_day_week(cal):
    assert cal.add_working_days(D("2026-09-30"), 1) == D("2026-10-08")
    assert cal.add_working_days(D("2026-10-09"), 1) == D("2026-10-10")       # the make-up Saturday counts
    assert cal.add_working_days(D("2026-03-02"), 0) == D("2026-03-02")


def test_add_working_hours_crosses_lunch_nights_and_holidays(cal):
    tz = dt.timezone(dt.timedelta(hours=8))
    start = dt.datetime(2026, 3, 2, 11, 30, tzinfo=tz)
    assert cal.add_working_hours(start, 1) == dt.datetime(2026, 3, 2, 14, 0, tzinfo=tz)
    friday = dt.datetime(2026, 9, 30, 17, 0, tzinfo=tz)
    assert cal.add_working_hours(friday, 1) == dt.datetime(2026, 10, 8, 9, 0, tzinfo=tz)


def test_the_end_of_the_known_range_is_announced_loudly(cal, caplog):
    bare = WorkCalendar(warn_days=90)
    assert bare.range_warning(D("2026-06-01")) is None
    with caplog.at_level(logging.WARNING, "cti.calendar"):
        message = bare.check_range(D("2026-11-15"))
    assert "ends 2026-12-31, in 46 days" in message and caplog.records[-1].levelno == logging.WARNING
    with caplog.at_level(logging.WARNING, "cti.calendar"):
        assert "past the known range" in bare.check_range(D("2027-01-05"))
    assert caplog.records[-1].levelno == logging.ERROR
    assert "provisional" in cal.range_warning(D("2026-11-15"))


def test_a_date_beyond_everything_known_falls_back_to_weekdays_with_an_error(caplog):
    bare = WorkCalendar()
    with caplog.at_level(logging.ERROR, "cti.calendar"):
        assert bare.is_working_day(D("2027-02-08"))
        assert not bare.is_working_day(D("2027-02-06"))
    assert sum("2027 is unknown" in r.getMessage() for r in caplog.records) == 1   # once per year


def test_override_dates_and_errors(tmp_path):
    path = tmp_path / "o.yaml"
    path.write_text("dates:\n  holidays: [{name: 台风停工, date: 2026-07-20}]\n  workdays: [2026-03-07]\n",
                    encoding="utf-8")
    cal = WorkCalendar.from_file(path)
    assert cal.holiday_name(D("2026-07-20")) == "台风停工" and cal.is_working_day(D("2026-03-07"))
    path.write_text("years:\n  2028:\n    holidays: [2027-05-01]\n", encoding="utf-8")
    with pytest.raises(CalendarError, match=r"years.2028.holidays\[0\]: 2027-05-01 is not in 2028"):
        load_override(path)
    path.write_text("dates:\n  holidays: [{from: 2026-07-20, to: 2026-07-19}]\n", encoding="utf-8")
    with pytest.raises(CalendarError, match="before"):
        load_override(path)
