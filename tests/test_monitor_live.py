"""The monitor in the layer against the PBX simulator: simulated traffic accounted for call by call,
figures equal to those recomputed from the stored rows and to Asterisk's ServicelevelPerf, and an AMI
disconnect in the middle of calls without ghost calls or double counts."""

from __future__ import annotations

import datetime as dt
import math
from zoneinfo import ZoneInfo

import pytest
from monitor_support import monitor_settings, originate, start_layer, until

from cti.simulator import SimConfig, Simulator
from cti.simulator.presets import nantong_config, nantong_traffic
from queue_monitor.engine import CENTRE
from queue_monitor.figures import Tally
from queue_monitor.reports import tallies

SHANGHAI = ZoneInfo("Asia/Shanghai")


def eight_am() -> float:
    """8:00 today at the centre (Asia/Shanghai), whatever the host's time zone."""
    return dt.datetime.combine(dt.datetime.now(SHANGHAI).date(), dt.time(8), SHANGHAI).timestamp()


def counters(t: Tally) -> dict:
    return {f: getattr(t, f) for f in t.__dataclass_fields__}


def assert_same(engine_counters: dict, stored: Tally, where: str) -> None:
    for key, value in counters(stored).items():
        assert engine_counters[key] == pytest.approx(value, abs=1e-6), (where, key)


async def test_simulated_traffic_every_call_accounted_and_equal_to_stored_rows(tmp_path):
    cfg = nantong_config(SimConfig(ami_port=0, agi_port=1, speed=600, start_epoch=eight_am(), lockstep=True), seed=5)
    sim = Simulator(cfg)
    await sim.start()
    layer, part = await start_layer(
        monitor_settings(tmp_path, sim.ami_port, denominator="answered", rounding="asterisk"), sim)
    try:
        sim.start_traffic(nantong_traffic(rate_factor=1.0))
        await sim.clock.sleep(3 * 3600)          # 08:00-11:00, the busiest hours of the day
        sim.stop_traffic()
        await until(lambda: sim.totals()["active"] == 0, 120, 0.1)
        await until(lambda: not part.engine.legs, 10)
        totals = sim.totals()
        snap = part.engine.snapshot()
        centre = snap["centre"]["windows"]["total"]
        # every call the simulator offered to a queue is in the centre figures, once, with its outcome
        assert totals["offered"] > 1000
        assert (centre["answered"], centre["abandoned"], centre["timed_out"]) == (
            totals["answered"], totals["abandoned"], totals["timed_out"])
        assert totals["offered"] == centre["offered"] + totals["ivr_hangup"] + totals["other"]
        assert snap["centre"]["waiting"] == 0 and snap["centre"]["talking"] == 0
        # the figures recomputed from the stored rows are the engine's, queue by queue and in total
        await part.flush()
        rows = await part.store.calls(0, math.inf)
        assert len(rows) == sum(q["windows"]["total"]["offered"] for q in snap["queues"].values())
        stored = tallies(rows, part.defs, 0, math.inf)
        for q, fig in snap["queues"].items():
            assert_same(fig["windows"]["total"]["counters"], stored["queues"][q], q)
        assert_same(centre["counters"], stored["centre"], "centre")
        # Asterisk's (the simulator's) ServicelevelPerf is the `answered` preset with Asterisk rounding
        status = await layer.ami.action({"Action": "QueueStatus"}, timeout=10)
        params = {m["Queue"]: m for m in status if m.name == "QueueParams"}
        for q, fig in snap["queues"].items():
            total = fig["windows"]["total"]
            assert total["answered"] == int(params[q]["Completed"])
            assert round(100 * total["answer_rate_15s"], 1) == float(params[q]["ServicelevelPerf"]), q
    finally:
        await layer.stop()
        await sim.stop()


async def test_ami_disconnect_mid_calls_leaves_no_ghosts_and_no_double_counts(tmp_path):
    sim = Simulator(SimConfig(ami_port=0, agi_port=1, speed=10))
    await sim.start()
    for ext in ("6001", "6002"):
        sim.pbx.set_agent(ext, ring_delay=1.0, talk_time=60.0)
    layer, part = await start_layer(monitor_settings(tmp_path, sim.ami_port), sim)
    engine = part.engine
    try:
        for n in range(4):
            await originate(layer, "silent", f"1380000000{n}")
        public = sim.pbx.queues["public"]
        # two callers talk to the two agents, two wait
        await until(lambda: len(public.callers) == 2 and len(engine.by_agent_channel) == 2, 20)
        assert engine.snapshot()["queues"]["public"]["waiting"] == 2
        # the AMI session drops; while nobody listens a waiting caller and a talking caller hang up
        for session in list(sim.ami.sessions):
            session.close()
        waiting_gone = next(c for c in sim.pbx.calls if c.joined.is_set() and not c.connected.is_set())
        talking_gone = next(c for c in sim.pbx.calls if c.connected.is_set())
        sim.pbx.request_hangup(waiting_gone.caller)   # the citizen hangs up: both halves go
        sim.pbx.request_hangup(talking_gone.caller)
        resyncs = []
        layer.bus.subscribe("ami.resynced", lambda _t, m: resyncs.append(m))
        await until(lambda: resyncs, 10)
        snap = engine.snapshot()["queues"]["public"]
        assert snap["waiting"] == len(public.callers) == 1        # no ghost waiting caller
        assert snap["talking"] == 1                                # the ended talk is closed
        # everything finishes; the caller still waiting is answered and counted once
        await until(lambda: sim.totals()["active"] == 0, 60, 0.05)
        await until(lambda: not engine.legs, 10)
        fig = engine.snapshot()["queues"]["public"]["windows"]["total"]
        assert fig["answered"] == 3            # two before the drop, one after; none twice
        assert fig["abandoned"] == 0           # the hang-up nobody saw is not guessed
        assert engine.lost_track == 1
        centre = engine.snapshot()["centre"]
        assert centre["waiting"] == 0 and centre["talking"] == 0
        assert engine.snapshot(scopes=[CENTRE])["centre"]["windows"]["total"]["answered"] == 3
    finally:
        await layer.stop()
        await sim.stop()

