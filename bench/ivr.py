"""IVR benchmark: pure interpreter steps/s, and 1,000 concurrent callers walking `main` over FastAGI.

Run: ``.venv/bin/python bench/ivr.py [--calls 1000] [--seconds 2]``

1. Pure: the interpreter walks the shipped flows (keys 1, 2-1-1, 9, invalid twice, silence) for
   ``--seconds``; a step is one node. Baseline, same run: a bare dict-dispatch loop over the same
   number of nodes (what any Python state machine costs at least). Target: >= 100,000 steps/s.
2. FastAGI: the PBX simulator runs in a child process (this file with ``--sim``, at real-time speed)
   and places ``--calls`` callers at once, each listening to the welcome and pressing 1 in the menu;
   this process runs the FastAGI server with the flow engine. Latency is measured for the control
   commands (GET/SET VARIABLE: no media time in them) from write to answer; CPU is this process's
   CPU seconds per call. Baseline, same run: the built-in placeholder ``ivr`` handler
   (cti/agi/builtin.py) under the same callers. Target: p99 < 20 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import logging
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.chdir(ROOT)

from cti.agi import AgiServer, Registry  # noqa: E402
from cti.agi.builtin import ivr as builtin_ivr  # noqa: E402
from cti.agi.call import AgiCall  # noqa: E402
from cti.bus import EventBus  # noqa: E402
from ivr_flows.interpreter import NO_INPUT, AskDigits, Finish, Input, Interpreter  # noqa: E402
from ivr_flows.part import build_calendar, build_engine, build_store  # noqa: E402
from ivr_flows.settings import FlowsSettings  # noqa: E402

NOON = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
ARRIVAL_SPREAD = 3.0  # seconds over which the callers arrive
WALKS = [["1"], ["2", "1", "1"], ["9"], ["7", "5"], [], ["2", "0", "1"], ["2", "2"]]


# --- 1. pure -----------------------------------------------------------------------------------------
def pure(seconds: float) -> tuple[float, float]:
    settings = FlowsSettings()
    store = build_store(settings)
    assert store.reload(), store.last_errors
    flows = store.current
    interp = Interpreter(build_calendar(settings))
    steps = 0
    deadline = time.perf_counter() + seconds
    start = time.perf_counter()
    while time.perf_counter() < deadline:
        for keys in WALKS:
            for _ in range(50):
                st = interp.new_state(flows, "main", {"caller": "13800000001", "hotline": "12345"})
                action = interp.start(st, NOON)
                queue = list(keys)
                while not isinstance(action, Finish):
                    if isinstance(action, AskDigits):
                        event = Input(queue.pop(0)) if queue else NO_INPUT
                    else:
                        event = Input("")
                    action = interp.resume(st, event, NOON)
                steps += st.steps
    ours = steps / (time.perf_counter() - start)

    table = {i: (lambda s, i=i: (i + 1) % 9) for i in range(9)}  # the bare baseline: dispatch only
    n = 0
    start = time.perf_counter()
    node = 0
    state: dict = {}
    while n < steps:
        node = table[node](state)
        n += 1
    bare = steps / (time.perf_counter() - start)
    return ours, bare


# --- 2. FastAGI against the simulator ------------------------------------------------------------
async def sim_child(agi_port: int, calls: int, steps_kind: str) -> None:
    from cti.simulator import QueueConfig, SimConfig, Simulator
    from cti.simulator.scripted import place_scripted_call

    logging.disable(logging.WARNING)
    sim = Simulator(SimConfig(
        ami_port=0, agi_port=agi_port, speed=1.0, seed=1, start_epoch=NOON.timestamp(),
        agi_connect_timeout=30.0,
        queues=[QueueConfig("public", [f"6{i:03d}" for i in range(50)]), QueueConfig("enterprise", ["7001"]),
                QueueConfig("supervision", ["8001"])]))
    await sim.start()
    # main: the welcome (barge-in) and the menu listen for keys; the placeholder only its GET DATA.
    steps = [("prompt",), ("prompt",), ("wait", 0.5), ("dtmf", "1")] if steps_kind == "flows" else \
        [("prompt",), ("wait", 0.5), ("dtmf", "1")]
    # Arrivals spread over 3 s while each IVR lasts ~6 s: all the callers are in the IVR together.
    callers = []
    for i in range(calls):
        callers.append(place_scripted_call(sim, steps, f"138{i:08d}"))
        await asyncio.sleep(ARRIVAL_SPREAD / calls)
    await asyncio.sleep(0.5)
    peak = sim.totals().get("active", 0)  # every caller is still in the IVR at this moment
    queued = await asyncio.gather(*(c.wait_queued(120) for c in callers))
    print(sum(q is not None for q in queued), peak, flush=True)
    await sim.stop()


async def serve(handler_name: str, calls: int) -> dict:
    latencies: list[float] = []
    original = AgiCall.command

    async def timed(self, line: str, *, timeout=None):
        t0 = time.perf_counter()
        try:
            return await original(self, line, timeout=timeout)
        finally:
            if line.startswith(("SET VARIABLE", "GET VARIABLE")):
                latencies.append(time.perf_counter() - t0)

    AgiCall.command = timed
    registry = Registry()
    if handler_name == "flows":
        settings = FlowsSettings()
        store = build_store(settings)
        store.reload()
        engine = build_engine(settings, store, build_calendar(settings), bus=EventBus(), clock=NOON.timestamp)
        registry.add("ivr", engine.ivr)
    else:
        registry.add("ivr", builtin_ivr)
    server = AgiServer(registry, port=0, command_timeout=60)
    await server.start()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--sim", str(server.port), "--calls", str(calls), "--kind", handler_name,
        stdout=subprocess.PIPE)
    out, _ = await proc.communicate()
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    await server.stop(1.0)
    AgiCall.command = original
    lat = sorted(latencies)
    queued, peak = (int(x) for x in out.split()) if out.strip() else (0, 0)
    return {"queued": queued, "peak": peak, "ok": server.stats.ok, "failed": server.stats.failed,
            "p50": statistics.median(lat) * 1000, "p99": lat[int(len(lat) * 0.99) - 1] * 1000,
            "cpu_ms": cpu / calls * 1000, "wall": wall, "commands": len(lat)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--sim", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--kind", default="flows", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.sim:
        asyncio.run(sim_child(args.sim, args.calls, args.kind))
        return 0
    logging.disable(logging.WARNING)
    ours, bare = pure(args.seconds)
    print("IVR benchmark (bench/ivr.py)")
    print(f"pure interpreter: {ours:,.0f} steps/s; bare dispatch baseline {bare:,.0f} steps/s "
          f"(ratio {ours / bare:.3f}); target 100,000 steps/s: {'met' if ours >= 100_000 else 'NOT met'} "
          f"({ours / 100_000:.1f}x)")
    base = asyncio.run(serve("builtin", args.calls))
    flows = asyncio.run(serve("flows", args.calls))
    for name, r in (("built-in placeholder ivr (baseline)", base), ("YAML flow engine, main", flows)):
        print(f"{name}: {args.calls} concurrent callers, {r['ok']} ok / {r['failed']} failed, {r['queued']} queued, {r['peak']} in the IVR at once; "
              f"control-command latency p50 {r['p50']:.2f} ms p99 {r['p99']:.2f} ms over {r['commands']} commands; "
              f"CPU {r['cpu_ms']:.2f} ms/call; wall {r['wall']:.1f} s")
    print(f"ratios flows/baseline: p99 latency {flows['p99'] / base['p99']:.2f}x, "
          f"CPU per call {flows['cpu_ms'] / base['cpu_ms']:.2f}x; target p99 < 20 ms: "
          f"{'met' if flows['p99'] < 20 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
