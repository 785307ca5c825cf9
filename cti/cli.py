"""The `cti` command: run, demo, check-config, agi-script, and the subcommands of the parts."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import importlib
import logging
import os
import re
import signal
import sys

from cti import logs
from cti.settings import ConfigError, load_settings

# Each part owns its subcommands: simulate-pbx, outbox, flows, prompts, report, hotlines, recordings,
# campaigns. "module" registers with its add_parser, "module:function" with that function.
PART_COMMANDS = ("cti.simulator.cli", "cti.tickets.cli", "ivr_flows.cli", "ivr_flows.cli:add_prompts_parser",
                 "queue_monitor.cli", "cti.calls.cli", "recordings.cli", "cti.outbound.cli",
                 "cti.specialists_cli", "cti.databases")


def _run_until_signal(main) -> int:
    """Run ``main(stop_event)`` until it returns or SIGINT/SIGTERM asks for a clean stop."""

    async def runner() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        return await main(stop)

    return asyncio.run(runner())


def cmd_check_config(args: argparse.Namespace) -> int:
    from cti import checks

    try:
        settings = load_settings(args.path or args.config)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    found = checks.problems(settings)
    for key, message in found:
        print(f"warning: {key}: {message}", file=sys.stderr)
    print(f"settings OK{f' with {len(found)} warning(s)' if found else ''}: AMI {settings.ami.host}:{settings.ami.port}, "
          f"FastAGI {settings.agi.bind}:{settings.agi.port}, data in {settings.data_dir}")
    return 1 if found and args.strict else 0


def _settings_or_exit(path: str | None):
    try:
        return load_settings(path)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        raise SystemExit(2) from None


def cmd_run(args: argparse.Namespace) -> int:
    from cti import checks
    from cti.app import run

    settings = _settings_or_exit(args.config)
    logs.setup(settings.log.level, format=settings.log.format)
    found = checks.problems(settings)
    for key, message in found:
        logging.getLogger("cti").warning("setting %s: %s", key, message)
    if checks.fatal(found):
        for key, message in checks.fatal(found):
            logging.getLogger("cti").error("cannot start: %s: %s", key, message)
        return 1
    # systemd sets JOURNAL_STREAM when our output goes to the journal: the live summary, a line every
    # few seconds, and this run's tokens are for a terminal (the figures are on /api/figures and /metrics)
    terminal = not os.environ.get("JOURNAL_STREAM")
    return _run_until_signal(lambda stop: run(settings, stop, reload=lambda: load_settings(args.config),
                                              terminal=terminal))


def cmd_demo(args: argparse.Namespace) -> int:
    from cti.demo import demo

    settings = _settings_or_exit(args.config)
    logs.setup("WARNING" if not args.verbose else settings.log.level, format=settings.log.format)
    return _run_until_signal(lambda stop: demo(settings, stop, speed=args.speed, seed=args.seed,
                                                          lockstep=args.lockstep))


def cmd_agi_script(args: argparse.Namespace) -> int:
    from cti.agi.script import run_script
    from ivr_flows.part import process_agi_registry

    settings = _settings_or_exit(args.config)
    logs.setup("ERROR")  # stdout is the AGI channel: logs go to stderr only
    return run_script(args.name, process_agi_registry(settings.flows))


def cmd_credentials(args: argparse.Namespace) -> int:
    """Issue a role credential (the token once, its hash for http.credentials) or hash an agent PIN."""
    from cti import auth

    if args.what == "new":
        token = auth.new_token()
        print(f"token (give it to the {args.role}; shown once): {token}")
        print(f"add under http.credentials.{args.role} in cti.yaml, then kill -HUP the layer:")
        print(f"  - {auth.hash_token(token)}")
        return 0
    if not re.fullmatch(r"[0-9A-Za-z_-]{1,32}", args.agent):
        print("agent id: 1-32 letters, digits, '-' or '_'", file=sys.stderr)
        return 2
    pin = getpass.getpass(f"PIN for agent {args.agent}: ") if sys.stdin.isatty() else sys.stdin.readline().strip()
    if len(pin) < 4:
        print("a PIN has at least 4 characters", file=sys.stderr)
        return 2
    print(f"add under http.agent_pins in cti.yaml, then kill -HUP the layer:\n  \"{args.agent}\": [\"{auth.hash_pin(pin)}\"]")
    return 0


def cmd_init(args: argparse.Namespace) -> int:
    """Write an editable copy of the shipped configuration (cti/init_config.py)."""
    from pathlib import Path

    from cti.init_config import InitError, write_copy

    try:
        written = write_copy(Path(args.dir), Path(args.data_dir), force=args.force)
    except (InitError, OSError) as exc:
        print(f"cti init: {exc}", file=sys.stderr)
        return 1
    settings = next(p for p in written if p.name == "cti.yaml")
    print(f"wrote {len(written)} files into {settings.parent} (data_dir {Path(args.data_dir).absolute()})")
    print(f"next: edit {settings} (ami.secret, agi.allow, http.credentials...), then\n"
          f"  cti --config {settings} check-config && cti --config {settings} run")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from cti import __version__
    from cti.init_config import DEFAULT_DATA_DIR

    parser = argparse.ArgumentParser(prog="cti", description="CTI layer of the 12345 hotline on Asterisk")
    parser.add_argument("--config", help="settings file (default: $CTI_CONFIG or config/cti.yaml)")
    parser.add_argument("--version", action="version", version=f"cti12345 {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("run", help="connect to Asterisk (AMI) and serve FastAGI")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("demo", help="run the layer against the built-in PBX simulator")
    p.add_argument("--speed", type=float, default=1.0, help="simulated seconds per real second")
    p.add_argument("--seed", type=int, default=12345, help="traffic seed (same seed, same calls)")
    p.add_argument("--lockstep", action="store_true",
                   help="the simulator's time waits for the layer: same seed, same outcomes too")
    p.add_argument("--verbose", action="store_true", help="show the layer's log lines")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("check-config", help="validate the settings and exit non-zero on error")
    p.add_argument("path", nargs="?", help="settings file to check")
    p.add_argument("--strict", action="store_true",
                   help="exit 1 when a setting is weak or broken (a warning), not only when it is invalid")
    p.set_defaults(func=cmd_check_config)

    p = sub.add_parser("init", help="write an editable copy of the shipped configuration into DIR")
    p.add_argument("dir", help="where to write it, e.g. /etc/cti12345")
    p.add_argument("--data-dir", default=str(DEFAULT_DATA_DIR),
                   help=f"data_dir of the written cti.yaml (default {DEFAULT_DATA_DIR})")
    p.add_argument("--force", action="store_true", help="overwrite files that are already there")
    p.set_defaults(func=cmd_init)

    p = sub.add_parser("agi-script", help="run an AGI handler over stdin/stdout (classic AGI)")
    p.add_argument("name", help="handler name, as in agi://host/<name>")
    p.set_defaults(func=cmd_agi_script)

    p = sub.add_parser("credentials", help="issue an HTTP credential for a role, or hash an agent PIN")
    cred = p.add_subparsers(dest="what", required=True)
    q = cred.add_parser("new", help="a new random token for a role, and the hash to put in http.credentials")
    q.add_argument("role", choices=["viewer", "supervisor", "admin", "integration"])
    q = cred.add_parser("pin", help="hash an agent's PIN (read from the terminal or stdin) for http.agent_pins")
    q.add_argument("agent", help="agent id, e.g. 6001")
    p.set_defaults(func=cmd_credentials)

    for entry in PART_COMMANDS:
        module, _, adder = entry.partition(":")
        getattr(importlib.import_module(module), adder or "add_parser")(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    from cti.calendar import CalendarError
    from cti.hotlines import HotlineError
    from cti.schema import SchemaError
    from cti.settings import DEFAULT_CONFIG, ENV_CONFIG
    from cti.specialists import SpecialistError
    from ivr_flows.loader import FlowLoadError

    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except SchemaError as exc:   # a database of another version: its name and the command to run, no traceback
        print(f"cannot go on: {exc}", file=sys.stderr)
        return 1
    except (HotlineError, SpecialistError, CalendarError, FlowLoadError) as exc:   # a file the settings name
        print(f"cannot start: {exc}", file=sys.stderr)
        if not (args.config or os.environ.get(ENV_CONFIG) or os.path.exists(DEFAULT_CONFIG)):
            print(f"no settings file here ({DEFAULT_CONFIG}): run from the checkout, or `cti init DIR` and "
                  "then `cti --config DIR/cti.yaml ...`", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
