"""The work calendar: China's statutory holidays and make-up working days (调休), plus an admin override.

``chinesecalendar`` knows the State Council's arrangements for 2004-2026; later years come from the
override file (``config/calendar-override.yaml``), which may also correct single dates of any year
(an extra day off for a typhoon, a local holiday). A date beyond everything known falls back to the
Monday-Friday rule with a loud ERROR, and ``range_warning(today)`` says so months before it happens.

    cal = WorkCalendar.from_file("config/calendar-override.yaml")
    cal.is_working_day(date(2026, 2, 14))           # True: a make-up Saturday
    cal.is_working_time(datetime(2026, 2, 16, 10))  # False: Spring Festival
    cal.add_working_days(date(2026, 9, 30), 3)      # skips the National Day week
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from pathlib import Path

import yaml

log = logging.getLogger(__name__)

# Office hours of the 12345 departments (the hotline itself answers around the clock).
DEFAULT_HOURS: tuple[tuple[dt.time, dt.time], ...] = ((dt.time(8, 30), dt.time(12, 0)),
                                                       (dt.time(13, 30), dt.time(17, 30)))
DEFAULT_WARN_DAYS = 90
# chinesecalendar names holidays in English; supervisors read Chinese.
HOLIDAY_NAMES = {"New Year's Day": "元旦", "Spring Festival": "春节", "Tomb-sweeping Day": "清明节",
                 "Labour Day": "劳动节", "Dragon Boat Festival": "端午节", "National Day": "国庆节",
                 "Mid-autumn Festival": "中秋节", "Anti-Fascist 70th Day": "抗战胜利70周年纪念日"}


class CalendarError(ValueError):
    """The override file or the working hours cannot be used; the message says where."""


@dataclass(frozen=True)
class Override:
    """Admin-supplied days: ``holidays`` (date -> name) are days off, ``workdays`` make-up working days."""

    holidays: dict[dt.date, str] = field(default_factory=dict)
    workdays: dict[dt.date, str] = field(default_factory=dict)
    years: frozenset[int] = frozenset()          # years the file defines completely
    provisional: frozenset[int] = frozenset()    # of those, years not yet officially published


def _package_tables() -> tuple[dict[dt.date, str], dict[dt.date, str], int, int]:
    try:
        import chinese_calendar
    except ImportError:  # the layer still runs, on the override file alone
        log.error("chinesecalendar is not installed: the work calendar knows only the override file")
        return {}, {}, 0, -1
    holidays = {d: HOLIDAY_NAMES.get(str(h), str(h)) for d, h in chinese_calendar.holidays.items()}
    workdays = {d: HOLIDAY_NAMES.get(str(h), str(h)) for d, h in chinese_calendar.workdays.items()}
    years = [d.year for d in holidays]
    return holidays, workdays, min(years), max(years)


def _parse_date(value: object, where: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise CalendarError(f"{where}: {value!r} is not a date (YYYY-MM-DD)") from None


def _expand(entry: object, where: str) -> tuple[list[dt.date], str]:
    """``2027-01-01`` | ``{name, date}`` | ``{name, from, to}`` -> (dates, name)."""
    if not isinstance(entry, dict):
        return [_parse_date(entry, where)], ""
    name = str(entry.get("name", ""))
    if "date" in entry:
        return [_parse_date(entry["date"], where)], name
    if "from" in entry and "to" in entry:
        start, end = _parse_date(entry["from"], where), _parse_date(entry["to"], where)
        if end < start:
            raise CalendarError(f"{where}: 'to' {end} is before 'from' {start}")
        return [start + dt.timedelta(days=i) for i in range((end - start).days + 1)], name
    raise CalendarError(f"{where}: an entry needs 'date' or 'from' and 'to'")


def load_override(path: str | Path) -> Override:
    """Read the override file; a missing file is an empty override, a broken one a CalendarError."""
    path = Path(path)
    if not path.exists():
        return Override()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise CalendarError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise CalendarError(f"{path}: the top level must be a mapping")
    holidays: dict[dt.date, str] = {}
    workdays: dict[dt.date, str] = {}
    years: set[int] = set()
    provisional: set[int] = set()
    sections = [(f"{path}: years.{y}", y, body) for y, body in (data.get("years") or {}).items()]
    sections.append((f"{path}: dates", None, data.get("dates") or {}))
    for where, year, body in sections:
        if not isinstance(body, dict):
            raise CalendarError(f"{where}: must be a mapping with 'holidays' and 'workdays'")
        if year is not None:
            try:
                year = int(year)
            except ValueError:
                raise CalendarError(f"{where}: {year!r} is not a year") from None
            years.add(year)
            if str(body.get("status", "official")).lower() != "official":
                provisional.add(year)
        for key, table in (("holidays", holidays), ("workdays", workdays)):
            for i, entry in enumerate(body.get(key) or []):
                dates, name = _expand(entry, f"{where}.{key}[{i}]")
                for day in dates:
                    if year is not None and day.year != year:
                        raise CalendarError(f"{where}.{key}[{i}]: {day} is not in {year}")
                    table[day] = name or key[:-1]
    both = sorted(set(holidays) & set(workdays))
    if both:
        raise CalendarError(f"{path}: {both[0]} is listed both as a holiday and as a working day")
    return Override(holidays, workdays, frozenset(years), frozenset(provisional))


def parse_hours(spans: list[str] | tuple[str, ...]) -> tuple[tuple[dt.time, dt.time], ...]:
    """``["08:30-12:00", "13:30-17:30"]`` -> sorted (start, end) pairs; a bad span is a CalendarError."""
    out = []
    for span in spans:
        try:
            a, b = (dt.time.fromisoformat(p.strip()) for p in str(span).split("-", 1))
        except ValueError:
            raise CalendarError(f"working hours {span!r}: expected HH:MM-HH:MM") from None
        if b <= a:
            raise CalendarError(f"working hours {span!r}: the end is not after the start")
        out.append((a, b))
    out.sort()
    for (_, end), (start, _) in zip(out, out[1:], strict=False):
        if start < end:
            raise CalendarError(f"working hours {spans!r}: spans overlap")
    return tuple(out)


class WorkCalendar:
    """Working days and hours; pure lookups once built (no I/O, no clock)."""

    def __init__(self, override: Override | None = None,
                 hours: tuple[tuple[dt.time, dt.time], ...] = DEFAULT_HOURS,
                 warn_days: int = DEFAULT_WARN_DAYS) -> None:
        self.override = override or Override()
        self.hours = hours
        self.warn_days = warn_days
        self._holidays, self._workdays, first, last = _package_tables()
        self.package_years = (first, last)
        years = set(range(first, last + 1)) | set(self.override.years)
        self._years = frozenset(years)
        self._warned_years: set[int] = set()
        self.first_known = dt.date(min(years), 1, 1) if years else None
        # The known range ends with the last year of an unbroken run from the first known year.
        end = min(years) if years else None
        while end is not None and end + 1 in years:
            end += 1
        self.last_known = dt.date(end, 12, 31) if end is not None else None

    @classmethod
    def from_file(cls, path: str | Path | None, hours: list[str] | tuple[str, ...] | None = None,
                  warn_days: int = DEFAULT_WARN_DAYS) -> WorkCalendar:
        override = load_override(path) if path else Override()
        return cls(override, parse_hours(hours) if hours else DEFAULT_HOURS, warn_days)

    # --- days ------------------------------------------------------------------------------------
    def knows(self, day: dt.date) -> bool:
        return day.year in self._years

    @property
    def known_range(self) -> tuple[dt.date | None, dt.date | None]:
        return self.first_known, self.last_known

    def _unknown(self, day: dt.date) -> None:
        if day.year not in self._warned_years:
            self._warned_years.add(day.year)
            log.error("WORK CALENDAR: %d is unknown (known up to %s): weekends-only rule used; add %d to "
                      "the calendar override file", day.year, self.last_known, day.year)

    def is_working_day(self, day: dt.date) -> bool:
        if isinstance(day, dt.datetime):
            day = day.date()
        if day in self.override.workdays:
            return True
        if day in self.override.holidays:
            return False
        if day.year in self.override.years:
            return day.weekday() < 5
        if not self.knows(day):
            self._unknown(day)
            return day.weekday() < 5
        if day in self._workdays:
            return True
        if day in self._holidays:
            return False
        return day.weekday() < 5

    def holiday_name(self, day: dt.date) -> str | None:
        """The statutory holiday ``day`` belongs to (a day off of its arrangement), else None."""
        if isinstance(day, dt.datetime):
            day = day.date()
        if day in self.override.workdays:
            return None
        if day in self.override.holidays:
            return self.override.holidays[day]
        if day.year in self.override.years:
            return None
        return self._holidays.get(day)

    def is_holiday(self, day: dt.date) -> bool:
        """A statutory holiday's day off (weekends outside a holiday arrangement are not holidays)."""
        return self.holiday_name(day) is not None

    def is_makeup_day(self, day: dt.date) -> bool:
        """A weekend day that is a working day (调休上班)."""
        if isinstance(day, dt.datetime):
            day = day.date()
        return day.weekday() >= 5 and self.is_working_day(day)

    def add_working_days(self, day: dt.date, days: int) -> dt.date:
        """The date ``days`` working days after ``day`` (``day`` itself not counted)."""
        if days < 0:
            raise ValueError("days must be >= 0")
        current = day
        while days:
            current += dt.timedelta(days=1)
            if self.is_working_day(current):
                days -= 1
        return current

    # --- hours ----------------------------------------------------------------------------------
    def is_working_time(self, when: dt.datetime) -> bool:
        if not self.is_working_day(when.date()):
            return False
        t = when.time()
        return any(start <= t < end for start, end in self.hours)

    def add_working_hours(self, when: dt.datetime, hours: float) -> dt.datetime:
        """The moment ``hours`` of working time after ``when`` (counting only working hours)."""
        if hours < 0:
            raise ValueError("hours must be >= 0")
        left = dt.timedelta(hours=hours)
        day, t = when.date(), when.time()
        for _ in range(3700):  # ten years of days: a bounded walk
            if self.is_working_day(day):
                for start, end in self.hours:
                    if t >= end:
                        continue
                    begin = max(t, start)
                    span = dt.datetime.combine(day, end) - dt.datetime.combine(day, begin)
                    if left <= span:
                        return dt.datetime.combine(day, begin, tzinfo=when.tzinfo) + left
                    left -= span
            day += dt.timedelta(days=1)
            t = dt.time(0, 0)
        raise ValueError("working hours run out within ten years: check the calendar")

    # --- the end of what we know ---------------------------------------------------------------
    def range_warning(self, today: dt.date) -> str | None:
        """A message when ``today`` is within ``warn_days`` of the end of the known range (or past it)."""
        if self.last_known is None:
            return "WORK CALENDAR: no calendar data at all; install chinesecalendar or fill the override file"
        left = (self.last_known - today).days
        year = self.last_known.year + 1
        if left < 0:
            return (f"WORK CALENDAR: today is past the known range (ends {self.last_known}): holidays and "
                    f"make-up days of {today.year} are unknown; add them to the calendar override file")
        if left <= self.warn_days:
            return (f"WORK CALENDAR: the known range ends {self.last_known}, in {left} days: add the "
                    f"{year} holidays and make-up days to the calendar override file")
        provisional = sorted(y for y in self.override.provisional if y <= today.year + 1)
        if provisional:
            return (f"WORK CALENDAR: {', '.join(map(str, provisional))} in the override file is provisional: "
                    "replace it with the State Council's notice when published")
        return None

    def check_range(self, today: dt.date) -> str | None:
        """Log :meth:`range_warning` loudly (ERROR past the range, WARNING before) and return it."""
        message = self.range_warning(today)
        if message:
            past = self.last_known is None or today > self.last_known
            log.log(logging.ERROR if past else logging.WARNING, "%s", message)
        return message
