"""The simulator's clocks: real time scaled by a factor, or lockstep time for repeatable runs.

``speed=10`` means ten simulated seconds per real second. Event ``Timestamp`` fields, queue_log lines,
hold and talk times all read :meth:`Clock.now`; every wait in the simulator goes through the clock
(:meth:`Clock.sleep`, :meth:`Clock.call_later`, :meth:`Clock.wait`, :meth:`Clock.wait_for`), so a
high factor makes a whole scenario run in a fraction of its length.

:class:`LockstepClock` is a discrete-event clock paced by the same factor: simulated time moves only
from one scheduled moment to the next, in (time, order of scheduling) order, and stands still while
the simulator waits for the layer's next FastAGI command (:meth:`Clock.hold`). The layer's reaction
time and the event loop's jitter therefore never change what happens next: with a seed, the same
calls meet the same outcomes at the same simulated instants.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator

log = logging.getLogger(__name__)


class Clock:
    def __init__(self, speed: float = 1.0, start: float | None = None) -> None:
        if speed <= 0:
            raise ValueError("speed must be > 0")
        self.speed = float(speed)
        self._real0 = time.monotonic()  # the clock asyncio's loop uses too
        self._sim0 = time.time() if start is None else float(start)

    def now(self) -> float:
        """Simulated epoch seconds."""
        return self._sim0 + (time.monotonic() - self._real0) * self.speed

    def real(self, seconds: float) -> float:
        """Real seconds that ``seconds`` of simulated time take."""
        return max(0.0, seconds) / self.speed

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(self.real(seconds))

    async def sleep_until(self, when: float) -> None:
        await self.sleep(when - self.now())

    def call_later(self, seconds: float, callback: Callable, *args) -> asyncio.TimerHandle:
        return asyncio.get_running_loop().call_later(self.real(seconds), callback, *args)

    async def wait(self, aws: Iterable[asyncio.Future], seconds: float) -> set:
        """The first of ``aws`` to finish within ``seconds`` simulated (the done set; empty on time out)."""
        done, _ = await asyncio.wait(list(aws), timeout=self.real(seconds), return_when=asyncio.FIRST_COMPLETED)
        return done

    async def wait_for(self, aw: Awaitable, seconds: float):
        """``aw``'s result, or TimeoutError after ``seconds`` simulated."""
        return await asyncio.wait_for(aw, self.real(seconds))

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        """The simulator waits on its peer (the layer); scaled real time runs on regardless."""
        yield

    def close(self) -> None:
        """Nothing to stop: asyncio's own timers drive this clock."""


class _Timer:
    __slots__ = ("callback", "args", "cancelled")

    def __init__(self, callback: Callable, args: tuple) -> None:
        self.callback, self.args, self.cancelled = callback, args, False

    def cancel(self) -> None:
        self.cancelled = True


class LockstepClock(Clock):
    """Discrete-event simulated time, paced at ``speed`` times real time, frozen while held.

    ``hold_limit`` (real seconds) bounds one hold, so a layer that never answers cannot freeze the
    switch: after it, time runs on and the caller's own timers (patience, hang-up) fire as usual.
    ``settle`` is the number of event-loop turns given to the tasks an event woke before the next
    event fires; their in-memory steps run in a fixed order within those turns.
    """

    def __init__(self, speed: float = 1.0, start: float | None = None, hold_limit: float = 5.0,
                 settle: int = 10) -> None:
        super().__init__(speed, start)
        self._now = self._sim0
        self._timers: list[tuple[float, int, _Timer]] = []
        self._order = itertools.count()
        self._held = 0
        self._anchor: tuple[float, float] | None = None   # (loop time, simulated time) pacing starts from
        self._changed: asyncio.Event | None = None
        self._driver: asyncio.Task | None = None
        self.hold_limit, self.settle = hold_limit, settle

    def now(self) -> float:
        return self._now

    def call_later(self, seconds: float, callback: Callable, *args) -> _Timer:
        timer = _Timer(callback, args)
        heapq.heappush(self._timers, (self._now + max(0.0, seconds), next(self._order), timer))
        self._wake()
        return timer

    async def sleep(self, seconds: float) -> None:
        fut = asyncio.get_running_loop().create_future()
        timer = self.call_later(seconds, _resolve, fut)
        try:
            await fut
        finally:
            timer.cancel()

    async def wait(self, aws: Iterable[asyncio.Future], seconds: float) -> set:
        aws = list(aws)
        fut = asyncio.get_running_loop().create_future()
        timer = self.call_later(seconds, _resolve, fut)
        try:
            done, _ = await asyncio.wait([*aws, fut], return_when=asyncio.FIRST_COMPLETED)
        finally:
            timer.cancel()
            fut.cancel()
        return {f for f in aws if f in done}

    async def wait_for(self, aw: Awaitable, seconds: float):
        task = asyncio.ensure_future(aw)
        if not await self.wait([task], seconds):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            raise TimeoutError
        return task.result()

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        """Simulated time stands still until the block ends or ``hold_limit`` real seconds pass."""
        released = False

        def release(late: bool = False) -> None:
            nonlocal released
            if released:
                return
            released = True
            if late:
                log.warning("lockstep clock: the layer has not answered for %gs; simulated time runs on",
                            self.hold_limit)
            self._held -= 1
            self._anchor = None          # the hold's real time is not simulated time
            self._wake()

        self._held += 1
        limit = asyncio.get_running_loop().call_later(self.hold_limit, release, True)
        try:
            yield
        finally:
            limit.cancel()
            release()

    # -- the driver: fires the earliest timer when its paced moment comes ----------------------------
    def _wake(self) -> None:
        if self._changed is None:
            self._changed = asyncio.Event()
            self._driver = asyncio.get_running_loop().create_task(self._drive(), name="lockstep clock")
        self._changed.set()

    async def _drive(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            for _ in range(self.settle):
                await asyncio.sleep(0)
            if self._held or not self._timers:
                self._changed.clear()
                await self._changed.wait()
                continue
            when, _, timer = self._timers[0]
            if timer.cancelled:
                heapq.heappop(self._timers)
                continue
            if self._anchor is None:
                self._anchor = (loop.time(), self._now)
            delay = self._anchor[0] + (when - self._anchor[1]) / self.speed - loop.time()
            if delay > 0:
                self._changed.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(delay):   # not wait_for: 3.11's can swallow a cancel
                        await self._changed.wait()
                continue                 # an earlier timer or a hold may have come meanwhile
            heapq.heappop(self._timers)
            self._now = max(self._now, when)
            timer.callback(*timer.args)

    def close(self) -> None:
        if self._driver is not None:
            self._driver.cancel()


def _resolve(fut: asyncio.Future) -> None:
    if not fut.done():
        fut.set_result(None)
