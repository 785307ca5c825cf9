"""``cti recordings list|retry``: what the pipeline holds, and a second chance for failed conversions."""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime
from zoneinfo import ZoneInfo

from recordings.catalogue import STATUSES, Catalogue
from recordings.settings import RecordingsSettings


def _all_settings(args: argparse.Namespace):
    from cti.settings import ConfigError, load_settings
    try:
        return load_settings(getattr(args, "config", None))
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        raise SystemExit(2) from None


def _settings(args: argparse.Namespace) -> RecordingsSettings:
    return getattr(_all_settings(args), "recordings", None) or RecordingsSettings()


STATUS_LABELS = {"pending": "待转换 pending", "ready": "就绪 ready", "failed": "失败 failed",
                 "deleted": "已删除 deleted", "empty": "无人接听 empty"}
COLUMNS = [("uniqueid", "录音 uniqueid"), ("status", "状态 status"), ("captured", "录制时间 captured"),
           ("duration", "时长 s"), ("size", "大小 KB"), ("format", "格式 format"), ("note", "说明 note")]


def _row(rec, tz: ZoneInfo) -> dict:
    note = rec.last_error or ("" if rec.status != "pending" else f"attempt {rec.attempts + 1}")
    return {"uniqueid": rec.uniqueid, "status": STATUS_LABELS.get(rec.status, rec.status),
            "captured": datetime.fromtimestamp(rec.captured_at, tz).strftime("%Y-%m-%d %H:%M:%S"),
            "duration": "-" if rec.duration is None else f"{rec.duration:.1f}",
            "size": "-" if rec.size is None else f"{rec.size / 1024:.0f}", "format": rec.format or "-",
            "note": note[:60]}


def cmd_list(args: argparse.Namespace) -> int:
    """A table for a person (times in monitor.timezone, the centre's), or JSON lines (--format json) for
    a program; counts by status after the table (on stderr with JSON, so stdout stays one object a line)."""
    settings = _all_settings(args)
    s = getattr(settings, "recordings", None) or RecordingsSettings()
    if not s.catalogue.exists():
        print(f"no catalogue at {s.catalogue}: nothing recorded yet", file=sys.stderr)
        return 0
    cat = Catalogue(s.catalogue)
    try:
        rows, counts = cat.listing(args.status, args.limit), cat.counts()
    finally:
        cat.close()
    if args.format == "json":
        for rec in rows:
            print(json.dumps(rec.as_json(), ensure_ascii=False))
        print(json.dumps(counts), file=sys.stderr)
        return 0
    from queue_monitor.reports import text_table

    tz = ZoneInfo(settings.monitor.timezone)
    sys.stdout.write(text_table(COLUMNS, [_row(r, tz) for r in rows]) if rows else "(no recordings)\n")
    total = "; ".join(f"{STATUS_LABELS.get(k, k)} {n}" for k, n in sorted(counts.items()))
    print(f"{len(rows)} shown, newest first (--limit {args.limit}); in the catalogue: {total or 'none'}")
    return 0


def cmd_retry(args: argparse.Namespace) -> int:
    s = _settings(args)
    cat = Catalogue(s.catalogue)
    try:
        ids = args.uniqueid or [r.uniqueid for r in cat.listing("failed", 100_000)]
        done = [uid for uid in ids if cat.retry(uid, time.time())]
    finally:
        cat.close()
    for uid in set(ids) - set(done):
        print(f"{uid}: not a failed recording", file=sys.stderr)
    print(f"{len(done)} recording(s) queued again; a running layer converts them within a second")
    return 0 if len(done) == len(ids) else 1


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("recordings", help="call recordings: list, retry failed conversions")
    p.add_argument("--config", help="settings file (default: config/cti.yaml or $CTI_CONFIG)")
    sub = p.add_subparsers(dest="recordings_command", required=True)
    q = sub.add_parser("list", help="recordings, newest first: a table with counts by status "
                                    "(--format json: JSON lines, counts on stderr)")
    q.add_argument("--status", choices=STATUSES)
    q.add_argument("--limit", type=int, default=50)
    q.add_argument("--format", choices=["table", "json"], default="table")
    q.set_defaults(func=cmd_list)
    q = sub.add_parser("retry", help="queue failed conversions again (all failed ones when no id is given)")
    q.add_argument("uniqueid", nargs="*")
    q.set_defaults(func=cmd_retry)
