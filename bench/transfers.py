"""Three-way call benchmark: 200 concurrent three-way requests against the PBX simulator.

Run: ``.venv/bin/python bench/transfers.py [--calls 200] [--speed 50]``

Measured: the time from the agent's request to the department ringing (the department leg's
TRANSFERERNAME VarSet reaching the layer), p50 / p99. The baseline, in the same run and on the same
simulator, sends the very same six AMI actions (two __CTI_DEPT_* Setvars, TRANSFER_EXTEN,
TRANSFER_CONTEXT, PlayDTMF * and 2) straight through the AMI client and waits for the same event:
no hotline directory, working-hours check, state machine, call lookup or bus publishing.
The ratio shows what the layer costs on top of the AMI round trips. Target: p99 < 100 ms.
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

from calls_support import settings_for, until  # noqa: E402

from cti.app import Layer  # noqa: E402
from cti.calls import actions  # noqa: E402
from cti.calls.part import CallsPart  # noqa: E402
from cti.simulator import SimConfig, Simulator  # noqa: E402
from cti.simulator.config import DepartmentTiming, QueueConfig  # noqa: E402


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


async def place_calls(layer: Layer, part: CallsPart, n: int, first: int) -> list[str]:
    known = set(part.control.tracker.calls)
    await asyncio.gather(*(layer.ami.action({
        "Action": "Originate", "Channel": "Local/99@from-pstn", "Context": "caller", "Exten": "silent",
        "Priority": 1, "CallerID": f'"Bench" <139{first + i:08d}>', "Timeout": 30000}) for i in range(n)))
    await until(lambda: len(set(part.control.tracker.calls) - known) >= n, 120)
    return sorted(set(part.control.tracker.calls) - known)


async def baseline(layer: Layer, part: CallsPart, call_ids: list[str]) -> list[float]:
    """The same actions, sent bare; the clock stops when the department leg's VarSet arrives."""
    agents = {part.control.tracker.get(c).agent_channel: c for c in call_ids}
    started: dict[str, float] = {}
    rang: dict[str, float] = {}

    def on_event(_topic, m) -> None:
        if m.name == "VarSet" and m.get("Variable") == "TRANSFERERNAME" and m.get("Value") in started:
            rang.setdefault(m["Value"], time.perf_counter())

    unsubscribe = layer.bus.subscribe("ami.event", on_event)

    async def one(agent: str) -> None:
        started[agent] = time.perf_counter()
        steps = actions.department_vars(agent, "PJSIP/12315@hotlines", 15, False) + \
            actions.threeway_start(agent, "12315", "departments", "*2")
        for action in steps:
            await layer.ami.action({**action, "Async": "false"} if action["Action"] == "PlayDTMF" else action)

    await asyncio.gather(*(one(a) for a in agents))
    await until(lambda: len(rang) == len(agents), 60)
    unsubscribe()
    return [rang[a] - started[a] for a in agents]


async def layer_run(part: CallsPart, call_ids: list[str]) -> list[float]:
    control = part.control
    before = len(control.ring_latencies)
    await asyncio.gather(*(control.transfer(c, "12315", "threeway") for c in call_ids))
    await until(lambda: len(control.ring_latencies) - before >= len(call_ids), 60)
    return control.ring_latencies[before:before + len(call_ids)]


async def main(n: int, speed: float) -> None:
    logging.basicConfig(level=logging.ERROR)
    members = [str(7000 + i) for i in range(2 * n)]
    sim = Simulator(SimConfig(ami_port=0, agi_port=1, speed=speed, seed=1,
                              queues=[QueueConfig("public", members, timeout=20, retry=1)]))
    await sim.start()
    for m in members:
        sim.pbx.set_agent(m, 1, 3600)
    sim.config.default_department = DepartmentTiming(answer_delay=600, talk_time=3600)
    with tempfile.TemporaryDirectory() as tmp:
        layer = Layer(settings_for(Path(tmp), sim.ami_port), parts=[CallsPart])
        part = layer.parts[0]
        import datetime as dt
        from zoneinfo import ZoneInfo
        part.control.clock = lambda: dt.datetime(2026, 3, 4, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
        await layer.start()
        try:
            await layer.ami.wait_connected(5)
            bare_calls = await place_calls(layer, part, n, 0)
            layer_calls = await place_calls(layer, part, n, n)
            bare = await baseline(layer, part, bare_calls)
            ours = await layer_run(part, layer_calls)
        finally:
            await layer.stop()
            await sim.stop()
    ms = lambda v: v * 1000  # noqa: E731
    print(f"three-way calls: {n} concurrent requests, simulator speed x{speed:g}")
    print(f"  baseline (bare AMI actions)  p50 {ms(statistics.median(bare)):7.1f} ms   p99 {ms(pct(bare, 99)):7.1f} ms")
    print(f"  cti.calls (request->ringing) p50 {ms(statistics.median(ours)):7.1f} ms   p99 {ms(pct(ours, 99)):7.1f} ms")
    print(f"  ratio layer/baseline         p50 {statistics.median(ours) / statistics.median(bare):7.2f}x"
          f"      p99 {pct(ours, 99) / pct(bare, 99):7.2f}x")
    overhead = pct(ours, 99) - pct(bare, 99)
    print(f"  layer time at p99 (ours - baseline): {ms(overhead):.1f} ms (target < 100 ms): "
          f"{'OK' if overhead < 0.1 else 'OVER'}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--speed", type=float, default=50.0)
    args = parser.parse_args()
    asyncio.run(main(args.calls, args.speed))
