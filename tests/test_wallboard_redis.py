"""Two layer instances (a city and a county platform, each with its own PBX) share one wall through a
real Redis started by the test on a free loopback port."""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import subprocess
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from monitor_support import monitor_settings, originate, start_layer, until

from cti.outbound.linkage import FROM_110, TO_110, TOPIC_LINKAGE, Handover
from cti.simulator import SimConfig, Simulator

REDIS = shutil.which("redis-server") or "/usr/bin/redis-server"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def redis_url(tmp_path):
    port = free_port()
    proc = subprocess.Popen([REDIS, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", str(tmp_path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), 0.1).close()
                break
            except OSError:
                time.sleep(0.02)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(5)


async def test_one_wall_shows_both_instances_queues(tmp_path, redis_url):
    sims, layers, parts = [], [], []
    try:
        for name, calls in (("city", 3), ("county", 2)):
            sim = Simulator(SimConfig(ami_port=0, agi_port=1, speed=20, seed=1, lockstep=True))
            await sim.start()
            sims.append(sim)
            d = tmp_path / name
            d.mkdir()
            layer, part = await start_layer(monitor_settings(d, sim.ami_port, redis_url=redis_url, instance=name), sim)
            layers.append(layer)
            parts.append(part)
            for n in range(calls):
                await originate(layer, "press1", f"1370000{n:04d}")
        for sim in sims:
            await until(lambda s=sim: s.totals().get("answered", 0) >= 2 and s.totals()["active"] == 0, 60, 0.05)
        city = layers[0]
        url = f"http://127.0.0.1:{city.http_port}"
        async with aiohttp.ClientSession(headers={"Authorization": "Bearer wall-token"},
                                         timeout=aiohttp.ClientTimeout(total=30)) as http:
            async def wall():
                async with http.get(url + "/api/figures") as r:
                    return await r.json()
            for _ in range(200):
                w = await wall()
                if w["instances"] == ["city", "county"] and w["centre"]["windows"]["today"]["offered"] == 5:
                    break
                await asyncio.sleep(0.05)
            assert w["instances"] == ["city", "county"]
            assert {"public@city", "public@county"} <= set(w["queues"])
            assert w["queues"]["public@county"]["windows"]["today"]["answered"] == 2
            assert w["queues"]["public@city"]["windows"]["today"]["answered"] == 3
            # the centre total is recomputed from both instances' counters
            assert w["centre"]["windows"]["today"]["offered"] == 5
            assert w["centre"]["agents"]["logged_in"] == 6   # 3 seats on each platform
            # the city's wallboard WebSocket carries the county's figures too
            async with http.ws_connect(url + "/wallboard/ws") as ws:
                msg = json.loads((await ws.receive(timeout=5)).data)
                assert "public@county" in msg["queues"]
            # a county call placed now shows on the city's wall
            await originate(layers[1], "press1", "13700009999")
            await until(lambda: sims[1].totals()["offered"] >= 3 and sims[1].totals()["active"] == 0, 60, 0.05)
            def county_rows(w) -> int:
                return [r["instance"] for r in w["recent_calls"]].count("county")
            for _ in range(200):     # the county's next snapshot comes through Redis after its call ended
                w = await wall()
                if w["queues"]["public@county"]["windows"]["today"]["answered"] == 3 and county_rows(w) == 3:
                    break
                await asyncio.sleep(0.05)
            assert w["queues"]["public@county"]["windows"]["today"]["answered"] == 3
            # the recent calls panel lists both platforms' calls, newest first by each platform's own clock
            # (two simulators' clocks are not one timeline, so the county's call need not top the city's)
            recent = w["recent_calls"]
            assert county_rows(w) == 3 and [r["instance"] for r in recent].count("city") == 3
            assert next(r for r in recent if r["instance"] == "county")["caller"] == "137****9999"
            assert [r["ended_at"] for r in recent] == sorted((r["ended_at"] for r in recent), reverse=True)
    finally:
        for layer in layers:
            await layer.stop()
        for sim in sims:
            await sim.stop()


async def test_given_two_instances_on_one_switch_when_calls_flow_then_each_call_counts_once_and_a_survivor_keeps_them(
        tmp_path, redis_url):
    """Two hosts, one Asterisk: both instances read every call. The wall shows the switch's figures once (not
    their sum), the reports on the shared database count each call once, and when one instance stops the
    other's wall keeps the figures and counts on."""
    sim = Simulator(SimConfig(ami_port=0, agi_port=1, speed=20, seed=2, lockstep=True))
    await sim.start()
    database = f"sqlite+aiosqlite:///{tmp_path / 'monitor.db'}"
    layers = []
    try:
        for name in ("host-a", "host-b"):
            (tmp_path / name).mkdir()
            layer, _ = await start_layer(monitor_settings(tmp_path / name, sim.ami_port, redis_url=redis_url,
                                                          instance=name, database_url=database), sim)
            layers.append(layer)
        for n in range(3):
            await originate(layers[0], "press1", f"1370000{n:04d}")
        await until(lambda: sim.totals().get("answered", 0) >= 3 and sim.totals()["active"] == 0, 60, 0.05)
        offered = sim.totals()["offered"]
        # a 110 hand-over both instances heard (the dialplan's UserEvent), one an agent of host A made
        for layer in layers:
            layer.bus.publish(TOPIC_LINKAGE, Handover(FROM_110, "call-from-110", 0.0, "queued"))
        layers[0].bus.publish(TOPIC_LINKAGE, Handover(TO_110, "call-to-110", 0.0, "connected"))
        async with aiohttp.ClientSession(headers={"Authorization": "Bearer wall-token"},
                                         timeout=aiohttp.ClientTimeout(total=30)) as http:
            async def wall(layer) -> dict:
                async with http.get(f"http://127.0.0.1:{layer.http_port}/api/figures") as r:
                    return await r.json()

            async def settled(layer, calls: int) -> dict:
                """The wall once both instances are on it and it shows ``calls`` offered today and host A's hand-over."""
                seen = {}
                for _ in range(400):
                    seen = await wall(layer)
                    if (seen["instances"] == ["host-a", "host-b"] and seen["centre"]["windows"]["today"]["offered"] >= calls
                            and seen["linkage"]["windows"].get("today", {}).get("to_110")):
                        await asyncio.sleep(0.3)    # a second count of the same calls would land by now
                        return await wall(layer)
                    await asyncio.sleep(0.05)
                raise AssertionError(f"the wall never showed both instances and {calls} calls: {seen}")

            for layer in layers:
                w = await settled(layer, offered)
                today = w["centre"]["windows"]["today"]
                assert (today["offered"], today["answered"]) == (offered, sim.totals()["answered"]), today
                assert "public" in w["queues"] and not [q for q in w["queues"] if "@" in q], list(w["queues"])   # one switch: no per-instance tiles
                assert len(w["recent_calls"]) == 3, w["recent_calls"]
                assert list(w["switches"].values()) == [["host-a", "host-b"]], w["switches"]
                linkage = w["linkage"]["windows"]["today"]
                assert (linkage["from_110"], linkage["to_110"]) == (1, 1), linkage
            for layer in layers:
                await layer.monitor.flush()
            day = datetime.now(ZoneInfo(layers[1].settings.monitor.timezone)).date().isoformat()
            async with http.get(f"http://127.0.0.1:{layers[1].http_port}/api/reports",
                                params={"from": day, "to": day}) as r:
                rep = await r.json()
            # both instances stored every call: each counts once, for its queue as for the centre
            assert rep["total"]["offered"] == offered, rep["total"]
            assert sum(q["offered"] for q in rep["queues"]) == offered, rep["queues"]
            assert (rep["linkage"]["from_110"], rep["linkage"]["to_110"]) == (1, 1), rep["linkage"]

            await layers[0].stop()
            await originate(layers[1], "press1", "13700009999")
            await until(lambda: sim.totals()["offered"] > offered and sim.totals()["active"] == 0, 60, 0.05)
            for _ in range(400):
                w = await wall(layers[1])
                if w["centre"]["windows"]["today"]["offered"] > offered:
                    break
                await asyncio.sleep(0.05)
            assert w["centre"]["windows"]["today"]["offered"] == offered + 1, w["centre"]["windows"]["today"]
    finally:
        for layer in layers:
            await layer.stop()
        await sim.stop()


async def test_given_two_platforms_on_one_database_when_one_restarts_then_the_others_hand_overs_are_not_counted_twice(
        tmp_path, redis_url):
    """A restarted instance rebuilds today's boards from its own stored rows only: the other platform's 110
    hand-over, in the shared database too, reaches its wall through Redis, as before the restart."""
    database = f"sqlite+aiosqlite:///{tmp_path / 'monitor.db'}"
    sims, layers = [], {}
    try:
        for name in ("city", "county"):
            sim = Simulator(SimConfig(ami_port=0, agi_port=1, speed=20, seed=3, lockstep=True))
            await sim.start()
            sims.append(sim)
            (tmp_path / name).mkdir()
            settings = monitor_settings(tmp_path / name, sim.ami_port, redis_url=redis_url, instance=name,
                                        database_url=database)
            layers[name], _ = await start_layer(settings, sim)
        county = layers["county"]
        county.bus.publish(TOPIC_LINKAGE, Handover(FROM_110, "county-call-1", 0.0, "queued"))  # as cti.outbound says
        await county.monitor.flush()

        async def from_110(layer) -> int:
            async with aiohttp.ClientSession(headers={"Authorization": "Bearer wall-token"}) as http:
                async with http.get(f"http://127.0.0.1:{layer.http_port}/api/figures") as r:
                    wall = await r.json()
            return wall["linkage"]["windows"].get("today", {}).get("from_110", 0), wall["instances"]

        async def settled(layer) -> tuple[int, list]:
            seen = None
            for _ in range(200):
                seen = await from_110(layer)
                if seen[1] == ["city", "county"] and seen[0] >= 1:
                    await asyncio.sleep(0.3)   # a second count would land by now
                    return await from_110(layer)
                await asyncio.sleep(0.05)
            raise AssertionError(f"the city's wall never showed the county's hand-over: {seen}")

        assert (await settled(layers["city"]))[0] == 1
        city = layers["city"]
        await city.stop()
        layers["city"], _ = await start_layer(city.settings, sims[0])
        assert (await settled(layers["city"]))[0] == 1
    finally:
        for layer in layers.values():
            await layer.stop()
        for sim in sims:
            await sim.stop()


async def test_given_two_instances_on_one_switch_when_one_was_down_for_some_calls_then_after_its_restart_it_counts_them(
        tmp_path, redis_url):
    """Host A is down while host B counts two calls; A comes back and rebuilds today from its own stored calls
    and those its twin on the same switch stored while it was away: when B goes too, A's wall still shows
    every call of the day once."""
    sim = Simulator(SimConfig(ami_port=0, agi_port=1, speed=20, seed=4, lockstep=True))
    await sim.start()
    database = f"sqlite+aiosqlite:///{tmp_path / 'monitor.db'}"
    settings = {}
    for name in ("host-a", "host-b"):
        (tmp_path / name).mkdir()
        settings[name] = monitor_settings(tmp_path / name, sim.ami_port, redis_url=redis_url, instance=name,
                                          database_url=database, redis_stale_seconds=1.0)
    layers = {}

    async def calls(layer, first: int, n: int) -> None:
        before = sim.totals().get("offered", 0)
        for k in range(first, first + n):
            await originate(layer, "press1", f"1370000{k:04d}")
        await until(lambda: sim.totals().get("offered", 0) >= before + n and sim.totals()["active"] == 0, 60, 0.05)

    async def offered(layer, instances: list[str], want: int) -> int:
        async with aiohttp.ClientSession(headers={"Authorization": "Bearer wall-token"}) as http:
            seen = None
            for _ in range(400):
                async with http.get(f"http://127.0.0.1:{layer.http_port}/api/figures") as r:
                    wall = await r.json()
                seen = (wall["instances"], wall["centre"]["windows"]["today"]["offered"])
                if seen == (instances, want):
                    await asyncio.sleep(0.3)   # a late or doubled count would land by now
                    async with http.get(f"http://127.0.0.1:{layer.http_port}/api/figures") as r:
                        wall = await r.json()
                    return wall["centre"]["windows"]["today"]["offered"]
                await asyncio.sleep(0.05)
        raise AssertionError(f"{layer.monitor.instance}'s wall never showed {instances} with {want} calls: {seen}")

    try:
        for name in ("host-a", "host-b"):
            layers[name], _ = await start_layer(settings[name], sim)
        await calls(layers["host-a"], 0, 2)
        assert await offered(layers["host-a"], ["host-a", "host-b"], 2) == 2
        await layers.pop("host-a").stop()
        await calls(layers["host-b"], 2, 2)
        await layers["host-b"].monitor.flush()
        layers["host-a"], _ = await start_layer(settings["host-a"], sim)
        assert await offered(layers["host-a"], ["host-a", "host-b"], 4) == 4
        await layers.pop("host-b").stop()
        assert await offered(layers["host-a"], ["host-a"], 4) == 4
    finally:
        for layer in layers.values():
            await layer.stop()
        await sim.stop()
