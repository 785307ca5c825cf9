"""Traffic generator: Poisson arrivals over a daily rate profile, callers with keys and patience.

Seeded: the same seed gives the same arrivals, keys, patience and agent behaviour. Each caller is a
small script on the ``;1`` half of its Local pair: it listens for the IVR menu, presses its key (or
nothing), then waits in the queue until answered or out of patience.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from .pbx import mask

if TYPE_CHECKING:
    from .pbx import Pbx

log = logging.getLogger(__name__)

# Share of a day's calls in each hour (a government hotline: 8:00-18:00 busy, a lunch dip, quiet nights)
HOURLY_PROFILE = [0.4, 0.25, 0.2, 0.2, 0.25, 0.5, 1.2, 3.0, 7.5, 9.5, 9.8, 8.0,
                  5.5, 7.0, 9.0, 9.2, 8.5, 6.5, 3.5, 2.6, 2.2, 1.8, 1.2, 0.7]


@dataclass
class TrafficProfile:
    calls_per_day: float = 7300.0
    hourly: list[float] = field(default_factory=lambda: list(HOURLY_PROFILE))
    keys: dict[str, float] = field(default_factory=lambda: {"1": 0.70, "2": 0.12, "9": 0.05, "": 0.13})
    key_delay: tuple[float, float] = (0.5, 3.0)       # seconds after the menu starts
    patience_mean: float = 75.0                        # exponential abandon time once queued
    patience_min: float = 3.0
    exten: str = "12345"
    pause_every: float = 3600.0                        # mean seconds between an agent's breaks (0: none)
    pause_length: tuple[float, float] = (120.0, 600.0)
    rate_factor: float = 1.0                           # scale the whole profile (load tests)
    min_per_hour: float = 0.0                          # a floor for quiet hours (the demo's nights)
    first_at_once: bool = False                        # the first caller rings at the start
    timezone: str = "Asia/Shanghai"                    # the centre's hours, whatever the host's zone

    def rate(self, epoch: float) -> float:
        """Arrivals per second at this simulated time (the centre's local time of day)."""
        hour = dt.datetime.fromtimestamp(epoch, ZoneInfo(self.timezone)).hour
        total = sum(self.hourly) or 1.0
        profile = self.calls_per_day * self.rate_factor * self.hourly[hour] / total
        return max(profile, self.min_per_hour) / 3600.0


class TrafficCaller:
    def __init__(self, key: str, key_delay: float, patience: float) -> None:
        self.key, self.key_delay, self.patience = key, key_delay, patience

    async def run(self, pbx: Pbx, one) -> None:
        call = one.call
        pbx.newexten(one, "Wait", "traffic", 1)
        try:
            if self.key and await self._until(pbx, one, call.prompted, 30.0) is not False:
                if call.prompted.is_set() and await pbx.wait(one, self.key_delay):
                    await self._press(pbx, one)
            if not await self._alive(one):
                return pbx.destroy(one)
            joined = await self._until(pbx, one, call.joined, 600.0)
            if joined is None:
                return pbx.destroy(one)
            if joined:
                answered = await self._until(pbx, one, call.connected, self.patience)
                if answered is None:
                    return pbx.destroy(one)
                if not answered:
                    pbx.newexten(one, "Hangup", "", 3)
                    return pbx.destroy(one)
            await pbx.wait(one, 86400.0)
            pbx.destroy(one)
        except asyncio.CancelledError:
            raise

    async def _press(self, pbx: Pbx, one) -> None:
        """Press the key while a prompt is listening: a caller who hears the menu keys in then.

        Pressing into the gap between two AGI commands would lose the key, and whether a key falls
        into that gap depends on the layer's speed, not on the seed: a seeded run must not.
        """
        target = one.peer or one
        for _ in range(100):
            if target.dtmf_sink is not None or target.gone:
                break
            if not await pbx.wait(one, 0.1):
                return
        if target.gone:
            return
        pbx.newexten(one, "SendDTMF", self.key, 2)
        pbx.chan_event("DTMFBegin", target, [("Digit", self.key), ("Direction", "Received")])
        pbx.receive_dtmf(target, self.key, duration_ms=100)

    async def _alive(self, one) -> bool:
        return not (one.gone or one.hangup_requested.is_set())

    async def _until(self, pbx: Pbx, one, event: asyncio.Event, seconds: float,
                     also: asyncio.Event | None = None) -> bool | None:
        """True when ``event`` (or ``also``) fired, False after ``seconds``, None when hung up."""
        if event.is_set() or (also is not None and also.is_set()):
            return True
        waiters = [asyncio.ensure_future(event.wait()), asyncio.ensure_future(one.hangup_requested.wait())]
        if also is not None:
            waiters.append(asyncio.ensure_future(also.wait()))
        try:
            await pbx.clock.wait(waiters, seconds)
        finally:
            for w in waiters:
                w.cancel()
        if one.hangup_requested.is_set() or one.gone:
            return None
        return event.is_set() or (also is not None and also.is_set())


MAX_BEHIND = 120.0   # simulated seconds the arrival schedule may lag before owed calls are skipped


class TrafficGenerator:
    def __init__(self, pbx: Pbx, profile: TrafficProfile, seed: int | None = None,
                 max_calls: int | None = None) -> None:
        self.pbx, self.profile = pbx, profile
        self.max_calls = max_calls
        self.rng = random.Random(seed)
        # Breaks draw from their own stream so that callers stay the same whatever the timing.
        self.break_rng = random.Random(None if seed is None else f"{seed}/breaks")
        self._tasks: list[asyncio.Task] = []
        self._seq = 0

    def start(self) -> None:
        self._tasks.append(asyncio.get_running_loop().create_task(self._arrivals()))
        if self.profile.pause_every > 0:
            self._tasks.append(asyncio.get_running_loop().create_task(self._breaks()))

    def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        self._tasks.clear()

    def _caller(self) -> TrafficCaller:
        p, rng = self.profile, self.rng
        keys, weights = zip(*p.keys.items(), strict=True)
        key = rng.choices(keys, weights)[0]
        return TrafficCaller(key, rng.uniform(*p.key_delay),
                             # shifted, not clamped: no pile of callers who all give up at one instant
                             p.patience_min + rng.expovariate(1.0 / max(1.0, p.patience_mean - p.patience_min)))

    def _number(self) -> str:
        return "1" + self.rng.choice("3578") + "".join(self.rng.choice("0123456789") for _ in range(9))

    async def _arrivals(self) -> None:
        """Place calls at Poisson arrival instants (simulated epoch seconds) drawn from the profile's rate.

        Arrivals follow one absolute schedule: a loop that wakes late (a busy machine at speed 400) places
        the calls it owes at once instead of losing the lag on every gap (a half hour then offered 231
        calls instead of over 300). A machine that cannot keep up at all (more than MAX_BEHIND simulated
        seconds late) skips the calls it owes, with a warning, instead of flooding itself with them.
        In lockstep no arrival is ever late."""
        pbx = self.pbx
        at = pbx.clock.now()
        while self.max_calls is None or self._seq < self.max_calls:
            if pbx.clock.now() - at > MAX_BEHIND:
                log.warning("traffic: %.0f simulated seconds behind the arrival schedule (machine too busy "
                            "for speed x%g); skipping the calls owed", pbx.clock.now() - at, pbx.clock.speed)
                at = pbx.clock.now()
            rate = self.profile.rate(at)
            if rate <= 0:
                at += 60
                await pbx.clock.sleep_until(at)
                continue
            gap = 0.0 if self._seq == 0 and self.profile.first_at_once else self.rng.expovariate(rate)
            if gap > 600:  # the rate may change within a long gap: re-draw at the next step
                at += 600
                await pbx.clock.sleep_until(at)
                continue
            at += gap
            await pbx.clock.sleep_until(at)
            number = self._number()
            self._seq += 1
            log.debug("traffic call %d from %s", self._seq, mask(number))
            pbx.dialplan.place_call(self._caller(), number, "市民", self.profile.exten)   # what the desk shows

    async def _breaks(self) -> None:
        """Agents take breaks: QueuePause on all their queues, then back."""
        pbx, p = self.pbx, self.profile
        members = sorted({m.interface for q in pbx.queues.values() for m in q.members})
        if not members:
            return
        while True:
            await pbx.clock.sleep(self.break_rng.expovariate(len(members) / p.pause_every))
            iface = self.break_rng.choice(members)
            length = self.break_rng.uniform(*p.pause_length)
            pbx.queue_app.pause(iface, True, "小休")   # a reason of calls.pause_reasons, as agents pick it
            pbx.clock.call_later(length, pbx.queue_app.pause, iface, False, "")
