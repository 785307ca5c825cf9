"""The lockstep clock: events in simulated-time order, time frozen while the layer holds it."""

from __future__ import annotations

import asyncio

import pytest

from cti.simulator.clock import Clock, LockstepClock

START = 1_790_000_000.0


async def test_events_fire_in_time_then_scheduling_order_at_their_exact_instant():
    clock = LockstepClock(speed=1000, start=START)
    fired = []
    for name, at in [("c", 2.0), ("a", 1.0), ("b", 2.0), ("late", 0.5)]:
        clock.call_later(at, lambda n=name: fired.append((n, clock.now() - START)))
    cancelled = clock.call_later(1.5, lambda: fired.append(("cancelled", None)))
    cancelled.cancel()
    await clock.sleep(3)
    assert fired == [("late", 0.5), ("a", 1.0), ("c", 2.0), ("b", 2.0)]
    assert clock.now() == START + 3
    clock.close()


async def test_time_stands_still_while_held_and_runs_on_after():
    clock = LockstepClock(speed=1000, start=START)
    fired = asyncio.Event()
    clock.call_later(0.01, fired.set)               # 10 us of real time
    with clock.hold():                              # the layer's turn: nothing happens meanwhile
        await asyncio.sleep(0.05)
        assert not fired.is_set() and clock.now() == START
    await asyncio.wait_for(fired.wait(), 5)
    assert clock.now() == START + 0.01
    clock.close()


async def test_a_hold_the_layer_never_ends_lets_time_run_on_after_its_limit(caplog):
    clock = LockstepClock(speed=1000, start=START, hold_limit=0.05)
    with clock.hold():
        await asyncio.wait_for(clock.sleep(1), 5)   # a caller's patience still runs out
        assert clock.now() == START + 1
    assert "has not answered" in caplog.text
    clock.close()


@pytest.mark.parametrize("make", [lambda: Clock(speed=1000, start=START),
                                  lambda: LockstepClock(speed=1000, start=START)])
async def test_waits_end_on_the_first_result_or_the_simulated_timeout(make):
    clock = make()
    never = asyncio.get_running_loop().create_future()
    assert await clock.wait([never], 2) == set()
    with pytest.raises(TimeoutError):
        await clock.wait_for(asyncio.Event().wait(), 2)
    soon = asyncio.get_running_loop().create_future()
    clock.call_later(1, soon.set_result, "answered")
    assert await clock.wait([never, soon], 60) == {soon}
    assert await clock.wait_for(asyncio.shield(soon), 60) == "answered"
    assert clock.now() - START >= 3
    never.cancel()
    clock.close()
