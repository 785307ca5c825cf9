"""``cti campaigns list|pause|resume``: follow-up campaigns in the outbound database (works with the layer
running or not: the scheduler reads the campaign state before each round)."""

from __future__ import annotations

import argparse
import asyncio


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("campaigns", help="follow-up campaigns (回访): list, pause, resume")
    p.add_argument("--config", default=None, help="settings file (default config/cti.yaml)")
    sub = p.add_subparsers(dest="campaign_command", required=True)
    sub.add_parser("list", help="campaigns, their state and follow-ups per state")
    for name in ("pause", "resume"):
        q = sub.add_parser(name, help=f"{name} a campaign")
        q.add_argument("name")
    p.set_defaults(func=run)


def _settings(path):
    from cti.outbound.settings import OutboundSettings
    from cti.settings import load_settings
    return getattr(load_settings(path), "outbound", None) or OutboundSettings()


async def _run(args: argparse.Namespace) -> int:
    from cti.outbound.store import CLOSED_TICKETS, Store
    store = Store(_settings(args.config).database_url)
    try:
        await store.migrate()
        if args.campaign_command == "list":
            rows = await store.campaigns()
            if not rows:
                print(f"no campaigns yet ({CLOSED_TICKETS} is made when the layer starts)")
            for c in rows:
                counts = ", ".join(f"{k} {v}" for k, v in sorted(c["followups"].items())) or "no follow-ups"
                print(f"{c['name']}: {c['state']} ({counts})")
            return 0
        state = "paused" if args.campaign_command == "pause" else "active"
        if not await store.set_state(args.name, state):
            print(f"no campaign named {args.name!r}")
            return 1
        print(f"{args.name}: {state}")
        return 0
    finally:
        await store.close()


def run(args: argparse.Namespace) -> int:
    return asyncio.run(_run(args))
