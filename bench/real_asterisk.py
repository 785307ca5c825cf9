"""Real Asterisk 22: AMI events per call and the layer's CPU per call, shipped eventfilter vs none.

Run: .venv/bin/python bench/real_asterisk.py [--calls 60] [--agents 8] [--interval 2.0] [--rounds 1]

For each variant a private Asterisk 22 (tests/real_asterisk/switch.py: the project's config/asterisk
snippets included unchanged, test-only Local-channel callers and agents) and the whole layer
(`cti run`'s parts, in this process) logged in as the manager user ``cti``:

- ``shipped``: ``cti`` as config/asterisk/manager_cti.conf defines it (its read classes + eventfilter);
- ``read = all``: the same user, secret and write classes with ``read = all`` and no eventfilter
  (this bench writes that manager.conf into the instance's conf folder and reloads the manager).

Agents log in through the layer's API; N callers dial 12345 one every ``--interval`` s, press 1 and
stay on the line up to 30 s; agents answer after 0.5 s and talk 3 s (then 10 s of the
queues' wrap-up). Measured from the first call until the last
channel is gone: AMI events the layer received (its bus, ``ami.event``) per call, and this process's
CPU time (time.process_time, the layer plus a driver that only originates) per call, also net of the
layer's idle CPU rate measured for 10 s before the calls, and the
Asterisk process's CPU per call (from /proc). The ratio is shipped / read = all, measured in the
same run. The driver's own AMI session logs in with ``Events: off``, so it parses no events.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import datetime as dt
import logging
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))   # the packages, not bench/recordings.py
sys.path.insert(0, str(ROOT / "tests"))
from real_asterisk.switch import OBSERVER_SECRET, SNIPPETS, Switch, find_lab, free_port  # noqa: E402
from sim_support import AmiClient  # noqa: E402

from cti.ami import TOPIC_EVENT, AmiState  # noqa: E402
from cti.app import Layer  # noqa: E402
from cti.settings import Settings  # noqa: E402

SHANGHAI = ZoneInfo("Asia/Shanghai")
WORKING_MORNING = dt.datetime(2026, 3, 4, 10, 0, tzinfo=SHANGHAI)   # flows take their working-hours branch
TOKEN = "bench-token"
CALLER_SCRIPT = "7000001"     # the AstDB key of [test-caller]: every caller behaves the same way
AGENT_RING, AGENT_TALK = 0.5, 3.0   # seconds
CALLER_DELAY, CALLER_STAY = 1.0, 30.0   # seconds before pressing 1; seconds on the line after it
IDLE_SECONDS = 10.0
PROMPTS = ROOT / "var" / "bench" / "prompts"   # `cti prompts synth` output, kept between runs


def unfiltered_manager_conf(ami_port: int) -> str:
    """manager.conf of the `read = all` variant: the shipped [cti] user's secret, ACL and write
    classes, ``read = all`` and no eventfilter; the harness's observer user unchanged."""
    shipped = (SNIPPETS / "manager_cti.conf").read_text(encoding="utf-8")
    keep = []
    for line in shipped.splitlines():
        key = line.split("=", 1)[0].strip().lower()
        if key == "read":
            keep.append("read = all")
        elif key != "eventfilter":
            keep.append(line)
    return ("[general]\nenabled = yes\nbindaddr = 127.0.0.1\n"
            f"port = {ami_port}\ntimestampevents = yes\n\n" + "\n".join(keep) + "\n\n"
            f"[observer]\nsecret = {OBSERVER_SECRET}\ndeny = 0.0.0.0/0.0.0.0\n"
            "permit = 127.0.0.1/255.255.255.255\nread = all\nwrite = all\n")


def layer_settings(switch: Switch, data: Path) -> Settings:
    """`cti run`'s defaults against ``switch``: the shipped AMI user, loopback ports, files in ``data``."""
    s = Settings(data_dir=data)
    return s.model_copy(update={
        "ami": s.ami.model_copy(update={"port": switch.ami_port, "reconnect_min": 0.05, "reconnect_max": 0.5}),
        "agi": s.agi.model_copy(update={"port": switch.agi_port}),
        "http": s.http.model_copy(update={"port": 0, "token": TOKEN}),
        "flows": s.flows.model_copy(update={
            "flows_dir": ROOT / "config/flows", "prompts_dir": ROOT / "config/prompts",
            "hotlines_file": ROOT / "config/hotlines.yaml",
            "calendar_override": ROOT / "config/calendar-override.yaml"}),
        "recordings": s.recordings.model_copy(update={"capture_dir": switch.monitor_dir}),
    })


def pin_clocks(layer: Layer) -> None:
    """The flows read a working Wednesday morning whatever the hour of the run (Asterisk keeps real time)."""
    from ivr_flows.part import FlowsPart
    for part in layer.parts:
        if isinstance(part, FlowsPart):
            part.engine.clock = WORKING_MORNING.timestamp


def asterisk_cpu(switch: Switch) -> float | None:
    """Seconds of CPU (user + system) the instance's Asterisk process used so far, None if unknown."""
    pidfile = switch.dir / "run" / "asterisk.pid"
    try:
        pid = int(pidfile.read_text().split()[0])
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


async def until(predicate, timeout: float, what: str, seen=lambda: "") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"waited {timeout} s for {what}; saw: {seen()}")
        await asyncio.sleep(0.05)


async def api(layer: Layer, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
    import aiohttp
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {TOKEN}"}) as http:
        async with http.request(method, f"http://127.0.0.1:{layer.http_port}{path}", json=body) as r:
            return r.status, await r.json(content_type=None)


async def run_variant(lab: Path, work: Path, variant: str, calls: int, agents: int, interval: float) -> dict:
    """One private Asterisk, the layer against it, ``calls`` calls; returns the measurements."""
    switch = Switch(lab, work / variant.replace(" ", "_") / "asterisk", free_port(), free_port(), sounds=PROMPTS)
    switch.start()
    layer = driver = None
    try:
        if variant == "read = all":
            # asterisk-lab copies the conf folder into DIR/etc at start: the running instance reads that one
            (switch.dir / "etc" / "manager.conf").write_text(unfiltered_manager_conf(switch.ami_port))
        # Both variants reload, so both run on a manager that read its file the same way.
        switch.cli("manager reload")
        user = switch.cli("manager show user cti")
        print(f"--- {variant}: manager show user cti\n{user.strip()}", file=sys.stderr)
        switch.db_put("caller", f"{CALLER_SCRIPT}/delay", CALLER_DELAY)
        switch.db_put("caller", f"{CALLER_SCRIPT}/keys", "1")
        switch.db_put("caller", f"{CALLER_SCRIPT}/stay", CALLER_STAY)
        ids = [f"{6001 + i}" for i in range(agents)]
        for agent in ids:
            switch.agent(agent, ring=AGENT_RING, talk=AGENT_TALK)

        layer = Layer(layer_settings(switch, work / variant.replace(" ", "_") / "layer"))
        pin_clocks(layer)
        counts: collections.Counter[str] = collections.Counter()
        layer.bus.subscribe(TOPIC_EVENT, lambda _t, m: counts.update((m.name,)))
        await layer.start()
        await until(lambda: layer.ami.state == AmiState.CONNECTED, 20, "the layer's AMI login",
                    lambda: layer.ami.state)
        driver = AmiClient()
        await driver.connect(switch.ami_port)
        resp = dict(await driver.action({"Action": "Login", "Username": "observer", "Secret": OBSERVER_SECRET,
                                         "Events": "off"}))
        assert resp.get("Response") == "Success", resp
        for agent in ids:
            status, body = await api(layer, "POST", f"/api/agents/{agent}/login", {"queues": ["public"]})
            assert status == 200, (agent, status, body)
        monitor = layer.monitor
        await until(lambda: monitor.engine.agents("public", monitor.now()).available == agents, 20,
                    f"{agents} agents available in public", lambda: monitor.engine.agents("public", monitor.now()))

        # The layer's background work (wallboard push, flushes, schedulers) with no call: its rate is
        # subtracted below, so the net figure is what calls cost.
        idle0, idle_wall0 = time.process_time(), time.monotonic()
        await asyncio.sleep(IDLE_SECONDS)
        idle_rate = (time.process_time() - idle0) / (time.monotonic() - idle_wall0)
        counts.clear()
        cpu0, ast0, wall0 = time.process_time(), asterisk_cpu(switch), time.monotonic()
        for n in range(calls):
            resp = dict(await driver.action({
                "Action": "Originate", "Channel": "Local/12345@cti-inbound", "Context": "test-caller",
                "Exten": CALLER_SCRIPT, "Priority": 1, "CallerID": f'"市民" <1390000{n:04d}>', "Async": "true",
                "Timeout": 30000}))
            assert resp.get("Response") == "Success", resp
            await asyncio.sleep(interval)   # the offered load: one call per interval

        def today() -> dict:
            return monitor.engine.snapshot()["queues"].get("public", {}).get("windows", {}).get("today", {})

        await until(lambda: today().get("offered", 0) >= calls and not monitor.engine.legs, 180,
                    f"{calls} calls settled in the monitor", lambda: (today(), len(monitor.engine.legs)))

        async def channels() -> int:
            frames = await driver.list_action({"Action": "CoreShowChannels"})
            return sum(1 for f in frames if dict(f).get("Event") == "CoreShowChannel")

        deadline = time.monotonic() + 60
        while (left := await channels()) and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        if left:
            raise RuntimeError(f"{left} channels still up 60 s after the calls settled")
        last = -1   # the last Hangup events may still be on the socket: until the count stops moving
        while sum(counts.values()) != last:
            last = sum(counts.values())
            await asyncio.sleep(0.5)
        cpu, ast, wall = time.process_time() - cpu0, asterisk_cpu(switch), time.monotonic() - wall0
        fig = today()
        return {"variant": variant, "calls": calls, "events": sum(counts.values()), "names": counts,
                "cpu": cpu, "idle_cpu": idle_rate * wall, "asterisk_cpu": None if ast is None or ast0 is None else ast - ast0, "wall": wall,
                "answered": fig["answered"], "abandoned": fig["abandoned"], "timed_out": fig["timed_out"]}
    finally:
        if driver is not None:
            await driver.close()
        if layer is not None:
            await layer.stop()
        switch.stop()


def synth_prompts() -> None:
    PROMPTS.mkdir(parents=True, exist_ok=True)
    done = subprocess.run([sys.executable, "-m", "cti.cli", "prompts", "synth", str(PROMPTS)], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise SystemExit(f"cti prompts synth failed: {done.stdout}{done.stderr}")


async def main_async(args: argparse.Namespace) -> None:
    lab = find_lab()
    if lab is None:
        raise SystemExit("no Asterisk 22: set CTI_TEST_ASTERISK or put the build in ../shared/asterisk-22/")
    synth_prompts()
    results: dict[str, list[dict]] = {"shipped": [], "read = all": []}
    with tempfile.TemporaryDirectory(prefix="bench-real-asterisk-") as tmp:
        for r in range(args.rounds):
            # alternate the order between rounds so drift on the shared machine hits both
            order = ["shipped", "read = all"] if r % 2 == 0 else ["read = all", "shipped"]
            for variant in order:
                out = await run_variant(lab, Path(tmp) / f"r{r}", variant, args.calls, args.agents, args.interval)
                results[variant].append(out)
    report(results, args)


def report(results: dict[str, list[dict]], args: argparse.Namespace) -> None:
    def total(variant: str, key: str) -> float:
        return sum(r[key] for r in results[variant])

    n = {v: total(v, "calls") for v in results}
    per_call = {v: (total(v, "events") / n[v], 1000 * total(v, "cpu") / n[v],
                    1000 * (total(v, "cpu") - total(v, "idle_cpu")) / n[v]) for v in results}
    ast = {v: (None if any(r["asterisk_cpu"] is None for r in results[v])
               else 1000 * total(v, "asterisk_cpu") / n[v]) for v in results}
    print(f"Asterisk 22 (asterisk-lab), {args.calls} calls x {args.rounds} round(s) per variant, one every "
          f"{args.interval:g} s, key 1, {args.agents} agents (ring {AGENT_RING:g} s, talk {AGENT_TALK:g} s), "
          f"layer in-process; {os.cpu_count()} CPUs, Python {platform.python_version()}")
    print()
    print("| manager user cti | calls | answered / abandoned / timed out | AMI events | events/call "
          "| layer CPU ms/call | same, net of idle | Asterisk CPU ms/call |")
    print("| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |")
    for v in ("shipped", "read = all"):
        a = "-" if ast[v] is None else f"{ast[v]:.1f}"
        label = "shipped: read classes + eventfilter" if v == "shipped" else "read = all, no eventfilter (baseline)"
        outcome = f"{total(v, 'answered'):.0f} / {total(v, 'abandoned'):.0f} / {total(v, 'timed_out'):.0f}"
        print(f"| {label} | {n[v]:.0f} | {outcome} | {total(v, 'events'):,.0f} | {per_call[v][0]:.1f} "
              f"| {per_call[v][1]:.2f} | {per_call[v][2]:.2f} | {a} |")
    ev = per_call["shipped"][0] / per_call["read = all"][0]
    cpu = per_call["shipped"][1] / per_call["read = all"][1]
    net = per_call["shipped"][2] / per_call["read = all"][2]
    line = f"ratio shipped / read = all: events per call {ev:.2f}, layer CPU per call {cpu:.2f} (net of idle {net:.2f})"
    if ast["shipped"] is not None and ast["read = all"]:
        line += f", Asterisk CPU per call {ast['shipped'] / ast['read = all']:.2f}"
    print(line)
    print()
    for v in ("read = all", "shipped"):
        names = collections.Counter()
        for r in results[v]:
            names.update(r["names"])
        top = ", ".join(f"{k} {c / n[v]:.1f}" for k, c in names.most_common(8))
        print(f"events/call by name, {v}: {top}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--calls", type=int, default=60)
    # queues_cti.conf gives each agent 10 s of wrap-up: 8 agents take a call every ~1.7 s
    p.add_argument("--agents", type=int, default=8)
    p.add_argument("--interval", type=float, default=2.0, help="seconds between two calls")
    p.add_argument("--rounds", type=int, default=1, help="runs of each variant, alternating the order")
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
