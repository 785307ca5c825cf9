"""`cti report`: the queue report of the Nantong yearly report (话务服务) for any period, from stored calls."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from queue_monitor.figures import Definitions
from queue_monitor.reports import render, report
from queue_monitor.storage import CallStore

log = logging.getLogger(__name__)


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("report", help="queue report (话务量, 接通率, 15 s / 10 s rates...) and 部门热线 for a period")
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
                       denominator: str | None = None, rounding: str | None = None) -> dict:
    store = CallStore(monitor.database_url)
    try:
        await store.create()
        calls = await store.calls(start, end, queue)
        legs = [] if queue else await store.legs(start, end)   # department legs belong to no 12345 queue
        linkage = [] if queue else await store.linkage(start, end)
        followups = [] if queue else await store.followups(start, end)
    finally:
        await store.close()
    return report(calls, definitions(monitor, denominator, rounding), start, end, legs, linkage, followups)


def cmd_report(args: argparse.Namespace) -> int:
    from cti.settings import ConfigError, load_settings
    try:
        settings = load_settings(getattr(args, "config", None))
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    if args.end < args.start:
        print("--to is before --from", file=sys.stderr)
        return 2
    m = settings.monitor
    start, end = period(args.start, args.end, m.timezone)
    try:
        rep = asyncio.run(build_report(m, start, end, args.queue, args.denominator, args.rounding))
    except Exception as exc:  # an unreachable database is a message, not a traceback
        log.exception("report failed")
        print(f"report failed: {exc}", file=sys.stderr)
        return 1
    rep["from_date"], rep["to_date"] = args.start.isoformat(), args.end.isoformat()
    sys.stdout.write(render(rep, args.format))
    return 0
