"""Follow-up calls (回访) with two layer instances on one outbound database (issue 22, README "In production"
step 10): a due follow-up is claimed by one instance only, so a citizen is never called by both; a restart
releases only the restarting instance's calls; a dead instance's calls are taken over once its lease has
passed. Store-level on SQLite and PostgreSQL, and two outbound parts against one simulated switch."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from pathlib import Path

import pytest
from calls_support import settings_for
from outbound_support import outbound_centre, outbound_settings
from tickets_support import postgres
from waiting import until

from cti.app import Layer
from cti.outbound.part import OutboundPart
from cti.outbound.store import Store
from cti.simulator.outbound import CitizenPhone

CAMPAIGN = "list-2026"
LEASE = 100.0     # seconds; the tests pass their own clock ("now") to the store


@contextlib.asynccontextmanager
async def shared_url(kind: str, tmp_path: Path):
    """One outbound database both instances use: a SQLite file or a fresh PostgreSQL database."""
    if kind == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'outbound.db'}"
        return
    name = await postgres().create_database()
    try:
        yield postgres().url(name)
    finally:
        await postgres().drop_database(name)


@contextlib.asynccontextmanager
async def hosts(url: str, *names: str):
    """A migrated Store per instance name, all on ``url``."""
    stores = [Store(url, name) for name in names]
    try:
        for store in stores:
            await store.migrate()
        yield stores
    finally:
        for store in stores:
            await store.close()


async def add(store: Store, count: int, now: float = 0.0) -> list[int]:
    await store.campaign(CAMPAIGN, now)
    return [(await store.add_followup(CAMPAIGN, f"139{n:08d}", f"T{n}", now, now)).id for n in range(count)]


async def states(store: Store) -> dict[int, tuple[str, str | None]]:
    return {f.id: (f.state, f.claimed_by) for f in await store.followups()}


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
async def test_given_two_instances_claiming_together_then_each_followup_is_claimed_by_one_only(kind, tmp_path):
    async with shared_url(kind, tmp_path) as url, hosts(url, "host-a", "host-b") as (a, b):
        ids = await add(a, 30)

        async def claim_all(store: Store) -> list[int]:
            got = []
            for _ in range(200):   # bounded: a claim lost to the other instance returns None, the next looks again
                f = await store.claim({CAMPAIGN}, 1.0, LEASE)
                if f is not None:
                    got.append(f.id)
                elif all(st != "pending" for st, _ in (await states(store)).values()):
                    return got
            return got

        by_a, by_b = await asyncio.gather(claim_all(a), claim_all(b))
        assert not set(by_a) & set(by_b), f"claimed by both: {sorted(set(by_a) & set(by_b))}"
        assert sorted(by_a + by_b) == ids, (by_a, by_b)
        stored = await states(a)
        assert {stored[i] for i in by_a} <= {("calling", "host-a")} and {stored[i] for i in by_b} <= {("calling", "host-b")}
        assert {f.attempts for f in await a.followups()} == {1}


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
async def test_given_both_instances_calling_when_one_restarts_then_only_its_own_calls_are_scheduled_again(
        kind, tmp_path):
    async with shared_url(kind, tmp_path) as url:
        async with hosts(url, "host-a", "host-b") as (a, b):
            first, second = await add(a, 2)
            assert (await a.claim({CAMPAIGN}, 1.0, LEASE)).id == first
            assert (await b.claim({CAMPAIGN}, 1.0, LEASE)).id == second
        async with hosts(url, "host-a") as (restarted,):
            assert await restarted.release_calling(2.0) == 1
            assert await states(restarted) == {first: ("pending", None), second: ("calling", "host-b")}
            assert (await restarted.claim({CAMPAIGN}, 3.0, LEASE)).id == first   # host B's call is left alone


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
async def test_given_an_instance_died_mid_call_when_its_lease_passes_then_the_other_calls_the_citizen(kind, tmp_path):
    async with shared_url(kind, tmp_path) as url, hosts(url, "host-a", "host-b") as (dead, alive):
        calling, answered = await add(dead, 2)
        await dead.claim({CAMPAIGN}, 10.0, LEASE)
        await dead.claim({CAMPAIGN}, 10.0, LEASE)
        await dead.update(answered, state="answered")          # host A died in the middle of the survey
        assert await alive.release_expired(10.0 + LEASE - 1) == 0
        assert await alive.claim({CAMPAIGN}, 10.0 + LEASE - 1, LEASE) is None
        assert await alive.release_expired(10.0 + LEASE + 1) == 2
        taken = [await alive.claim({CAMPAIGN}, 10.0 + LEASE + 1, LEASE) for _ in range(2)]
        assert sorted((f.id, f.state, f.claimed_by, f.attempts) for f in taken) == [
            (calling, "calling", "host-b", 2), (answered, "calling", "host-b", 2)]


async def test_given_two_layers_on_one_postgresql_when_followups_are_due_then_each_citizen_is_called_once(tmp_path):
    """Two outbound parts (host A with the call part, whose FastAGI runs the surveys; host B) read one
    simulated switch and share one PostgreSQL database; each schedules half of the follow-ups."""
    citizens = [f"1390000{n:04d}" for n in range(8)]
    async with shared_url("postgresql", tmp_path) as url:
        s = outbound_settings(tmp_path, followup_hours=["00:00-23:59"]).model_copy(update={"database_url": url})

        def named(settings, name: str):
            return settings.model_copy(update={"monitor": settings.monitor.model_copy(update={"instance": name})})

        async with outbound_centre(tmp_path, s, configure=lambda st: named(st, "host-a")) as c:
            (tmp_path / "b").mkdir()
            b = Layer(named(settings_for(tmp_path / "b", c.sim.ami_port), "host-b"),
                      parts=[lambda layer: OutboundPart(layer, s)])
            await b.start()
            try:
                await b.ami.wait_connected(5)
                for number in citizens:
                    c.ext.citizens[number] = CitizenPhone(answer_delay=1, keys=["1", "1"])
                for number, part in zip(citizens, itertools.cycle([c.outbound, b.parts[0]])):
                    await part.schedule(CAMPAIGN, number)

                async def surveyed() -> bool:
                    return all(f.state == "done" for f in await c.outbound.store.followups())

                await until(surveyed, 30, what="every follow-up surveyed",
                            seen=lambda: (c.ext.dialled, c.outbound.calling, b.parts[0].calling))
                dialled = sorted(number for _t, number in c.ext.dialled)
                assert dialled == citizens, f"dialled {dialled}"
                done = await c.outbound.store.followups()
                assert {f.attempts for f in done} == {1}, [(f.number, f.attempts, f.claimed_by) for f in done]
            finally:
                await b.stop()
