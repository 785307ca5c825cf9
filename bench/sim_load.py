"""Simulator plus the layer under rising offered load, until something gives.

Run: .venv/bin/python bench/sim_load.py [--levels 5 10 20 35 50] [--seconds 15]

The layer (`cti run`) runs in its own process, as in production; the PBX simulator runs in this one
at real speed and offers a constant number of calls per second through the FastAGI IVR into three
queues with plenty of agents (short calls, so the queues never become the bottleneck). For each
load: the layer's CPU seconds per call (from /proc), the AGI latency seen by the switch (from the
simulator's answer to the layer's next command; p50/p99), and whether every offered call is
accounted for (offered = answered + abandoned + timed out + IVR hang-ups + other + in progress).
The baseline is the first (lightest) level: the ratio column shows how CPU per call scales.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cti.simulator import SimConfig, Simulator  # noqa: E402
from cti.simulator.config import AgentTiming, QueueConfig  # noqa: E402
from cti.simulator.traffic import TrafficProfile  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def sim_config(ami_port: int, agi_port: int) -> SimConfig:
    cfg = SimConfig(ami_port=ami_port, agi_port=agi_port, speed=1.0, seed=1)
    seats = {"public": 600, "enterprise": 150, "supervision": 100}
    cfg.queues, first = [], 6000
    for name, n in seats.items():
        members = [str(first + i) for i in range(n)]
        cfg.queues.append(QueueConfig(name, members, timeout=15, retry=1))
        for ext in members:
            cfg.agents[ext] = AgentTiming(ring_delay=lambda r=cfg.rng: r.uniform(0.3, 1.0),
                                          talk_time=lambda r=cfg.rng: r.uniform(2.0, 4.0))
        first += 1000
    return cfg


def flat(calls_per_second: float) -> TrafficProfile:
    return TrafficProfile(calls_per_day=calls_per_second * 86400, hourly=[1.0] * 24,
                          key_delay=(0.3, 1.0), patience_mean=120.0, pause_every=0.0)


async def main(levels: list[float], seconds: float) -> None:
    ami_port, agi_port = free_port(), free_port()
    tmp = tempfile.mkdtemp(prefix="cti-simload-")
    env = {**os.environ, "CTI_AMI_PORT": str(ami_port), "CTI_AGI_PORT": str(agi_port), "CTI_HTTP_PORT": "0",
           "CTI_DATA_DIR": tmp, "CTI_LOG_LEVEL": "ERROR", "CTI_MONITOR_SUMMARY_INTERVAL": "3600"}
    sim = Simulator(sim_config(ami_port, agi_port))
    await sim.start()
    layer = subprocess.Popen([sys.executable, "-m", "cti.cli", "run"], cwd=ROOT, env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rows = []
    try:
        await asyncio.sleep(2.0)  # the layer connects and resyncs
        for cps in levels:
            before = dict(sim.totals())
            cpu0, sim_cpu0 = cpu_seconds(layer.pid), cpu_seconds(os.getpid())
            sim.pbx.agi_turnarounds.clear()
            sim.start_traffic(flat(cps))
            await asyncio.sleep(seconds)
            sim.stop_traffic()
            for _ in range(600):  # let calls in progress finish (bounded)
                if sim.totals()["in_progress"] == 0:
                    break
                await asyncio.sleep(0.1)
            after = sim.totals()
            d = {k: after[k] - before.get(k, 0) for k in after if k not in ("active", "in_progress")}
            d["in_progress"] = after["in_progress"]
            accounted = d["offered"] == (d["answered"] + d["abandoned"] + d["timed_out"] + d["ivr_hangup"]
                                         + d["other"] + d["in_progress"])
            lat = sorted(sim.pbx.agi_turnarounds)
            rows.append({
                "cps": cps, "offered": d["offered"], "answered": d["answered"],
                "lost": d["abandoned"] + d["timed_out"] + d["ivr_hangup"] + d["other"] + d["in_progress"],
                "cpu_per_call_ms": 1000 * (cpu_seconds(layer.pid) - cpu0) / max(1, d["offered"]),
                "sim_cpu_per_call_ms": 1000 * (cpu_seconds(os.getpid()) - sim_cpu0) / max(1, d["offered"]),
                "p50_ms": 1000 * statistics.median(lat) if lat else float("nan"),
                "p99_ms": 1000 * lat[int(0.99 * (len(lat) - 1))] if lat else float("nan"),
                "accounted": accounted,
            })
            print(f"... {cps:g} calls/s done", file=sys.stderr)
    finally:
        layer.terminate()
        layer.wait(timeout=15)
        await sim.stop()
    base = rows[0]["cpu_per_call_ms"] or 1e-9
    print(f"offered load for {seconds:g} s per level; layer in its own process; {os.cpu_count()} CPUs\n")
    print("| calls/s offered | offered | answered | not answered | layer CPU ms/call | ratio to lightest "
          "| simulator CPU ms/call | AGI p50 ms | AGI p99 ms | every call accounted |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for r in rows:
        print(f"| {r['cps']:g} | {r['offered']} | {r['answered']} | {r['lost']} | {r['cpu_per_call_ms']:.2f} "
              f"| {r['cpu_per_call_ms'] / base:.2f}x | {r['sim_cpu_per_call_ms']:.2f} | {r['p50_ms']:.2f} "
              f"| {r['p99_ms']:.2f} | {'yes' if r['accounted'] else 'NO'} |")
    best = max((r for r in rows if r["accounted"] and r["lost"] == 0), key=lambda r: r["cps"], default=None)
    one_core = 1000 / rows[-1]["cpu_per_call_ms"] if rows[-1]["cpu_per_call_ms"] else float("inf")
    print(f"\nhighest load with every call answered: {best['cps'] if best else 'none'} calls/s; "
          f"layer CPU per call at the top load implies about {one_core:.0f} calls/s per core "
          f"(goal: 50 calls/s on one core)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", type=float, nargs="+", default=[5, 10, 20, 35, 50])
    parser.add_argument("--seconds", type=float, default=15.0)
    args = parser.parse_args()
    asyncio.run(main(args.levels, args.seconds))
