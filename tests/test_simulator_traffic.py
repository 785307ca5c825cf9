"""Traffic generator and the Nantong preset: seeded, accelerated, every call accounted for."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import time
from zoneinfo import ZoneInfo

from sim_support import AmiClient, login

from cti.simulator import SimConfig, Simulator
from cti.simulator.cli import add_parser, serve
from cti.simulator.presets import demo_traffic, nantong_config, nantong_traffic
from cti.simulator.traffic import HOURLY_PROFILE, TrafficGenerator

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _ten_am() -> float:
    """10:00 today at the centre (Asia/Shanghai), whatever the host's time zone."""
    return dt.datetime.combine(dt.datetime.now(SHANGHAI).date(), dt.time(10), SHANGHAI).timestamp()


def test_preset_is_sized_like_nantong():
    cfg = nantong_config(seed=1)
    sizes = {q.name: len(q.members) for q in cfg.queues}
    assert sizes == {"public": 85, "enterprise": 15, "supervision": 7}
    assert sum(sizes.values()) == 107
    talks = [cfg.agents["6001"].talk_time() for _ in range(4000)]
    assert 150 < sum(talks) / len(talks) < 195       # about 171 s on average
    profile = nantong_traffic()
    day = sum(profile.rate(_ten_am() - 10 * 3600 + h * 3600) * 3600 for h in range(24))
    assert abs(day - 7300) < 1


def test_same_seed_same_callers():
    def draw(seed):
        gen = TrafficGenerator(pbx=None, profile=nantong_traffic(), seed=seed)
        return [(c.key, round(c.key_delay, 6), round(c.patience, 6), gen._number())
                for c in (gen._caller() for _ in range(50))]
    assert draw(7) == draw(7)
    assert draw(7) != draw(8)


async def test_an_accelerated_busy_hour_accounts_for_every_call():
    cfg = nantong_config(SimConfig(ami_port=0, speed=400, agi_port=1, start_epoch=_ten_am(), lockstep=True), seed=3)
    traffic = nantong_traffic()
    sim = Simulator(cfg, traffic=traffic)
    await sim.start()
    client = AmiClient()
    await login(client, sim.ami_port)
    await sim.clock.sleep(1800)          # half an hour of the day's busiest period
    sim.stop_traffic()
    for _ in range(200):                 # let the calls in progress finish
        if sim.totals()["active"] == 0:
            break
        await sim.clock.sleep(120)
    totals = sim.totals()
    # Poisson arrivals: within four standard deviations of the profile's half hour, however late a busy
    # machine wakes the simulator (it lost the lag on every gap: 231 of 440 expected at twice the rate)
    expected = traffic.rate(_ten_am()) * 1800
    assert abs(totals["offered"] - expected) < 4 * expected ** 0.5, (totals["offered"], expected)
    assert totals["in_progress"] == 0 and totals["active"] == 0
    assert totals["offered"] == (totals["answered"] + totals["abandoned"] + totals["timed_out"]
                                 + totals["ivr_hangup"] + totals["other"])
    assert totals["answered"] > totals["abandoned"]
    summary = await client.list_action({"Action": "QueueStatus"})
    params = {dict(f)["Queue"]: dict(f) for f in summary if f[0] == ("Event", "QueueParams")}
    assert sum(int(p["Completed"]) for p in params.values()) == totals["answered"]
    assert sum(int(p["Abandoned"]) for p in params.values()) == totals["abandoned"] + totals["timed_out"]
    await client.close()
    await sim.stop()


async def test_simulate_pbx_command_runs_until_stopped(tmp_path):
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    add_parser(sub)
    args = parser.parse_args(["simulate-pbx", "--ami-port", "0", "--preset", "nantong", "--seed", "5",
                              "--speed", "50", "--queue-log", str(tmp_path / "queue_log"), "--agi-port", "1"])
    assert args.func.__name__ == "run"
    stop = asyncio.Event()
    task = asyncio.get_running_loop().create_task(serve(args, stop))
    for _ in range(100):
        if (tmp_path / "queue_log").exists():
            break
        await asyncio.sleep(0.02)
    stop.set()
    assert await asyncio.wait_for(task, 5) == 0
    assert "QUEUESTART" in (tmp_path / "queue_log").read_text()


async def test_the_day_is_the_centres_and_the_demo_rings_at_once_even_at_night():
    def at(hour: int) -> float:
        return dt.datetime.combine(dt.date(2026, 3, 4), dt.time(hour), SHANGHAI).timestamp()
    day, demo = nantong_traffic(), demo_traffic()
    assert day.rate(at(10)) == 7300 * HOURLY_PROFILE[10] / sum(HOURLY_PROFILE) / 3600   # Shanghai's 10:00
    assert day.rate(at(3)) < demo.rate(at(3)) == 60 / 3600                             # a floor at night
    assert demo.rate(at(10)) == day.rate(at(10))
    cfg = nantong_config(SimConfig(ami_port=0, agi_port=1, speed=1, start_epoch=at(3), lockstep=True), seed=4)
    sim = Simulator(cfg, traffic=demo)
    await sim.start()
    await sim.clock.sleep(0.5)                     # half a simulated second into a quiet night
    assert sim.totals()["offered"] == 1
    await sim.stop()


async def test_a_machine_that_cannot_keep_up_skips_the_owed_calls_instead_of_flooding_itself(caplog):
    cfg = nantong_config(SimConfig(ami_port=0, speed=400, agi_port=1, start_epoch=_ten_am()), seed=3)
    traffic = nantong_traffic(rate_factor=4.0)
    sim = Simulator(cfg, traffic=traffic)
    await sim.start()
    try:
        await sim.clock.sleep(5)
        time.sleep(1.5)                 # the event loop stalls: 600 simulated seconds pass, nothing placed
        await sim.clock.sleep(5)
        owed = traffic.rate(_ten_am()) * 600
        assert "behind the arrival schedule" in caplog.text
        assert sim.totals()["offered"] < owed / 4, (sim.totals(), owed)   # placed at once, they hung the loop
    finally:
        await sim.stop()
