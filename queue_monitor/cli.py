"""`cti report`: the queue report of the Nantong yearly report (话务服务) for any period, from stored calls, and
its requests by line (诉求总量, 在线答复, 部门办理, 在线解答率) from the dispositions in the tickets database."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time as _time
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from cti.dispositions.service import load_outcomes
from queue_monitor.dispositions import record_from
from queue_monitor.figures import Definitions
from queue_monitor.reports import render, report
from queue_monitor.storage import CallStore

log = logging.getLogger(__name__)


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("report", help="queue report (话务量, 接通率, 15 s / 10 s rates...), 部门热线 and requests by line (在线答复, 部门办理, 在线解答率) for a period")
    p.add_argument("--from", dest="start", required=True, type=_date, help="first day, YYYY-MM-DD (local time)")
    p.add_argument("--to", dest="end", required=True, type=_date, help="last day included, YYYY-MM-DD")
    p.add_argument("--queue", help="only this queue")
    p.add_argument("--format", choices=["table", "csv", "json"], default="table")
    p.add_argument("--denominator", choices=["answered", "offered", "offered_minus_short_abandons", "asterisk_sl2"],
                   help="answer-rate denominator (default: monitor.denominator)")
    p.add_argument("--rounding", choices=["exact", "asterisk"], help="default: monitor.rounding")
    p.set_defaults(func=cmd_report)


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-01-31") from None


EARLIEST = date(2000, 1, 1)     # before any 12345 centre recorded a call through this layer
MAX_DAYS = 3700                 # about ten years: the longest period a report covers


def period_problem(start: date, end: date, names: tuple[str, str] = ("--from", "--to")) -> tuple[str, str] | None:
    """(parameter, message) when [start, end] cannot be a report's period: inverted, before 2000-01-01,
    after next year, or longer than MAX_DAYS; ``names``: how the caller calls the two parameters."""
    first, last = names
    if end < start:
        return last, f"{last} {end} is before {first} {start}"
    if start < EARLIEST:
        return first, f"{first} {start} is before {EARLIEST}: no call can be stored that early"
    latest = date(date.today().year + 1, 12, 31)
    if end > latest:
        return last, f"{last} {end} is after {latest}: no call can be stored that late"
    days = (end - start).days + 1
    if days > MAX_DAYS:
        return last, f"{first} {start} {last} {end} spans {days} days; a report covers at most {MAX_DAYS} (about ten years)"
    return None


def queue_problem(queue: str | None, known: set[str]) -> str | None:
    """A message when ``queue`` is given and is not a known queue (configured or in the stored calls)."""
    if queue and queue not in known:
        return f"unknown queue {queue!r}; known queues: {', '.join(sorted(known)) or '(none)'}"
    return None


def known_queues(settings, stored: list[str]) -> set[str]:
    """The queues a report may name: those a flow may send callers to (flows.queues), the outbound part's
    inbound queues, and those of stored calls (a queue renamed since still has its history)."""
    configured = set(getattr(getattr(settings, "flows", None), "queues", []) or [])
    configured |= set(getattr(getattr(settings, "outbound", None), "inbound_queues", []) or [])
    return configured | set(stored)


def definitions(monitor, denominator: str | None = None, rounding: str | None = None) -> Definitions:
    return Definitions(service_level=monitor.service_level_seconds,
                       short_service_level=monitor.short_service_level_seconds,
                       short_abandon=monitor.short_abandon_seconds,
                       denominator=denominator or monitor.denominator, rounding=rounding or monitor.rounding)


def period(start: date, end: date, timezone: str) -> tuple[float, float]:
    tz = ZoneInfo(timezone)
    return (datetime.combine(start, time(), tz).timestamp(),
            datetime.combine(end + timedelta(days=1), time(), tz).timestamp())


async def build_report(monitor, start: float, end: float, queue: str | None = None,
                       denominator: str | None = None, rounding: str | None = None, settings=None) -> dict:
    """The report; ValueError naming the known queues when ``queue`` is none of them."""
    store = CallStore(monitor.database_url)
    try:
        await store.create()
        problem = queue_problem(queue, known_queues(settings, await store.queues()))
        if problem:
            raise ValueError(problem)
        calls = await store.calls(start, end, queue)
        legs = [] if queue else await store.legs(start, end)   # department legs belong to no 12345 queue
        linkage = [] if queue else await store.linkage(start, end)
        followups = [] if queue else await store.followups(start, end)
    finally:
        await store.close()
    return report(calls, definitions(monitor, denominator, rounding), start, end, legs, linkage, followups,
                  await stored_dispositions(settings, start, end, queue))


async def stored_dispositions(settings, start: float, end: float, queue: str | None = None,
                              instance: str | None = None) -> list:
    """The dispositions (话后小结) of calls that ended in [start, end), from the tickets database; a call still
    in its wrap-up window is left out, one past it without a disposition counts as not recorded;
    ``instance``: only those that layer instance recorded or swept."""
    tickets, dispositions = getattr(settings, "tickets", None), getattr(settings, "dispositions", None)
    if tickets is None or dispositions is None:
        return []
    found = await load_outcomes(tickets.database_url, start, end, _time.time(), dispositions.wrapup_window, queue,
                                instance)
    return [record_from(o, o.ended_at) for o in found]


def cmd_report(args: argparse.Namespace) -> int:
    from cti.settings import ConfigError, load_settings
    try:
        settings = load_settings(getattr(args, "config", None))
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    problem = period_problem(args.start, args.end)
    if problem:
        print(f"cti report: {problem[1]}", file=sys.stderr)
        return 2
    m = settings.monitor
    start, end = period(args.start, args.end, m.timezone)
    try:
        rep = asyncio.run(build_report(m, start, end, args.queue, args.denominator, args.rounding, settings))
    except ValueError as exc:   # an unknown queue: say which are known
        print(f"cti report: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # an unreachable database is a message, not a traceback
        log.exception("report failed")
        print(f"report failed: {exc}", file=sys.stderr)
        return 1
    rep["from_date"], rep["to_date"] = args.start.isoformat(), args.end.isoformat()
    sys.stdout.write(render(rep, args.format))
    return 0
