"""The outbox on SQLite and PostgreSQL against a real HTTP receiver on loopback: nothing is lost."""

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from standardwebhooks.webhooks import Webhook
from tickets_support import Receiver, database, make_secret, postgres, wait_for

from cti.bus import EventBus
from cti.tickets import events
from cti.tickets.db import make_engine, migrate
from cti.tickets.dispatcher import Dispatcher
from cti.tickets.outbox import Outbox
from cti.tickets.service import TicketError, TicketService
from cti.tickets.settings import TicketsSettings

ROOT = Path(__file__).resolve().parents[1]
SECRET = make_secret(4)


@pytest.fixture(params=["sqlite", "postgresql"])
async def db_url(request, tmp_path):
    async with database(request.param, tmp_path) as url:
        yield url


@pytest.fixture
async def receiver():
    rec = Receiver()
    yield rec
    await rec.stop()


def settings(url: str, rec: Receiver, **kw) -> TicketsSettings:
    base = dict(database_url=url, endpoint_url=rec.url, secrets=[SECRET], poll_interval=0.05,
                retry_schedule=[0.05, 0.1, 0.2, 0.3] + [0.4] * 60, retry_jitter=0.1, lease_seconds=5,
                request_timeout=2)
    return TicketsSettings(**(base | kw))


class Stack:
    """Service + dispatcher on one engine, as the part wires them."""

    def __init__(self, s: TicketsSettings, bus: EventBus | None = None) -> None:
        self.engine = make_engine(s.database_url)
        self.outbox = Outbox(self.engine)
        self.dispatcher = Dispatcher(self.outbox, s, bus)
        self.service = TicketService(self.engine, s, bus, on_enqueued=self.dispatcher.wake)

    async def __aenter__(self):
        await self.dispatcher.start()
        return self

    async def __aexit__(self, *exc):
        await self.dispatcher.stop()
        await self.engine.dispose()

    async def all_delivered(self, n: int) -> bool:
        return (await self.outbox.counts()).get("delivered", 0) == n

    async def message_ids(self) -> set[str]:
        return {m.message_id for m in await self.outbox.list(None, 10_000)}


async def make(service: TicketService, n: int) -> list[str]:
    return [(await service.create(request_type="complaint", caller_number=f"1380000{i:04d}",
                                  summary=f"第{i}号诉求", tags=["企业"] if i % 2 else []))["id"]
            for i in range(n)]


async def test_backend_down_then_up_every_ticket_arrives_exactly_once(db_url, receiver):
    bus = EventBus()
    delivered, _ = bus.queue(events.TOPIC_DELIVERED)
    async with Stack(settings(db_url, receiver), bus) as st:
        ids = await make(st.service, 30)
        # Down: connection refused; every message is retried at least twice while nobody listens.
        await wait_for(lambda: _min_attempts(st.outbox, 2))
        assert (await st.outbox.counts()) == {"pending": 30}
        await receiver.start()
        await wait_for(lambda: st.all_delivered(30))
        assert receiver.unique == await st.message_ids()
        assert set(receiver.accepted.values()) == {1}          # exactly once by webhook-id
        assert {json.loads(body)["data"]["id"] for _, body in receiver.requests} == set(ids)
        assert [(await st.service.get(i))["status"] for i in ids] == ["delivered"] * 30
    assert delivered.qsize() == 30


async def _min_attempts(outbox: Outbox, n: int) -> bool:
    rows = await outbox.list(None, 10_000)
    return bool(rows) and all(m.attempts >= n for m in rows)


async def test_messages_are_signed_for_the_reference_library(db_url, receiver):
    await receiver.start()
    async with Stack(settings(db_url, receiver)) as st:
        [ticket_id] = await make(st.service, 1)
        await wait_for(lambda: st.all_delivered(1))
    headers, body = receiver.requests[0]
    verified = Webhook(SECRET).verify(body, headers)
    assert verified["type"] == "ticket.created" and verified["version"] == "1"
    assert verified["data"]["id"] == ticket_id and verified["data"]["tags"] == []


async def test_the_ticket_and_its_message_are_written_together(db_url, receiver):
    async with Stack(settings(db_url, receiver, endpoint_url="", secrets=[])) as st:
        await make(st.service, 3)
        with pytest.raises(TicketError, match="unknown request_type"):
            await st.service.create(request_type="praise")
        messages = await st.outbox.list(None)
        assert len(messages) == 3 and all(m.status == "pending" and m.attempts == 0 for m in messages)
        assert {m.ticket_id for m in messages} == {json.loads(m.body)["data"]["id"] for m in messages}


async def test_retry_after_is_honoured(db_url, receiver):
    receiver.status, receiver.headers = 503, {"Retry-After": "3600"}
    await receiver.start()
    async with Stack(settings(db_url, receiver)) as st:
        await make(st.service, 1)
        await wait_for(lambda: len(receiver.requests) == 1)
        await wait_for(lambda: _retry_recorded(st.outbox))
        [m] = await st.outbox.list(None)
        assert m.status == "pending" and m.last_status == 503
        assert (m.next_attempt_at - m.created_at).total_seconds() >= 3590   # not the 0.05 s of the schedule
        await asyncio.sleep(0.3)
        assert len(receiver.requests) == 1


async def _retry_recorded(outbox: Outbox) -> bool:
    rows = await outbox.list(None)
    return bool(rows) and rows[0].last_status is not None


def cli(url: str, *args: str) -> subprocess.CompletedProcess:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "CTI_TICKETS_DATABASE_URL": url}
    return subprocess.run([sys.executable, "-m", "cti.tickets.cli", "outbox", *args], cwd=ROOT,
                          capture_output=True, text=True, env=env, timeout=60)


async def test_exhausted_messages_become_dead_letters_that_an_admin_lists_and_replays(db_url, receiver):
    receiver.status = 500
    await receiver.start()
    bus = EventBus()
    dead, _ = bus.queue(events.TOPIC_DEAD)
    async with Stack(settings(db_url, receiver, retry_schedule=[0.02, 0.02]), bus) as st:
        await make(st.service, 2)
        await wait_for(lambda: _counts_are(st.outbox, {"dead": 2}))
        assert len(receiver.requests) == 6                   # first try and two retries each
        assert dead.qsize() == 2
        listed = cli(db_url, "list", "--json")
        assert listed.returncode == 0, listed.stderr
        out = json.loads(listed.stdout)
        assert out["counts"] == {"dead": 2}
        assert [m["last_error"] for m in out["messages"]] == ["HTTP 500", "HTTP 500"]
        human = cli(db_url, "list")
        assert "dead 2" in human.stdout and "HTTP 500" in human.stdout
        receiver.status = 200
        first = out["messages"][0]["message_id"]
        replayed = cli(db_url, "replay", first)
        assert replayed.returncode == 0 and "1 dead letter" in replayed.stdout
        await wait_for(lambda: _counts_are(st.outbox, {"dead": 1, "delivered": 1}))
        assert cli(db_url, "replay", "--all-dead").returncode == 0
        await wait_for(lambda: st.all_delivered(2))
        assert set(receiver.accepted.values()) == {1}
        assert cli(db_url, "replay").returncode == 2          # nothing named: a usage error


async def _counts_are(outbox: Outbox, expected: dict) -> bool:
    return await outbox.counts() == expected


async def test_410_stops_delivery_and_marks_the_endpoint_failed(db_url, receiver):
    receiver.status = 410
    await receiver.start()
    bus = EventBus()
    gone, _ = bus.queue(events.TOPIC_ENDPOINT)
    async with Stack(settings(db_url, receiver), bus) as st:
        await make(st.service, 1)
        await wait_for(lambda: _counts_are(st.outbox, {"dead": 1}))
        assert await st.outbox.endpoint_failed(receiver.url)
        await make(st.service, 2)                             # stored, not sent to a gone endpoint
        await asyncio.sleep(0.3)
        assert len(receiver.requests) == 1 and gone.qsize() == 1
        assert "FAILED" in cli(db_url, "list").stdout
        receiver.status = 204
        assert cli(db_url, "replay", "--all-dead").returncode == 0
        await wait_for(lambda: st.all_delivered(3))


async def test_two_dispatchers_on_postgresql_never_deliver_one_message_at_the_same_time(tmp_path, receiver):
    receiver.delay = 0.01
    await receiver.start()
    async with database("postgresql", tmp_path) as url:
        s = settings(url, receiver, batch_size=10, concurrency=5)
        async with Stack(s) as a, Stack(s) as b:
            await make(a.service, 100)
            b.dispatcher.wake()
            await wait_for(lambda: a.all_delivered(100), timeout=60)
            assert receiver.overlaps == 0
            assert set(receiver.accepted.values()) == {1} and len(receiver.accepted) == 100
            assert a.dispatcher.delivered > 0 and b.dispatcher.delivered > 0
            assert a.dispatcher.delivered + b.dispatcher.delivered == 100


async def test_migrations_are_idempotent_and_versioned(db_url):
    engine = make_engine(db_url)
    try:
        await migrate(engine)  # already at head: nothing to do, no error
        async with engine.connect() as conn:
            version = (await conn.exec_driver_sql("SELECT version_num FROM tickets_alembic_version")).scalar()
        assert version == "0005"   # 0004-0005: dispositions and knowledge items; outbox rows without a ticket (issue 21)
    finally:
        await engine.dispose()


def test_postgres_fixture_is_a_real_server():
    assert postgres().port > 0
