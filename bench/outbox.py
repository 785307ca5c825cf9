"""Outbox benchmark: durable ticket creation and webhook delivery, on SQLite and PostgreSQL.

Run: ``.venv/bin/python bench/outbox.py [--tickets 2000] [--deliver 2000]``

Creation: each ticket is its own committed transaction (ticket + outbox row), SQLite with
``synchronous=FULL`` and PostgreSQL with ``fsync=on``; the baseline is a bare one-row INSERT per
committed transaction with the same driver (aiosqlite / asyncpg), so the ratio is what the ORM,
the two rows and the JSON body cost. SQLite has one writer, so its creators run one after another;
PostgreSQL runs 16 concurrent creators (an agent pool).

Delivery: the receiver runs in its own process (this file with ``--receiver``), answering 204; the
baseline is bare aiohttp POSTs of the same bodies at the same concurrency, so a ratio near 1 means
delivery is limited by the receiver, not by the dispatcher.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import aiohttp  # noqa: E402
from aiohttp import web  # noqa: E402
from tickets_support import PgCluster, free_port, make_secret  # noqa: E402

from cti.tickets.db import make_engine, migrate  # noqa: E402
from cti.tickets.dispatcher import Dispatcher  # noqa: E402
from cti.tickets.outbox import Outbox  # noqa: E402
from cti.tickets.service import TicketService  # noqa: E402
from cti.tickets.settings import TicketsSettings  # noqa: E402

CONCURRENCY = 32
PG_CREATORS = 16
SUMMARY = "市民反映小区夜间施工噪音扰民，要求相关部门处理。" * 3


def serve_receiver(port: int) -> None:
    async def hook(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", hook)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


async def wait_port(port: int) -> None:
    for _ in range(200):
        try:
            _, w = await asyncio.open_connection("127.0.0.1", port)
            w.close()
            return
        except OSError:
            await asyncio.sleep(0.05)
    raise RuntimeError("receiver did not start")


async def bare_insert_rate(kind: str, url: str, n: int) -> float:
    if kind == "sqlite":
        import aiosqlite

        path = url.split("///", 1)[1] + ".bare"
        async with aiosqlite.connect(path, isolation_level=None) as db:
            for pragma in ("journal_mode=WAL", "synchronous=FULL"):
                await db.execute(f"PRAGMA {pragma}")
            await db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)")
            t0 = time.perf_counter()
            for _ in range(n):
                await db.execute("BEGIN IMMEDIATE")
                await db.execute("INSERT INTO t (body) VALUES (?)", (SUMMARY,))
                await db.execute("COMMIT")
            return n / (time.perf_counter() - t0)
    import asyncpg

    dsn = url.replace("postgresql+asyncpg", "postgresql")
    pool = await asyncpg.create_pool(dsn, min_size=PG_CREATORS, max_size=PG_CREATORS)
    await pool.execute("CREATE TABLE t (id bigserial PRIMARY KEY, body text)")

    async def worker(k: int) -> None:
        async with pool.acquire() as conn:
            for _ in range(k):
                await conn.execute("INSERT INTO t (body) VALUES ($1)", SUMMARY)  # autocommit: one txn each

    t0 = time.perf_counter()
    await asyncio.gather(*(worker(n // PG_CREATORS) for _ in range(PG_CREATORS)))
    rate = (n // PG_CREATORS * PG_CREATORS) / (time.perf_counter() - t0)
    await pool.close()
    return rate


async def create_rate(kind: str, service: TicketService, n: int) -> float:
    async def make(k: int) -> None:
        for i in range(k):
            await service.create(request_type="complaint", caller_number=f"1380000{i % 10000:04d}",
                                 summary=SUMMARY, tags=["企业"], ivr_path=["main", "2"])

    creators = 1 if kind == "sqlite" else PG_CREATORS
    t0 = time.perf_counter()
    await asyncio.gather(*(make(n // creators) for _ in range(creators)))
    return (n // creators * creators) / (time.perf_counter() - t0)


async def bare_post_rate(url: str, bodies: list[bytes]) -> float:
    gate = asyncio.Semaphore(CONCURRENCY)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CONCURRENCY)) as http:
        async def one(b: bytes) -> None:
            async with gate, http.post(url, data=b, headers={"content-type": "application/json"}) as r:
                await r.read()

        t0 = time.perf_counter()
        await asyncio.gather(*(one(b) for b in bodies))
        return len(bodies) / (time.perf_counter() - t0)


async def deliver_rate(engine, s: TicketsSettings, n: int) -> float:
    outbox = Outbox(engine)
    dispatcher = Dispatcher(outbox, s)
    t0 = time.perf_counter()
    await dispatcher.start()
    while (await outbox.counts()).get("delivered", 0) < n:
        await asyncio.sleep(0.02)
    elapsed = time.perf_counter() - t0
    await dispatcher.stop()
    return n / elapsed


async def run_kind(kind: str, args, receiver_url: str) -> dict[str, float]:
    cluster = None
    with tempfile.TemporaryDirectory() as tmp:
        if kind == "sqlite":
            url = f"sqlite+aiosqlite:///{tmp}/bench.db"
        else:
            cluster = PgCluster(fsync=True).start()
            url = cluster.url(await cluster.create_database())
        try:
            base_create = await bare_insert_rate(kind, url, args.tickets)
            engine = make_engine(url)
            await migrate(engine)
            s = TicketsSettings(database_url=url, endpoint_url=receiver_url, secrets=[make_secret()],
                                batch_size=200, concurrency=CONCURRENCY, poll_interval=0.02)
            service = TicketService(engine, s)
            ours_create = await create_rate(kind, service, args.tickets)
            pending = (await Outbox(engine).counts()).get("pending", 0)
            rows = await Outbox(engine).list("pending", args.deliver)
            base_post = await bare_post_rate(receiver_url, [m.body.encode() for m in rows])
            ours_deliver = await deliver_rate(engine, s, pending)
            await engine.dispose()
        finally:
            if cluster is not None:
                cluster.stop()
    return {"create": ours_create, "create_base": base_create, "deliver": ours_deliver, "post_base": base_post}


async def main(args) -> None:
    logging.basicConfig(level=logging.ERROR)
    port = free_port()
    proc = subprocess.Popen([sys.executable, __file__, "--receiver", str(port)])
    try:
        await wait_port(port)
        url = f"http://127.0.0.1:{port}/hook"
        print(f"outbox benchmark: {args.tickets} tickets created (one durable transaction each), all delivered "
              f"to a local receiver process (concurrency {CONCURRENCY})")
        targets = {"sqlite": 500, "postgresql": 1000}
        for kind in ("sqlite", "postgresql"):
            r = await run_kind(kind, args, url)
            ok = "meets" if r["create"] >= targets[kind] else "BELOW"
            print(f"{kind:<10} created  {r['create']:8.0f}/s   bare INSERT+COMMIT {r['create_base']:8.0f}/s   "
                  f"ratio {r['create'] / r['create_base']:.2f}   ({ok} target {targets[kind]}/s)")
            print(f"{kind:<10} delivered {r['deliver']:7.0f}/s   bare aiohttp POST  {r['post_base']:8.0f}/s   "
                  f"ratio {r['deliver'] / r['post_base']:.2f}")
    finally:
        proc.terminate()
        proc.wait(10)


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--tickets", type=int, default=2000)
    p.add_argument("--receiver", type=int, help=argparse.SUPPRESS)
    a = p.parse_args()
    a.deliver = a.tickets
    if a.receiver:
        serve_receiver(a.receiver)
    else:
        asyncio.run(main(a))
