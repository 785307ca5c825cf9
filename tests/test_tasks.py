"""cti.tasks.finish: a loop asked to stop ends its round whole; one that does not is cancelled."""

from __future__ import annotations

import asyncio
import sqlite3

from sqlalchemy import text

from cti.tasks import finish
from cti.tickets.db import make_engine


async def test_a_round_in_its_transaction_ends_whole_and_leaves_the_database_writable(tmp_path):
    path = tmp_path / "loop.db"
    engine = make_engine(f"sqlite:///{path}")
    async with engine.begin() as conn:
        await conn.execute(text("create table rounds (n integer)"))
    stopping, in_round, go_on = False, asyncio.Event(), asyncio.Event()

    async def loop() -> None:
        n = 0
        while not stopping:
            n += 1
            async with engine.begin() as conn:            # BEGIN IMMEDIATE: holds the write lock
                await conn.execute(text("insert into rounds values (:n)"), {"n": n})
                in_round.set()
                await go_on.wait()                        # the round's other work

    task = asyncio.create_task(loop(), name="test-loop")
    await in_round.wait()
    stopping = True
    stopper = asyncio.create_task(finish(task, grace=60))
    await asyncio.sleep(0)                                # finish() is waiting, not cancelling
    assert not task.cancelled() and not task.done()
    go_on.set()
    await stopper
    assert task.done() and not task.cancelled()
    await engine.dispose()
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")                      # the write lock is free at once
    assert other.execute("select count(*) from rounds").fetchone() == (1,)
    other.execute("ROLLBACK")
    other.close()


async def test_a_loop_that_does_not_end_is_cancelled_after_the_grace():
    forever = asyncio.Event()
    task = asyncio.create_task(forever.wait(), name="stuck-loop")
    await finish(task, grace=0.05)
    assert task.cancelled()
