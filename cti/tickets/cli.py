"""`cti outbox list|replay|dispatch`: look at the outbox, put dead letters back, run a dispatcher.

Wired into `cti` with ``add_parser(subparsers)``; also runs alone: ``python -m cti.tickets.cli outbox list``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys

from cti.tickets.db import ensure, make_engine
from cti.tickets.outbox import Outbox


def _settings(args: argparse.Namespace):
    from cti.settings import ConfigError, load_settings

    try:
        return load_settings(getattr(args, "config", None)).tickets
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        raise SystemExit(2) from None


async def _with_outbox(args: argparse.Namespace, work):
    s = _settings(args)
    engine = make_engine(s.database_url)
    try:
        await ensure(engine)   # like `cti run`: a database of another version is refused (cti.schema)
        return await work(Outbox(engine), s)
    finally:
        await engine.dispose()


def _row(m) -> dict:
    return {"id": m.id, "message_id": m.message_id, "ticket_id": m.ticket_id, "type": m.event_type,
            "status": m.status, "attempts": m.attempts,
            "next_attempt_at": m.next_attempt_at.isoformat() if m.next_attempt_at else None,
            "last_status": m.last_status, "last_error": m.last_error}


def cmd_list(args: argparse.Namespace) -> int:
    async def work(outbox: Outbox, s) -> int:
        status = None if args.status == "all" else args.status
        rows = [_row(m) for m in await outbox.list(status, args.limit)]
        counts = await outbox.counts()
        failed = await outbox.failed_endpoints()
        if args.json:
            print(json.dumps({"counts": counts, "messages": rows, "endpoint_failed": failed}, ensure_ascii=False))
            return 0
        print("outbox: " + ", ".join(f"{k} {counts.get(k, 0)}" for k in ("pending", "delivered", "dead")))
        for url, reason in failed.items():
            print(f"endpoint {url} is FAILED ({reason}): fix it, then `cti outbox replay --all-dead`")
        for r in rows:
            about = f"ticket {r['ticket_id']}" if r["ticket_id"] else r["type"]   # call.disposition: no ticket
            print(f"{r['id']:>8}  {r['message_id']}  {about}  {r['status']:<9} "
                  f"attempts {r['attempts']:<3} {r['last_error'] or ''}")
        return 0

    return asyncio.run(_with_outbox(args, work))


def cmd_replay(args: argparse.Namespace) -> int:
    ids = [int(x) for x in args.ids if x.isdigit()]
    message_ids = [x for x in args.ids if not x.isdigit()]
    if not (ids or message_ids or args.all_dead):
        print("name the messages to replay (outbox id or msg_... id) or give --all-dead", file=sys.stderr)
        return 2

    async def work(outbox: Outbox, s) -> int:
        n = await outbox.replay(ids, message_ids, all_dead=args.all_dead)
        print(f"{n} dead letter(s) queued again; the endpoint is active again")
        return 0 if n or args.all_dead else 1

    return asyncio.run(_with_outbox(args, work))


def cmd_dispatch(args: argparse.Namespace) -> int:
    """A dispatcher-only process (more delivery capacity, or delivery apart from `cti run`)."""
    from cti import logs
    from cti.tickets.dispatcher import Dispatcher

    s = _settings(args)
    logs.setup("INFO")

    async def main() -> int:
        engine = make_engine(s.database_url)
        await ensure(engine)   # like `cti run`: a database of another version is refused (cti.schema)
        dispatcher = Dispatcher(Outbox(engine), s)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await dispatcher.start()
        print("dispatcher running", flush=True)
        await stop.wait()
        await dispatcher.stop()
        await engine.dispose()
        return 0

    return asyncio.run(main())


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("outbox", help="ticket webhook outbox: list, replay dead letters, dispatch")
    sub = p.add_subparsers(dest="outbox_command", required=True)
    q = sub.add_parser("list", help="counts and messages (dead letters by default)")
    q.add_argument("--status", choices=["pending", "delivered", "dead", "all"], default="dead")
    q.add_argument("--limit", type=int, default=100)
    q.add_argument("--json", action="store_true", help="machine-readable output")
    q.set_defaults(func=cmd_list)
    q = sub.add_parser("replay", help="queue dead letters again with a fresh retry schedule")
    q.add_argument("ids", nargs="*", help="outbox ids or msg_... webhook ids")
    q.add_argument("--all-dead", action="store_true", help="every dead letter")
    q.set_defaults(func=cmd_replay)
    q = sub.add_parser("dispatch", help="run a delivery process until SIGTERM")
    q.set_defaults(func=cmd_dispatch)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cti")
    parser.add_argument("--config", help="settings file (default: $CTI_CONFIG or config/cti.yaml)")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
