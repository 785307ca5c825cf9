"""The status line `cti run` and `cti demo` print, against the PBX simulator: it shows the queue
monitor's own figures (those of /api/figures, today's window, under the configured presets and with
the rule named), timeouts included; without the monitor part it says so instead of counting."""

from __future__ import annotations

import re

import aiohttp
from monitor_support import monitor_settings, originate, start_layer, until

from cti.app import Layer
from cti.simulator import SimConfig, Simulator

SEGMENT = re.compile(r"(?P<queue>[\w@.-]+): 等待 waiting (?P<waiting>\d+), 接通 answered (?P<answered>\d+), "
                     r"放弃 abandoned (?P<abandoned>\d+), 超时 timeout (?P<timed_out>\d+), "
                     r"(?P<level>[\d.]+)秒接通率 (?P<rate>-|[\d.]+%)")


def queues_in(line: str) -> dict[str, dict]:
    """The per-queue segments of a status line, as the supervisor reads them."""
    return {m["queue"]: m.groupdict() for m in SEGMENT.finditer(line)}


def expected_from(figures: dict) -> dict[str, dict]:
    """The same segments as /api/figures states them (today's window, rate to one decimal)."""
    out = {}
    for label, fig in figures["queues"].items():
        today = fig["windows"]["today"]
        rate = today["answer_rate_15s"]
        out[label] = {"queue": label, "waiting": str(fig["waiting"]), "answered": str(today["answered"]),
                      "abandoned": str(today["abandoned"]), "timed_out": str(today["timed_out"]),
                      "level": f"{figures['definitions']['service_level']:g}",
                      "rate": "-" if rate is None else f"{100 * rate:.1f}%"}
    return out


async def api_figures(layer: Layer) -> dict:
    async with aiohttp.ClientSession(headers={"Authorization": "Bearer wall-token"}) as http:
        async with http.get(f"http://127.0.0.1:{layer.http_port}/api/figures") as r:
            assert r.status == 200, await r.text()
            return await r.json()


async def test_given_answered_abandoned_and_timed_out_calls_when_status_printed_then_it_agrees_with_api_figures(
        tmp_path):
    # one agent talking a long time, a queue timeout of 6 s: one caller answered, the others time out
    sim = Simulator(SimConfig(ami_port=0, agi_port=1, speed=20, queue_timeout=6))
    await sim.start()
    sim.pbx.set_agent("6001", ring_delay=1.0, talk_time=20.0)
    sim.pbx.set_agent("6002", ring_delay=1.0, talk_time=20.0)
    settings = monitor_settings(tmp_path, sim.ami_port, denominator="answered", rounding="asterisk")
    layer, part = await start_layer(settings, sim)
    try:
        for n in range(5):
            await originate(layer, "silent", f"1380000010{n}")
        await originate(layer, "abandon", "13800000199")
        await until(lambda: sim.totals()["active"] == 0, 60, 0.05)
        await until(lambda: not part.engine.legs, 10)
        printed: list[str] = []

        # when: the figures API is read and the status line printed, nothing happening in between
        figures = await api_figures(layer)
        line = layer.status_line()
        printed.append(line)

        expected = expected_from(figures)
        public = expected.get("public")
        assert public is not None and int(public["timed_out"]) >= 2 and int(public["answered"]) >= 2, figures
        assert queues_in(line) == expected, f"status line: {line!r}\n/api/figures says: {expected}"
        # the rule that produced the rate is named, and it is the configured one
        assert line.endswith("口径 rule: 今日 today, 分母 answered, 计时 asterisk"), line
        assert line.startswith("[AMI connected] IVR 语音导航中 in IVR 0 | "), line
        totals = sim.totals()
        assert sum(int(q["timed_out"]) for q in queues_in(line).values()) == totals["timed_out"], (line, totals)
    finally:
        await layer.stop()
        await sim.stop()


async def test_given_the_default_presets_when_status_printed_then_the_rate_follows_them(tmp_path):
    # two callers answered, one timed out: 2/2 under `answered`, 2/3 under the default denominator
    sim = Simulator(SimConfig(ami_port=0, agi_port=1, speed=20, queue_timeout=6))
    await sim.start()
    sim.pbx.set_agent("6001", ring_delay=1.0, talk_time=20.0)
    sim.pbx.set_agent("6002", ring_delay=1.0, talk_time=20.0)
    layer, part = await start_layer(monitor_settings(tmp_path, sim.ami_port), sim)
    try:
        for n in range(3):
            await originate(layer, "silent", f"1380000020{n}")
        await until(lambda: sim.totals()["active"] == 0, 60, 0.05)
        await until(lambda: not part.engine.legs, 10)
        figures = await api_figures(layer)
        line = layer.status_line()
        public = queues_in(line)["public"]
        assert public == expected_from(figures)["public"], (line, figures["queues"]["public"]["windows"]["today"])
        assert int(public["timed_out"]) == 1 and public["rate"] == "66.7%", line
        assert line.endswith("口径 rule: 今日 today, 分母 offered_minus_short_abandons, 计时 exact"), line
    finally:
        await layer.stop()
        await sim.stop()


async def test_given_no_monitor_part_when_status_printed_then_it_says_so(tmp_path):
    layer = Layer(monitor_settings(tmp_path, 1), parts=[])
    line = layer.status_line()
    assert line == "[AMI disconnected] IVR 语音导航中 in IVR 0 | 队列监控未运行 queue monitor not running: no queue figures", \
        line
