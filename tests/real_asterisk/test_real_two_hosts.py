"""Two hosts, one switch (issue 22): two `cti run` layers (subprocesses) against one real Asterisk 22, one
PostgreSQL and one Redis. The shipped dialplan knows both FastAGI hosts (CTI_AGI_HOST2 / CTI_AGI_PORT2 in
[globals]); one layer is killed (SIGKILL: the host is gone, nothing is flushed or said goodbye) in the middle
of traffic. Callers keep reaching the IVR (on the second host), the wall keeps one set of figures (no call
counted twice, none dropped), no ticket is lost or doubled at the webhook receiver, and the agent's session
from the dead host works on the other."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest
import yaml
from tickets_support import Receiver, database, make_secret, postgres

from cti.auth import hash_pin
from queue_monitor.storage import CallStore
from real_asterisk.conftest import TOKEN, layer_settings, running_layer
from real_asterisk.switch import ROOT, Switch, free_port, poll, until
from real_asterisk.test_real_outbound import _asked, _citizen_phone, followup, outbound, outbound_of, schedule

REDIS = "/usr/bin/redis-server"
PIN = "6001"
AGENTS = ("6001", "6002")


@pytest.fixture
def two_host_switch(lab, prompt_audio, tmp_path):
    """Asterisk with the shipped snippets; [globals] name the first layer (CTI_AGI_PORT) and the second."""
    agi2 = free_port()
    sw = Switch(lab, tmp_path / "asterisk", free_port(), free_port(), sounds=prompt_audio, extra_conf={
        "extensions.conf": f"[globals](+)\nCTI_AGI_HOST2 = 127.0.0.1\nCTI_AGI_PORT2 = {agi2}\n"})
    sw.start()
    yield sw, agi2
    sw.stop()


@pytest.fixture
def redis_url(tmp_path):
    port = free_port()
    proc = subprocess.Popen([REDIS, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", str(tmp_path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    yield f"redis://127.0.0.1:{port}/0"
    proc.terminate()
    proc.wait(10)


class Host:
    """One `cti run` on its own data folder, HTTP port and FastAGI port."""

    def __init__(self, name: str, folder: Path, settings) -> None:
        self.name, self.folder, self.settings = name, folder, settings
        self.port = settings.http.port
        self.proc: subprocess.Popen | None = None
        self.log = None

    def start(self) -> None:
        config = self.folder / "cti.yaml"
        config.write_text(yaml.safe_dump(self.settings.model_dump(mode="json"), allow_unicode=True), encoding="utf-8")
        self.log = (self.folder / "run.log").open("w")
        self.proc = subprocess.Popen([sys.executable, "-m", "cti.cli", "--config", str(config), "run"], cwd=ROOT,
                                     env={**os.environ, "PYTHONUNBUFFERED": "1"}, stdout=self.log,
                                     stderr=subprocess.STDOUT)

    def output(self) -> str:
        return (self.folder / "run.log").read_text(errors="replace")[-3000:]

    async def request(self, method: str, path: str, body: dict | None = None, token: str = TOKEN) -> tuple[int, dict]:
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"},
                                         timeout=aiohttp.ClientTimeout(total=20)) as http:
            async with http.request(method, f"http://127.0.0.1:{self.port}{path}", json=body) as resp:
                return resp.status, await resp.json(content_type=None)

    async def ready(self) -> None:
        async def health():
            with contextlib.suppress(aiohttp.ClientError, OSError):
                return (await self.request("GET", "/healthz"))[1]
            assert self.proc.poll() is None, f"{self.name} exited:\n{self.output()}"
            return {}
        await poll(health, lambda h: h.get("ami") == "connected", 60, f"{self.name} logged in to Asterisk")

    async def wall(self) -> dict:
        status, wall = await self.request("GET", "/api/figures")
        assert status == 200, wall
        return wall

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        if self.log is not None:
            self.log.close()


def today(wall: dict) -> dict:
    return wall["centre"]["windows"]["today"]


def ivr_on(switch: Switch, caller: str, agi_port: int, route: str = "ivr") -> bool:
    """Whether ``caller``'s channel ran AGI ``route`` (the IVR, or the survey) on the layer listening on
    ``agi_port`` (an AGI() of cti-ivr)."""
    return any(e.get("Application") == "AGI" and f":{agi_port}/{route}" in e.get("AppData", "")
               for e in switch.caller_events(caller, "Newexten"))


async def test_given_two_layers_on_one_switch_when_one_host_dies_mid_traffic_then_callers_the_wall_and_tickets_go_on(
        two_host_switch, redis_url, tmp_path):
    switch, agi2 = two_host_switch
    receiver = await Receiver().start()
    secret = make_secret(22)
    async with database("postgresql", tmp_path) as tickets_url:
        monitor_db = await postgres().create_database()
        hosts = []
        for name, agi_port in (("host-a", switch.agi_port), ("host-b", agi2)):
            folder = tmp_path / name
            folder.mkdir()
            s = layer_settings(switch, folder, recordings={"enabled": False})
            s = s.model_copy(update={
                "agi": s.agi.model_copy(update={"port": agi_port}),
                "http": s.http.model_copy(update={"port": free_port(), "session_secret": "one-secret-for-both-hosts",
                                                  "agent_pins": {a: [hash_pin(PIN)] for a in AGENTS}}),
                "tickets": s.tickets.model_copy(update={
                    "database_url": tickets_url, "endpoint_url": receiver.url, "secrets": [secret],
                    "poll_interval": 0.1, "request_timeout": 1, "lease_seconds": 2,
                    "retry_schedule": [0.2, 0.5, 1.0]}),
                "monitor": s.monitor.model_copy(update={
                    "database_url": postgres().url(monitor_db), "redis_url": redis_url, "instance": name,
                    "redis_stale_seconds": 3, "push_interval": 0.1, "refresh_seconds": 0.5}),
            })
            hosts.append(Host(name, folder, s))
        a, b = hosts
        await switch.observe()
        store = CallStore(postgres().url(monitor_db))
        await store.create()   # the monitor's schema made once (as `cti db upgrade` would), not by two at once
        await store.close()
        try:
            for host in hosts:
                host.start()
            for host in hosts:
                await host.ready()

            # an agent signs in on host A and joins the public queue from there
            status, session = await a.request("POST", f"/api/agents/{AGENTS[0]}/session", {"pin": PIN}, token="")
            assert status == 201, session
            agent_token = session["token"]
            for agent in AGENTS:
                switch.agent(agent, ring=0.5, talk=1)
                status, body = await a.request("POST", f"/api/agents/{agent}/login", {"queues": ["public"]})
                assert status == 200, body

            # traffic while both hosts run: each call counted once on either wall
            first = [await switch.call(keys="1", key_delay=1.0, stay=120) for _ in range(3)]
            tickets = []
            for n in range(2):
                status, ticket = await a.request("POST", "/api/tickets", {
                    "request_type": "complaint", "caller_number": f"1380000{n:04d}", "summary": "夜间施工噪音"},
                    token=agent_token)
                assert status == 201, ticket
                tickets.append(ticket["id"])
            for caller in first:
                await until(lambda c=caller: switch.caller_events(c, "AgentConnect"), 90, f"an agent to answer {caller}")
            for host in hosts:
                wall = await poll(host.wall, lambda w: today(w)["answered"] >= 3 and len(w["switches"]) == 1, 15,
                                  f"{host.name}'s wall with the first 3 answered calls and one switch")
                assert (today(wall)["offered"], today(wall)["answered"]) == (3, 3), (host.name, today(wall))
                assert wall["instances"] == ["host-a", "host-b"], wall["instances"]

            # callers arrive; host A dies (SIGKILL) while they are in its IVR, keys not pressed yet
            second = [await switch.call(keys="1", key_delay=6.0, stay=120) for _ in range(3)]
            for caller in second:
                await until(lambda c=caller: ivr_on(switch, c, switch.agi_port), 30, f"{caller} in host A's IVR")
            a.kill()
            third = [await switch.call(keys="1", key_delay=1.0, stay=120) for _ in range(3)]

            # the agent's session from host A works on host B: a pause and back, two tickets
            for action, body in (("pause", {"reason": "小休"}), ("unpause", {})):
                status, body = await b.request("POST", f"/api/agents/{AGENTS[0]}/{action}", body, token=agent_token)
                assert status == 200, (action, body)
            for n in range(2, 4):
                status, ticket = await b.request("POST", "/api/tickets", {
                    "request_type": "consultation", "caller_number": f"1380000{n:04d}", "summary": "公积金提取"},
                    token=agent_token)
                assert status == 201, ticket
                tickets.append(ticket["id"])

            # every caller reached the IVR (the second host's for those after the death) and an agent
            for caller in second + third:
                await until(lambda c=caller: ivr_on(switch, c, agi2), 30, f"{caller} in host B's IVR")
            for caller in second + third:
                await until(lambda c=caller: switch.caller_events(c, "AgentConnect"), 90, f"an agent to answer {caller}")
            for caller in third:   # after the talk, the satisfaction survey: host A unreachable, host B's
                await until(lambda c=caller: ivr_on(switch, c, agi2, "survey"), 30, f"{caller}'s survey on host B")
            joins = [e for e in switch.events("QueueCallerJoin") if e.get("Queue") == "public"]
            assert len(joins) == 9, [(e["CallerIDNum"], e["Uniqueid"]) for e in joins]
            assert "CTI IVR failed" not in switch.log_text()       # nobody fell through to the fail-open queue

            # host B's wall: every call once, host A gone from it
            wall = await poll(b.wall, lambda w: today(w)["answered"] >= 9 and w["instances"] == ["host-b"], 20,
                              "host B's wall with all 9 answered calls and host A gone")
            await asyncio.sleep(1.0)   # a late or doubled count would land within this second
            wall = await b.wall()
            assert (today(wall)["offered"], today(wall)["answered"]) == (9, 9), today(wall)

            # each ticket reached the ticket backend once
            def created() -> dict[str, set[str]]:
                out: dict[str, set[str]] = {}
                for headers, body in receiver.requests:
                    msg = json.loads(body)
                    if msg["type"] == "ticket.created" and headers.get("webhook-id") in receiver.accepted:
                        out.setdefault(msg["data"]["id"], set()).add(headers["webhook-id"])
                return out
            await until(lambda: set(created()) == set(tickets), 30, "every ticket at the receiver", created)
            assert all(len(ids) == 1 for ids in created().values()), created()

            # the citizens still in the survey hang up (the others are gone): host B stops with no call left
            for join in joins:
                await switch.observer.action({"Action": "Hangup", "Channel": switch.citizen_phone(join["Channel"])})
            for join in joins:
                await switch.wait_event("Hangup", 30, Uniqueid=join["Uniqueid"])
        finally:
            for host in hosts:
                host.stop()
            await receiver.stop()
            await postgres().drop_database(monitor_db)


async def test_given_the_first_host_down_when_a_follow_up_call_is_answered_then_the_second_host_runs_its_survey(
        two_host_switch, tmp_path):
    """[cti-followup] of the shipped dialplan: nothing listens on CTI_AGI_PORT (host A is down); the layer on
    CTI_AGI_PORT2 (host B) placed the follow-up call and runs its survey: the citizen is asked and rates."""
    switch, agi2 = two_host_switch
    settings = layer_settings(switch, tmp_path, agi={"port": agi2}, outbound=outbound())
    number = "13912340022"
    switch.citizen(number, "answer", ring=1)
    async with running_layer(switch, settings) as layer:
        part = outbound_of(layer)
        fid = await schedule(layer, number)
        await _asked(switch, "followup-rating")
        await switch.press(_citizen_phone(switch, number), "1")
        await _asked(switch, "followup-settled")
        await switch.press(_citizen_phone(switch, number), "1")
        f = await followup(part, fid, lambda f: f.state == "done", 30, f"follow-up {fid} done")
    assert (f.rating, f.settled, f.last_outcome) == (1, True, "surveyed"), f.__dict__
