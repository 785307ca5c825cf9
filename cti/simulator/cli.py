"""`cti simulate-pbx`: run the PBX simulator until Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal

log = logging.getLogger(__name__)


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser("simulate-pbx", help="run the built-in Asterisk stand-in (AMI server, FastAGI client)")
    p.add_argument("--host", default="127.0.0.1", help="AMI bind address")
    p.add_argument("--ami-port", type=int, default=5038)
    p.add_argument("--username", default="cti")
    p.add_argument("--secret", default="cti-secret")
    p.add_argument("--agi-host", default="127.0.0.1")
    p.add_argument("--agi-port", type=int, default=4573)
    p.add_argument("--preset", choices=["nantong", "demo", "none"], default="none",
                   help="nantong: 107 seats and a day's traffic; demo: the same with a first caller at once "
                        "and a call a minute at night; none: the recorded lab (no traffic)")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--lockstep", action="store_true",
                   help="discrete-event time that waits for the layer's AGI answers: with --seed, "
                        "the same calls meet the same outcomes in every run")
    p.add_argument("--speed", type=float, default=1.0, help="simulated seconds per real second")
    p.add_argument("--queue-log", default=None, metavar="PATH")
    p.add_argument("--recording-dir", default=None, metavar="DIR",
                   help="write a stereo WAV of each answered call here, as MixMonitor would")
    p.set_defaults(func=run)
    return p


def build(args: argparse.Namespace):
    from .config import SimConfig
    from .simulator import Simulator
    cfg = SimConfig(host=args.host, ami_port=args.ami_port, username=args.username, secret=args.secret,
                    agi_host=args.agi_host, agi_port=args.agi_port, speed=args.speed, seed=args.seed,
                    lockstep=args.lockstep,
                    queue_log=args.queue_log, recording_dir=args.recording_dir)
    traffic = None
    if args.preset in ("nantong", "demo"):
        from .presets import demo_traffic, nantong_config, nantong_traffic
        cfg = nantong_config(cfg, seed=args.seed)
        traffic = nantong_traffic() if args.preset == "nantong" else demo_traffic()
    return Simulator(cfg, traffic=traffic)


async def serve(args: argparse.Namespace, stop: asyncio.Event | None = None) -> int:
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    sim = build(args)
    try:
        await sim.start()
    except OSError as exc:
        log.error("simulate-pbx: cannot listen on %s:%d: %s", args.host, args.ami_port, exc)
        return 2
    print(f"PBX simulator: AMI {args.host}:{sim.ami_port}, FastAGI to {args.agi_host}:{args.agi_port}, "
          f"preset {args.preset}, speed x{args.speed:g}; Ctrl-C stops", flush=True)
    try:
        await stop.wait()
    finally:
        await sim.stop()
        log.info("simulate-pbx stopped: %s", sim.totals())
    return 0


def run(args: argparse.Namespace) -> int:
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return asyncio.run(serve(args))
    except KeyboardInterrupt:
        return 0
