"""``cti recordings list|retry``: what the pipeline holds, and a second chance for failed conversions."""

from __future__ import annotations

import argparse
import json
import sys
import time

from recordings.catalogue import STATUSES, Catalogue
from recordings.settings import RecordingsSettings


def _settings(args: argparse.Namespace) -> RecordingsSettings:
    from cti.settings import ConfigError, load_settings
    try:
        settings = load_settings(getattr(args, "config", None))
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        raise SystemExit(2) from None
    return getattr(settings, "recordings", None) or RecordingsSettings()


def cmd_list(args: argparse.Namespace) -> int:
    s = _settings(args)
    if not s.catalogue.exists():
        print(f"no catalogue at {s.catalogue}: nothing recorded yet", file=sys.stderr)
        return 0
    cat = Catalogue(s.catalogue)
    try:
        for rec in cat.listing(args.status, args.limit):
            print(json.dumps(rec.as_json(), ensure_ascii=False))
        print(json.dumps(cat.counts()), file=sys.stderr)
    finally:
        cat.close()
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
    q = sub.add_parser("list", help="recordings as JSON lines, newest first; counts by status on stderr")
    q.add_argument("--status", choices=STATUSES)
    q.add_argument("--limit", type=int, default=50)
    q.set_defaults(func=cmd_list)
    q = sub.add_parser("retry", help="queue failed conversions again (all failed ones when no id is given)")
    q.add_argument("uniqueid", nargs="*")
    q.set_defaults(func=cmd_retry)
