"""`cti flows check|simulate|graph`: validate the flows, walk one in the terminal, draw one.
`cti prompts [list]|synth DIR`: which catalogue prompts Asterisk has audio for; placeholder audio.

Wiring (cti/cli.py build_parser): ``add_parser(sub)`` and ``add_prompts_parser(sub)``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

from cti.settings import ConfigError, load_settings


def _settings(args: argparse.Namespace):
    try:
        settings = load_settings(getattr(args, "config", None)).flows
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        raise SystemExit(2) from None
    if getattr(args, "dir", None):
        settings = settings.model_copy(update={"flows_dir": Path(args.dir)})
    return settings


def _load(settings):
    from ivr_flows.loader import FlowLoadError, context_from_settings, load_dir

    try:
        return load_dir(Path(settings.flows_dir), context_from_settings(settings),
                        (settings.entry_flow, settings.survey_flow)), None
    except FlowLoadError as exc:
        return None, exc.errors


def cmd_check(args: argparse.Namespace) -> int:
    settings = _settings(args)
    flows, errors = _load(settings)
    if errors:
        for error in errors:
            print(error, file=sys.stderr)
        print(f"{len(errors)} error(s) in {settings.flows_dir}", file=sys.stderr)
        return 1
    for flow in flows.flows.values():
        print(f"{flow.path}: flow {flow.name} OK ({len(flow.nodes)} nodes, {flow.digest})")
    warnings = _audio_warnings(flows, settings.sounds_dir, args.language) if settings.sounds_dir else []
    for warning in warnings:
        print(warning, file=sys.stderr)
    print(f"flows version {flows.version}: {len(flows.flows)} flow(s) OK"
          + (f"; {len(warnings)} warning(s): prompts without audio in {settings.sounds_dir}" if warnings else ""))
    return 0


def _audio_warnings(flows, sounds_dir: Path, language: str) -> list[str]:
    """``file:line: node <id>: warning: ...`` for each prompt a flow plays that Asterisk has no audio for."""
    from ivr_flows.prompts import find_sound, flow_prompts, other_languages

    found: dict[str, bool] = {}
    out: list[str] = []
    warned: set[tuple[str, str, str]] = set()
    for flow in flows.flows.values():
        for node, prompt in flow_prompts(flow):
            if (flow.name, node.id, prompt.file) in warned:
                continue   # a node may play the same prompt twice (greeting and retry): one warning
            warned.add((flow.name, node.id, prompt.file))
            if prompt.file not in found:
                found[prompt.file] = find_sound(Path(sounds_dir), prompt.file, language) is not None
            if not found[prompt.file]:
                others = other_languages(Path(sounds_dir), prompt.file, language)
                hint = f" (only for channel language {', '.join(others)})" if others else ""
                out.append(f"{flow.path}:{node.line}: node {node.id}: warning: prompt '{prompt.file}' has no audio "
                           f"in {sounds_dir} for channel language {language}{hint}")
    return out


def _when(text: str | None, tz: ZoneInfo) -> dt.datetime:
    if not text:
        return dt.datetime.now(tz)
    try:
        when = dt.datetime.fromisoformat(text.replace(" ", "T") if len(text) > 10 else text + "T10:00")
    except ValueError:
        raise SystemExit(f"--at {text!r}: expected YYYY-MM-DD[THH:MM]") from None
    return when if when.tzinfo else when.replace(tzinfo=tz)


def _flows_with(settings, name: str):
    """The loaded flows when they are valid and hold ``name``; else print why and return None."""
    flows, errors = _load(settings)
    if errors:
        for error in errors:
            print(error, file=sys.stderr)
        return None
    if name not in flows:
        print(f"no flow {name!r} (flows: {', '.join(sorted(flows.flows))})", file=sys.stderr)
        return None
    return flows


def cmd_simulate(args: argparse.Namespace) -> int:
    import asyncio

    from ivr_flows.engine import http_fetch
    from ivr_flows.interpreter import Interpreter
    from ivr_flows.loader import read_catalogue
    from ivr_flows.part import build_calendar
    from ivr_flows.simulate import simulate

    settings = _settings(args)
    flows = _flows_with(settings, args.flow)
    if flows is None:
        return 1
    interp = Interpreter(build_calendar(settings), settings.default_queue, settings.max_steps,
                         settings.max_goto_depth)
    keys = args.keys.split(",") if args.keys else []
    when = _when(args.at, ZoneInfo(settings.timezone))
    variables = {"caller": args.caller, "hotline": args.hotline, "uniqueid": "simulated", "caller_name": ""}
    simulate(flows, interp, args.flow, keys, when, variables,
             catalogue=read_catalogue(Path(settings.prompts_dir)),
             fetch=lambda action: asyncio.run(http_fetch(action)))
    return 0


def cmd_graph(args: argparse.Namespace) -> int:
    from ivr_flows.graph import to_dot, to_mermaid

    settings = _settings(args)
    flows = _flows_with(settings, args.flow)
    if flows is None:
        return 1
    render = to_dot if args.format == "dot" else to_mermaid
    sys.stdout.write(render(flows[args.flow], settings.default_queue))
    return 0


def _catalogue(settings) -> dict:
    """The prompt catalogue of ``settings.prompts_dir`` (name -> entry); empty, with a message, when missing."""
    from ivr_flows.loader import read_catalogue

    catalogue = read_catalogue(Path(settings.prompts_dir))
    if not catalogue:
        print(f"no prompts: {Path(settings.prompts_dir) / 'catalogue.yaml'} is missing or empty", file=sys.stderr)
    return catalogue


def cmd_prompts_list(args: argparse.Namespace) -> int:
    from ivr_flows.prompts import audit

    settings = _settings(args)
    catalogue = _catalogue(settings)
    if not catalogue:
        return 1
    sounds = Path(args.sounds_dir) if args.sounds_dir else settings.sounds_dir
    if sounds is None:
        for name, entry in catalogue.items():
            print(f"{name}\t{entry.get('text', '')}")
        print(f"{len(catalogue)} prompt(s); audio not checked: set flows.sounds_dir (CTI_FLOWS_SOUNDS_DIR) "
              f"or give --sounds-dir", file=sys.stderr)
        return 0
    if not sounds.is_dir():
        print(f"warning: sounds folder {sounds} does not exist", file=sys.stderr)
    rows = audit(catalogue, sounds, args.language)
    for row in rows:
        if row.path is not None:
            state = f"有 present  {row.path.relative_to(sounds)}"
        else:
            state = "缺 MISSING" + (f"  (only under {', '.join(row.elsewhere)}/)" if row.elsewhere else "")
        print(f"{row.name}\t{state}\t{row.text}")
    missing = sum(row.path is None for row in rows)
    print(f"{len(rows)} prompt(s), {len(rows) - missing} with audio, {missing} missing in {sounds} "
          f"(channel language {args.language})", file=sys.stderr)
    return 1 if missing and args.strict else 0


def cmd_prompts_synth(args: argparse.Namespace) -> int:
    from ivr_flows.prompts import SynthError, synthesize

    settings = _settings(args)
    catalogue = _catalogue(settings)
    if not catalogue:
        return 1
    try:
        done = synthesize(catalogue, Path(args.dir), force=args.force)
    except SynthError as exc:
        print(f"cti prompts synth: {exc}", file=sys.stderr)
        return 2
    for item in done:
        print(f"{'wrote' if item.written else 'kept (exists; --force rewrites)'} {item.path}")
    written = sum(item.written for item in done)
    print(f"{written} prompt(s) synthesized, {len(done) - written} kept, in {args.dir} "
          f"(8 kHz 16-bit mono WAV, espeak-ng Mandarin placeholders)")
    return 0


def add_prompts_parser(subparsers) -> argparse.ArgumentParser:
    prompts = subparsers.add_parser("prompts", help="prompt audio: list with its state in Asterisk's sounds folder; synth")
    prompts.add_argument("--sounds-dir", help="Asterisk's sounds folder (default: flows.sounds_dir)")
    prompts.add_argument("--language", default="en",
                         help="channel language Asterisk looks up prompts for (default: en, Asterisk's default)")
    prompts.add_argument("--strict", action="store_true", help="exit 1 when a prompt has no audio")
    prompts.set_defaults(func=cmd_prompts_list)
    sub = prompts.add_subparsers(dest="prompts_command")
    p = sub.add_parser("list", help="each catalogue prompt, its text, and whether Asterisk has its audio (default)")
    p.set_defaults(func=cmd_prompts_list)
    p = sub.add_parser("synth", help="write placeholder audio for every prompt (espeak-ng Mandarin, 8 kHz WAV)")
    p.add_argument("dir", help="sounds folder to write into: DIR/<prompt name>.wav, e.g. DIR/cti12345/welcome.wav")
    p.add_argument("--force", action="store_true", help="rewrite files that exist (default: keep them)")
    p.set_defaults(func=cmd_prompts_synth)
    return prompts


def add_parser(subparsers) -> argparse.ArgumentParser:
    flows = subparsers.add_parser("flows", help="IVR flows: check, simulate, graph")
    sub = flows.add_subparsers(dest="flows_command", required=True)

    p = sub.add_parser("check", help="validate every flow; all errors with file:line; non-zero on error; "
                                     "warns about prompts without audio when flows.sounds_dir is set")
    p.add_argument("dir", nargs="?", help="flows directory (default: flows.flows_dir)")
    p.add_argument("--language", default="en", help="channel language for the audio check (default: en)")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("simulate", help="walk a flow in the terminal, printing prompts and decisions")
    p.add_argument("flow", help="flow name, e.g. main")
    p.add_argument("--keys", default="", help="keys for the successive inputs, e.g. 2,1 ('-' = no key, h = hang up)")
    p.add_argument("--at", help="date and time of the call, e.g. 2026-02-14T10:00 (default: now)")
    p.add_argument("--caller", default="13800000000", help="caller number")
    p.add_argument("--hotline", default="12345", help="number dialled (a directly merged hotline, e.g. 12316)")
    p.add_argument("--dir", help="flows directory (default: flows.flows_dir)")
    p.set_defaults(func=cmd_simulate)

    p = sub.add_parser("graph", help="print a flow as a Mermaid flowchart (or Graphviz dot)")
    p.add_argument("flow", help="flow name, e.g. main")
    p.add_argument("--format", choices=("mermaid", "dot"), default="mermaid")
    p.add_argument("--dir", help="flows directory (default: flows.flows_dir)")
    p.set_defaults(func=cmd_graph)
    return flows


def main(argv: list[str] | None = None) -> int:
    """``python -m ivr_flows.cli check`` works before the lead wires ``cti flows``."""
    parser = argparse.ArgumentParser(prog="cti")
    parser.add_argument("--config")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["flows", *(sys.argv[1:] if argv is None else argv)])
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
