"""``cti hotlines check [FILE]``: validate the hotline directory like the layer does at start."""

from __future__ import annotations

import argparse

from cti.hotlines import DIRECT, EMERGENCY, PARALLEL, HotlineError, load_directory


def _check(args: argparse.Namespace) -> int:
    path = args.file or "config/hotlines.yaml"
    try:
        d = load_directory(path)
    except HotlineError as exc:
        print(exc)
        return 1
    print(f"{path}: {len(d)} hotlines ok ({len(d.of_kind(DIRECT))} direct-merged, "
          f"{len(d.of_kind(PARALLEL))} parallel-merged, {len(d.of_kind(EMERGENCY))} emergency)")
    return 0


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("hotlines", help="the hotline directory (config/hotlines.yaml)")
    sub = p.add_subparsers(dest="hotlines_command", required=True)
    check = sub.add_parser("check", help="validate the directory; non-zero exit with file:line on error")
    check.add_argument("file", nargs="?", help="default: config/hotlines.yaml")
    check.set_defaults(func=_check)
