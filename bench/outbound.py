"""Follow-up call benchmark against the PBX simulator: scheduler overhead per follow-up, AGI latency.

Run: ``.venv/bin/python bench/outbound.py [--calls 200] [--speed 50]``

1. Scheduler: ``--calls`` follow-ups are scheduled (stored in SQLite) and dialled by the outbound
   part's rounds (due query, do-not-call check, state update, pacing, Originate), with the pacing
   limits lifted; the clock stops when the simulator's citizen context has seen every call. Baseline
   in the same run: the same number of bare Originates sent one after the other through the AMI client.
2. AGI latency: the simulator's turnaround (our answer to the layer's next command, real seconds) over
   answered follow-up calls run by the real ``followup`` handler (survey, database, QueueSummary on
   "dissatisfied"); baseline in the same run: a bare handler sending the same commands.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from outbound_support import followup_centre, outbound_settings  # noqa: E402
from tickets_support import Receiver, make_secret, wait_for  # noqa: E402

from cti.outbound import agi as followup_agi  # noqa: E402
from cti.simulator.outbound import CitizenPhone  # noqa: E402


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


async def scheduler(c, n: int) -> tuple[float, float]:
    c.ext.default_citizen = CitizenPhone(answers=False)
    start = time.perf_counter()
    for i in range(n):
        await c.outbound.schedule("bench", f"1390{i:07d}")
    await wait_for(lambda: len(c.ext.dialled) >= n, 300, 0.001)
    ours = (time.perf_counter() - start) / n
    base_start, seen = time.perf_counter(), len(c.ext.dialled)
    # like the part, the Originates are sent without waiting for their OriginateResponse (the answer)
    sent = [asyncio.ensure_future(c.layer.ami.action({
        "Action": "Originate", "Channel": f"Local/1391{i:07d}@citizens", "Context": "cti-followup", "Exten": "0",
        "Priority": "1", "CallerID": '"12345" <12345>', "Timeout": "600000"}, timeout=900)) for i in range(n)]
    await wait_for(lambda: len(c.ext.dialled) >= seen + n, 300, 0.001)
    bare = (time.perf_counter() - base_start) / n
    for task in sent:
        task.cancel()
    for ch in list(c.sim.pbx.channels.values()):    # ring no more
        c.sim.pbx.destroy(ch)
    return ours, bare


async def agi_latency(c, n: int, bare: bool) -> list[float]:
    async def bare_followup(call) -> None:
        await followup_agi.survey(call)
        await call.stream_file(followup_agi.THANKS_PROMPT, "")

    if bare:
        c.layer.registry.add("followup", bare_followup)
    c.ext.default_citizen = CitizenPhone(answer_delay=0.5, keys=["3", "2"], key_delay=0.2, talk_time=5)
    c.sim.pbx.agi_turnarounds.clear()
    offset = 2_000_000 if bare else 3_000_000
    numbers = {f"139{offset + i:08d}" for i in range(n)}
    for number in sorted(numbers):
        await c.outbound.schedule("bench-agi", number)
    await wait_for(lambda: sum(d[1] in numbers for d in c.ext.dial_log) >= n and not c.outbound.calling, 600, 0.01)
    return list(c.sim.pbx.agi_turnarounds)


async def main(calls: int, speed: float) -> None:
    logging.disable(logging.WARNING)
    receiver = await Receiver().start()
    with tempfile.TemporaryDirectory() as tmp:
        s = outbound_settings(Path(tmp), followup_hours=["00:00-23:59"], calls_per_minute=10**6,
                              max_channels=10**6, ring_timeout=600)
        async with followup_centre(Path(tmp), s, receiver, make_secret(7), speed=speed,
                                   agents=()) as c:
            for agent in ("6001", "6002"):        # busy agents: every "dissatisfied" makes a ticket
                await c.layer.ami.action({"Action": "QueuePause", "Interface": f"Local/{agent}@agents/n",
                                          "Paused": "true"})
            ours, bare = await scheduler(c, calls)
            print(f"scheduler, {calls} follow-ups dialled one after another")
            print(f"  outbound part: {ours * 1000:.2f} ms per follow-up (store, due query, pacing, Originate)")
            print(f"  baseline bare Originate: {bare * 1000:.2f} ms")
            print(f"  ratio: {ours / bare:.2f}x, overhead {1000 * (ours - bare):.2f} ms per follow-up")
            n = max(10, calls // 10)
            real = await agi_latency(c, n, bare=False)
            base = await agi_latency(c, n, bare=True)
            print(f"followup AGI turnaround, {n} answered calls each (real ms)")
            for name, v in (("followup handler", real), ("bare survey handler", base)):
                print(f"  {name}: p50 {1000 * statistics.median(v):.2f}  p99 {1000 * pct(v, 99):.2f}  "
                      f"({len(v)} commands)")
            print(f"  ratio p50 {statistics.median(real) / statistics.median(base):.2f}x, "
                  f"p99 {pct(real, 99) / pct(base, 99):.2f}x")
    await receiver.stop()


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=200)
    ap.add_argument("--speed", type=float, default=50)
    a = ap.parse_args()
    asyncio.run(main(a.calls, a.speed))
