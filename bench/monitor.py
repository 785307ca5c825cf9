"""Queue monitor benchmark: engine events/s, end-to-end delay to wallboards, memory over 1M calls.

Run: ``.venv/bin/python bench/monitor.py [--calls 1000000] [--in-progress 500] [--wallboards 100]``

1. Events/s through the pure engine (target >= 200,000/s), against a baseline that only dispatches
   the same events by name and reads their Timestamp (what any consumer must do at least).
2. End-to-end delay from an AMI event's Timestamp (the PBX simulator at speed 1, its clock = wall
   clock) to a WebSocket wallboard receiving figures that include it, p50/p99, with N calls in progress
   and M connected wallboards (target p99 < 250 ms); baseline: one wallboard and an idle centre.
3. Resident memory after 100k and after --calls simulated calls through the engine (must stay flat).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cti.ami.message import AmiMessage  # noqa: E402
from queue_monitor.engine import QueueEngine  # noqa: E402

START = 1795339200.0


def call_events(i: int, t: float) -> list[AmiMessage]:
    """One queue call's events as Asterisk sends them: 80% answered, 15% abandoned, 5% timed out."""
    uid, lid, q = f"{t:.0f}.{2 * i + 1}", f"{t:.0f}.{2 * i}", ("public", "enterprise", "supervision")[i % 3]
    agent = f"Local/{6001 + i % 85}@agents/n"
    m = AmiMessage.of
    base = dict(Uniqueid=uid, Linkedid=lid, Queue=q)
    out = [m(Event="QueueCallerJoin", Timestamp=f"{t:.6f}", Position="1", **base)]
    kind = i % 20
    if kind < 16:
        out += [m(Event="QueueCallerLeave", Timestamp=f"{t + 4.1:.6f}", **base),
                m(Event="AgentConnect", Timestamp=f"{t + 4.1:.6f}", Interface=agent, MemberName=agent,
                  DestUniqueid=f"a{i}", HoldTime="4", **base),
                m(Event="AgentComplete", Timestamp=f"{t + 170:.6f}", Interface=agent, TalkTime="166", **base),
                m(Event="Hangup", Timestamp=f"{t + 170.1:.6f}", Cause="16", **base)]
    elif kind < 19:
        out += [m(Event="QueueCallerAbandon", Timestamp=f"{t + 9:.6f}", HoldTime="9", **base),
                m(Event="QueueCallerLeave", Timestamp=f"{t + 9:.6f}", **base),
                m(Event="Hangup", Timestamp=f"{t + 9.1:.6f}", Cause="16", **base)]
    else:
        out += [m(Event="QueueCallerAbandon", Timestamp=f"{t + 60:.6f}", HoldTime="60", **base),
                m(Event="QueueCallerLeave", Timestamp=f"{t + 60:.6f}", **base),
                m(Event="VarSet", Timestamp=f"{t + 60:.6f}", Variable="QUEUESTATUS", Value="TIMEOUT", **base),
                m(Event="Hangup", Timestamp=f"{t + 60.1:.6f}", Cause="16", **base)]
    return out


def interleaved(calls: int, start: int = 0, per_second: float = 2.0):
    """Events of overlapping calls in time order, generated lazily (memory of the generator is small)."""
    import heapq
    heap: list = []
    seq = 0
    for i in range(start, start + calls):
        t = START + i / per_second
        while heap and heap[0][0] <= t:
            yield heapq.heappop(heap)[2]
        for ev in call_events(i, t):
            seq += 1
            heapq.heappush(heap, (ev.timestamp, seq, ev))
    while heap:
        yield heapq.heappop(heap)[2]


def bench_engine(n_calls: int) -> tuple[float, float, int]:
    events = list(interleaved(n_calls))
    for ev in events:
        _ = ev.timestamp  # parse once, as the AMI client's consumers share one message
    table = {"QueueCallerJoin": 1, "AgentConnect": 1, "Hangup": 1}
    t0 = time.perf_counter()
    hits = 0
    for ev in events:
        if table.get(ev.name) and ev.timestamp:
            hits += 1
    base = len(events) / (time.perf_counter() - t0)
    engine = QueueEngine()
    t0 = time.perf_counter()
    for ev in events:
        engine.on_event(ev)
    rate = len(events) / (time.perf_counter() - t0)
    return base, rate, len(events)


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 1e6


def bench_memory(total: int) -> list[tuple[int, float, int]]:
    engine = QueueEngine()
    marks = {100_000, total // 2, total}
    out = []
    done = 0
    for ev in interleaved(total):
        engine.on_event(ev)
        if ev.name == "QueueCallerJoin":
            done += 1
            if done in marks:
                gc.collect()
                out.append((done, rss_mb(), len(engine.legs) + len(engine.calls)))
                marks.discard(done)
    return out


async def bench_e2e(in_progress: int, wallboards: int, seconds: float) -> tuple[list[float], int]:
    import aiohttp

    from cti.app import Layer
    from cti.settings import Settings
    from cti.simulator import SimConfig, Simulator
    from cti.simulator.config import AgentTiming, QueueConfig
    from queue_monitor.part import MonitorPart

    agents = [str(10000 + i) for i in range(in_progress + 50)]
    cfg = SimConfig(ami_port=0, agi_port=1, speed=1.0, seed=1,
                    queues=[QueueConfig("public", agents, timeout=15, retry=1)],
                    default_agent=AgentTiming(ring_delay=0.2, talk_time=3600.0))
    sim = Simulator(cfg)
    await sim.start()
    tmp = Path(tempfile.mkdtemp())
    s = Settings(data_dir=tmp)
    s = s.model_copy(update={
        "ami": s.ami.model_copy(update={"port": sim.ami_port}), "agi": s.agi.model_copy(update={"port": 0}),
        "http": s.http.model_copy(update={"port": 0, "token": "t"}),
        "monitor": s.monitor.model_copy(update={"database_url": f"sqlite+aiosqlite:///{tmp / 'm.db'}"})})
    layer = Layer(s, parts=[MonitorPart])
    await layer.start()
    sim.config.agi_port = layer.agi.port
    await layer.ami.wait_connected(5)
    part = layer.parts[0]

    async def originate(n: int) -> None:
        await layer.ami.action({"Action": "Originate", "Async": "true", "Channel": "Local/12345@from-pstn",
                                "Context": "caller", "Exten": "silent", "Priority": 1,
                                "CallerID": f'"B" <1380{n:07d}>', "Timeout": 30000})

    for n in range(in_progress):
        await originate(n)
    deadline = time.monotonic() + 120
    while len(part.engine.by_agent_channel) < in_progress and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    talking = len(part.engine.by_agent_channel)
    delays: list[float] = []
    http = aiohttp.ClientSession(headers={"Authorization": "Bearer t"})
    url = f"http://127.0.0.1:{layer.http_port}/wallboard/ws"

    async def board() -> None:
        last = None
        async with http.ws_connect(url, max_msg_size=0) as ws:
            async for msg in ws:
                received = time.time()
                fig = json.loads(msg.data)
                ts = fig.get("last_event_ts")
                if last is not None and ts != last:
                    delays.append(received - ts)
                last = ts

    boards = [asyncio.ensure_future(board()) for _ in range(wallboards)]
    await asyncio.sleep(1.0)
    n = in_progress
    end = time.monotonic() + seconds
    while time.monotonic() < end:   # new callers keep the events flowing: 5 calls a second
        n += 1
        await originate(n)
        await asyncio.sleep(0.2)
    for b in boards:
        b.cancel()
    await asyncio.gather(*boards, return_exceptions=True)
    await http.close()
    await layer.stop()
    await sim.stop()
    return delays, talking


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(p * len(values)))] if values else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--engine-calls", type=int, default=100_000)
    ap.add_argument("--calls", type=int, default=1_000_000)
    ap.add_argument("--in-progress", type=int, default=500)
    ap.add_argument("--wallboards", type=int, default=100)
    ap.add_argument("--seconds", type=float, default=10.0)
    args = ap.parse_args()
    logging.basicConfig(level=logging.ERROR)  # the PBX outlives the layer at the end: AGI warnings

    marks = bench_memory(args.calls)  # first, before other parts of the run grow the heap
    base, rate, n = bench_engine(args.engine_calls)
    print(f"engine: {n:,} events ({args.engine_calls:,} calls): {rate:,.0f} events/s "
          f"(baseline dispatch only {base:,.0f}/s, ratio {rate / base:.3f}); target >= 200,000/s: "
          f"{'met' if rate >= 200_000 else 'NOT met'}")

    base_delays, _ = asyncio.run(bench_e2e(0, 1, args.seconds))
    delays, talking = asyncio.run(bench_e2e(args.in_progress, args.wallboards, args.seconds))
    b50, b99 = pct(base_delays, .5) * 1000, pct(base_delays, .99) * 1000
    p50, p99 = pct(delays, .5) * 1000, pct(delays, .99) * 1000
    print(f"end-to-end (AMI event Timestamp -> WebSocket client): baseline 1 wallboard, idle: "
          f"p50 {b50:.1f} ms, p99 {b99:.1f} ms ({len(base_delays)} samples)")
    print(f"end-to-end with {talking} calls in progress, {args.wallboards} wallboards: p50 {p50:.1f} ms, "
          f"p99 {p99:.1f} ms ({len(delays)} samples); ratio p99/baseline {p99 / b99:.2f}; "
          f"target p99 < 250 ms: {'met' if p99 < 250 else 'NOT met'}")

    first = marks[0][1]
    for calls, mb, live in marks:
        print(f"memory after {calls:,} calls: RSS {mb:.1f} MB ({mb / first:.3f} x the 100k mark), "
              f"{live} calls held")


if __name__ == "__main__":
    main()
