"""A dispatcher process killed with SIGKILL while delivering, then restarted: nothing is lost.

At-least-once: a message whose answer the killed process never recorded may arrive twice; the
receiver deduplicates on webhook-id, and no more than one claimed batch can be duplicated.
"""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from tickets_support import Receiver, database, make_secret, wait_for

from cti.tickets.db import make_engine
from cti.tickets.outbox import Outbox
from cti.tickets.service import TicketService
from cti.tickets.settings import TicketsSettings

ROOT = Path(__file__).resolve().parents[1]
BATCH = 8


def start_dispatcher(url: str, rec: Receiver, log: Path) -> subprocess.Popen:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "CTI_TICKETS_DATABASE_URL": url, "CTI_TICKETS_ENDPOINT_URL": rec.url,
        "CTI_TICKETS_SECRETS": make_secret(6), "CTI_TICKETS_LEASE_SECONDS": "3",
        "CTI_TICKETS_REQUEST_TIMEOUT": "2", "CTI_TICKETS_POLL_INTERVAL": "0.05",
        "CTI_TICKETS_BATCH_SIZE": str(BATCH), "CTI_TICKETS_CONCURRENCY": "4",
        "CTI_TICKETS_RETRY_SCHEDULE": ",".join(["0.1"] * 50),
    }
    with log.open("ab") as err:
        return subprocess.Popen([sys.executable, "-m", "cti.tickets.cli", "outbox", "dispatch"], cwd=ROOT, env=env,
                                stdout=subprocess.DEVNULL, stderr=err)


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
async def test_sigkill_while_delivering_then_restart_loses_nothing(kind, tmp_path):
    rec = Receiver()
    rec.delay = 0.1  # slow enough that the kill lands with requests in flight
    await rec.start()
    procs: list[subprocess.Popen] = []
    try:
        async with database(kind, tmp_path) as url:
            engine = make_engine(url)
            outbox = Outbox(engine)
            service = TicketService(engine, TicketsSettings(database_url=url))
            ids = [(await service.create(request_type="help", summary=f"求助 {i}"))["id"] for i in range(60)]
            procs.append(start_dispatcher(url, rec, tmp_path / "dispatch.log"))
            await wait_for(lambda: len(rec.requests) >= 12, timeout=30)
            procs[0].send_signal(signal.SIGKILL)
            procs[0].wait(10)
            claimed = [m for m in await outbox.list("pending", 1000) if m.claimed_by]
            assert claimed, "the kill should leave claimed messages behind"
            procs.append(start_dispatcher(url, rec, tmp_path / "dispatch.log"))
            await wait_for(lambda: _counts(outbox, {"delivered": 60}), timeout=60)
            messages = {m.message_id for m in await outbox.list(None, 1000)}
            assert rec.unique == messages                          # nothing lost
            duplicates = sum(rec.accepted.values()) - len(rec.unique)
            assert duplicates <= BATCH                             # at most the batch the dead process held
            for ticket_id in ids[:5]:
                assert (await service.get(ticket_id))["status"] == "delivered"
            await engine.dispose()
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
                p.wait(10)
        await rec.stop()


async def _counts(outbox: Outbox, expected: dict) -> bool:
    return await outbox.counts() == expected
