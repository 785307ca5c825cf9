"""``cti specialists check [FILE]``: validate the specialist directory like the layer does at start
(against the hotline directory and the IVR flows the settings name)."""

from __future__ import annotations

import argparse

from cti.hotlines import HotlineError, load_directory
from cti.settings import ConfigError, load_settings
from cti.specialists import SpecialistError, load_specialists


def _check(args: argparse.Namespace) -> int:
    try:
        settings = load_settings(getattr(args, "config", None))
    except ConfigError as exc:
        print(exc)
        return 2
    path = args.file or settings.specialists
    try:
        hotlines = load_directory(settings.calls.hotlines_file)
        d = load_specialists(path, hotlines, settings.flows.flows_dir)
    except (HotlineError, SpecialistError) as exc:
        print(exc)
        return 1
    lines = ", ".join(f"{x.id} {x.name} (queue {x.queue}, tag {x.tag}, {x.ivr_flow} key {x.ivr_key})"
                      for x in d.lines)
    print(f"{path}: {len(d)} specialists in {len(d.departments)} departments ok; lines: {lines or 'none'}; "
          f"fields: {', '.join(d.fields())}")
    return 0


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("specialists", help="the specialist directory (config/specialists.yaml)")
    sub = p.add_subparsers(dest="specialists_command", required=True)
    check = sub.add_parser("check", help="validate the directory; non-zero exit with file:line on error")
    check.add_argument("file", nargs="?", help="default: the settings' specialists (config/specialists.yaml)")
    check.set_defaults(func=_check)
