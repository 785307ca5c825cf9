"""The simulator's clock: real time scaled by a factor.

``speed=10`` means ten simulated seconds per real second. Event ``Timestamp`` fields, queue_log lines,
hold and talk times all read :meth:`Clock.now`; every wait in the simulator goes through
:meth:`Clock.sleep`, so a high factor makes a whole scenario run in a fraction of its length.
"""

from __future__ import annotations

import asyncio
import time


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
        await asyncio.sleep(self.real(when - self.now()))

    def call_later(self, seconds: float, callback, *args) -> asyncio.TimerHandle:
        return asyncio.get_running_loop().call_later(self.real(seconds), callback, *args)
