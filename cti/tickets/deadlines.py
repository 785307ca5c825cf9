"""Deadlines in working time (the shared work calendar) and deadline lights. Pure functions.

Acknowledge (签收) within N working hours of creation; answer (办结) and return (退回) limits are
counted in working days: the deadline is the end of the Nth working day after the day of receipt.
Lights: green until ``lights.yellow`` of the allowed working time is used, yellow, orange from
``lights.orange``, red once a deadline has passed. Times are UTC outside, local inside the calendar.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from zoneinfo import ZoneInfo

from cti.calendar import WorkCalendar
from cti.tickets.models import Ticket
from cti.tickets.service import Deadlines
from cti.tickets.settings import LightThresholds, TicketsSettings

GREEN, YELLOW, ORANGE, RED = "green", "yellow", "orange", "red"
_RANK = {None: -1, GREEN: 0, YELLOW: 1, ORANGE: 2, RED: 3}


def end_of_working_day(cal: WorkCalendar, day: dt.date, tz: dt.tzinfo) -> dt.datetime:
    return dt.datetime.combine(day, cal.hours[-1][1], tzinfo=tz)


def compute(cal: WorkCalendar, tz: dt.tzinfo, settings: TicketsSettings, created: dt.datetime,
            request_type: str, urgency: str = "normal") -> Deadlines:
    limit = settings.time_limit(request_type, urgency)
    local = created.astimezone(tz)
    ack = cal.add_working_hours(local, limit.acknowledge_hours)
    answer = end_of_working_day(cal, cal.add_working_days(local.date(), limit.answer_days), tz)
    back = end_of_working_day(cal, cal.add_working_days(local.date(), limit.return_days), tz)
    return Deadlines(ack.astimezone(dt.UTC), answer.astimezone(dt.UTC), back.astimezone(dt.UTC))


def working_seconds(cal: WorkCalendar, tz: dt.tzinfo, start: dt.datetime, end: dt.datetime) -> float:
    """Working time between two instants, in seconds (0 when ``end`` is not after ``start``)."""
    a, b = start.astimezone(tz), end.astimezone(tz)
    total = 0.0
    day = a.date()
    while day <= b.date():
        if cal.is_working_day(day):
            for s, e in cal.hours:
                lo = max(a, dt.datetime.combine(day, s, tzinfo=tz))
                hi = min(b, dt.datetime.combine(day, e, tzinfo=tz))
                if hi > lo:
                    total += (hi - lo).total_seconds()
        day += dt.timedelta(days=1)
    return total


def light_of(cal: WorkCalendar, tz: dt.tzinfo, thresholds: LightThresholds, start: dt.datetime,
             deadline: dt.datetime, now: dt.datetime) -> str:
    if now >= deadline:
        return RED
    allowed = working_seconds(cal, tz, start, deadline)
    used = working_seconds(cal, tz, start, now) / allowed if allowed > 0 else 1.0
    if used >= thresholds.orange:
        return ORANGE
    if used >= thresholds.yellow:
        return YELLOW
    return GREEN


def ticket_light(cal: WorkCalendar, tz: dt.tzinfo, thresholds: LightThresholds, t: Ticket,
                 now: dt.datetime) -> str | None:
    """The worst light over the deadlines still running; None once the ticket is closed."""
    if t.status == "closed":
        return None
    running = []
    if t.status in ("created", "delivered") and t.acknowledge_by is not None:
        running.append(t.acknowledge_by)
    if t.answer_by is not None:
        running.append(t.answer_by)
    lights = [light_of(cal, tz, thresholds, t.created_at, d, now) for d in running]
    return max(lights, key=_RANK.__getitem__, default=None)


def calendar_for(flows) -> tuple[WorkCalendar, dt.tzinfo]:
    """The calendar shared with the IVR: the ``flows:`` section's hours, zone and override file."""
    cal = WorkCalendar.from_file(getattr(flows, "calendar_override", "config/calendar-override.yaml"),
                                 hours=getattr(flows, "working_hours", None),
                                 warn_days=getattr(flows, "calendar_warn_days", 90))
    return cal, ZoneInfo(getattr(flows, "timezone", "Asia/Shanghai"))


def for_settings(settings: TicketsSettings, cal: WorkCalendar, tz: dt.tzinfo
                 ) -> Callable[[dt.datetime, str, str], Deadlines]:
    return lambda created, request_type, urgency: compute(cal, tz, settings, created, request_type, urgency)


def light_for_settings(settings: TicketsSettings, cal: WorkCalendar, tz: dt.tzinfo
                       ) -> Callable[[Ticket, dt.datetime], str | None]:
    return lambda t, now: ticket_light(cal, tz, settings.lights, t, now)
