"""One scenario, two switches: the same AMI actions to the real Asterisk and to the simulator, and the
stream each one sends the layer's user (``cti``, the shipped manager_cti.conf: read classes and
eventfilter apply) kept per scenario.

Both switches get the actions from an all-powerful session (the real switch's ``observer``, the
simulator's extra user of the same name) and the ``cti`` session only listens. The test phones are
``extensions_test.conf`` on the real switch and :mod:`real_asterisk.sim_phones` on the simulator,
driven by the same AstDB keys.
"""

from __future__ import annotations

import asyncio
import itertools

from sim_support import AmiClient

from real_asterisk.parity import MARKER
from real_asterisk.switch import OBSERVER_SECRET

_seq = itertools.count(1)


class Side:
    """A switch seen through two AMI sessions: ``admin`` acts, ``cti`` (the layer's user) listens."""

    def __init__(self, name: str, ami_port: int) -> None:
        self.name, self.ami_port = name, ami_port
        self.admin = AmiClient()
        self.cti = AmiClient()
        self.mark = 0
        self.cut_frames: list | None = None   # what the layer's user received before a cut (see cut())
        self.layer = None        # the layer running on this switch (its HTTP API drives transfers)
        # party -> (name, fields, seconds): what a scenario found out beside the events (a recording's length)
        self.facts: dict[str, list[tuple[str, tuple[tuple[str, str], ...], float]]] = {}

    async def connect(self) -> None:
        for client, user, secret in ((self.admin, "observer", OBSERVER_SECRET), (self.cti, "cti", "cti-secret")):
            await client.connect(self.ami_port)
            resp = dict(await client.action({"Action": "Login", "Username": user, "Secret": secret}))
            assert resp.get("Response") == "Success", (self.name, user, resp)
        # the login's FullyBooted belongs to no scenario
        await self.cti.wait_for(lambda f: dict(f).get("Event") == "FullyBooted", 10)

    async def close(self) -> None:
        for client in (self.admin, self.cti):
            await client.close()

    async def act(self, action: dict) -> dict:
        resp = dict(await self.admin.action(action))
        assert resp.get("Response") == "Success", (self.name, action, resp)
        return resp

    async def db(self, family: str, key: str, value: object) -> None:
        await self.act({"Action": "DBPut", "Family": family, "Key": key, "Val": value})

    # -- parties -------------------------------------------------------------------------------------
    async def login(self, agent: str, queue: str = "public") -> None:
        """QueueAdd, then its QueueMemberAdded (app_queue sends the event apart from the action's answer)."""
        since = len(self.cti.frames)
        await self.act({"Action": "QueueAdd", "Queue": queue, "Interface": f"Local/{agent}@agents/n",
                        "MemberName": agent})
        await self.cti_event(since, "QueueMemberAdded", Interface=f"Local/{agent}@agents/n")

    async def logout(self, agent: str, queue: str = "public") -> None:
        since = len(self.cti.frames)
        await self.act({"Action": "QueueRemove", "Queue": queue, "Interface": f"Local/{agent}@agents/n"})
        await self.cti_event(since, "QueueMemberRemoved", Interface=f"Local/{agent}@agents/n")

    async def agent(self, agent: str, ring: float = 1.0, talk: float = 3600.0, busy: bool = False) -> None:
        for key, value in (("ring", ring), ("talk", talk), ("busy", "yes" if busy else "no")):
            await self.db("agent", f"{agent}/{key}", value)

    async def queue_caller(self, caller: str, patience: float, timeout: int = 600, queue: str = "") -> None:
        """A citizen put straight into queue ``public`` (test-queue) or ``queue`` (test-queue-named), hanging
        up after ``patience`` s."""
        await self.db("qcaller", f"{caller}/timeout", timeout)
        context = "test-queue"
        if queue:
            await self.db("qcaller", f"{caller}/queue", queue)
            context = "test-queue-named"
        await self._originate(f"Local/{caller}@{context}", caller, caller, 0, "none", patience)

    async def call(self, caller: str, dialled: str = "12345", keys: str = "", delay: float = 1.0,
                   stay: float = 600.0, variables: dict[str, object] | None = None) -> None:
        """A citizen dials ``dialled`` ([cti-inbound]), presses ``keys`` ``delay`` s after the answer;
        ``variables`` are set on the call (the Local channel passes them to the [cti-inbound] half)."""
        await self._originate(f"Local/{dialled}@cti-inbound", caller, caller, delay, keys or "none", stay, variables)

    async def _originate(self, channel: str, caller: str, sid: str, delay: float, keys: str, stay: float,
                         variables: dict[str, object] | None = None) -> None:
        for key, value in (("delay", delay), ("keys", keys), ("stay", stay)):
            await self.db("caller", f"{sid}/{key}", value)
        action = {"Action": "Originate", "Channel": channel, "Context": "test-caller", "Exten": sid, "Priority": 1,
                  "CallerID": f'"张三" <{caller}>', "Async": "true", "Timeout": 30000}
        if variables:
            action["Variable"] = ",".join(f"{k}={v}" for k, v in variables.items())
        await self.act(action)

    async def department(self, number: str, ring: float = 2.0, talk: float = 3600.0, busy: bool = False) -> None:
        for key, value in (("ring", ring), ("talk", talk), ("busy", "yes" if busy else "no")):
            await self.db("dept", f"{number}/{key}", value)

    async def api(self, method: str, path: str, body: dict | None = None) -> dict:
        """The agent's desktop: one request to the layer's HTTP API, which must succeed."""
        from real_asterisk.desk import api

        status, data = await api(self.layer, method, path, body)
        assert status == 200, (self.name, method, path, status, data)
        return data

    async def answered_call(self, caller: str, timeout: float = 30.0) -> dict:
        """The layer's call of ``caller`` once an agent has answered it (GET /api/calls)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            calls = await self.api("GET", "/api/calls")
            found = next((c for c in calls if c.get("caller") == caller and c.get("agent_channel")), None)
            if found is not None:
                return found
            if loop.time() > deadline:
                raise AssertionError(f"{self.name}: {caller}'s call not answered in /api/calls: {calls}")
            await asyncio.sleep(0.1)

    async def transfer_state(self, call_id: str, states: set[str], timeout: float = 40.0) -> dict:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            call = await self.api("GET", f"/api/calls/{call_id}")
            if (call.get("transfer") or {}).get("state") in states:
                return call
            if loop.time() > deadline:
                raise AssertionError(f"{self.name}: transfer of {call_id} never reached {states}: {call}")
            await asyncio.sleep(0.1)

    async def cut(self) -> list:
        """The layer's user loses its AMI connection and logs in again (the network, not Asterisk): returns
        what a fresh session learns of the calls, QueueStatus and CoreShowChannels' items (the layer's resync).
        From then on ``cti`` is the new session; ``cut_frames`` keeps what the old one received."""
        self.cut_frames = list(self.cti.frames)
        await self.cti.close()
        self.cti = AmiClient()
        await self.cti.connect(self.ami_port)
        resp = dict(await self.cti.action({"Action": "Login", "Username": "cti", "Secret": "cti-secret"}))
        assert resp.get("Response") == "Success", (self.name, resp)
        await self.cti.wait_for(lambda f: dict(f).get("Event") == "FullyBooted", 10)
        items = await self.cti.list_action({"Action": "QueueStatus", "Queue": "public"})
        items += await self.cti.list_action({"Action": "CoreShowChannels"})
        return [f for f in items if f and f[0][0] == "Event" and dict(f).get("EventList") != "Complete"]

    async def recording(self, uniqueid: str, timeout: float = 30.0) -> dict:
        """The layer's recording of call ``uniqueid`` once converted or found empty (never pending)."""
        from real_asterisk.desk import api

        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            status, info = await api(self.layer, "GET", f"/api/recordings/{uniqueid}/info")
            if status == 200 and info.get("status") in ("ready", "empty", "failed"):
                return info
            if loop.time() > deadline:
                raise AssertionError(f"{self.name}: recording {uniqueid} not settled in {timeout} s: {status} {info}")
            await asyncio.sleep(0.1)

    # -- the stream ----------------------------------------------------------------------------------
    async def cti_event(self, since: int, name: str, timeout: float = 30.0, **fields: str) -> dict[str, str]:
        """The first event ``name`` with ``fields`` the layer's user received after frame ``since``."""
        def match(frame) -> bool:
            d = dict(frame)
            return d.get("Event") == name and all(d.get(k) == v for k, v in fields.items())

        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            found = next((dict(f) for f in self.cti.frames[since:] if match(f)), None)
            if found is not None:
                return found
            if loop.time() > deadline:
                seen = [dict(f).get("Event") for f in self.cti.frames[since:]]
                raise AssertionError(f"{self.name}: no {name} {fields} within {timeout} s; saw {seen}")
            await asyncio.sleep(0.05)

    def open_channels(self, since: int) -> set[str]:
        opened, closed = set(), set()
        for f in self.cti.frames[since:]:
            d = dict(f)
            if d.get("Event") == "Newchannel":
                opened.add(d["Channel"])
            elif d.get("Event") == "Hangup":
                closed.add(d["Channel"])
        return opened - closed

    async def settled(self, since: int, timeout: float = 60.0, channels: bool = True) -> list:
        """Once every channel of the scenario has hung up (``channels``: at least one was seen), a marker
        UserEvent through the switch; returns the ``cti`` frames from ``since`` to the marker (everything the
        switch sent before it)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while (channels and not any(dict(f).get("Event") == "Newchannel" for f in self.cti.frames[since:])) \
                or self.open_channels(since):
            if loop.time() > deadline:
                raise AssertionError(f"{self.name}: channels still up after {timeout} s: {self.open_channels(since)}")
            await asyncio.sleep(0.05)
        self.mark = next(_seq)
        await self.act({"Action": "UserEvent", "UserEvent": MARKER, "Mark": self.mark})
        mark = str(self.mark)
        frame = await self.cti.wait_for(lambda f: dict(f).get("UserEvent") == MARKER and dict(f).get("Mark") == mark,
                                        10)
        return self.cti.frames[since:self.cti.frames.index(frame)]


class SimSwitch:
    """What the suite's ``running_layer`` / ``layer_settings`` need of a switch, for the simulator."""

    def __init__(self, ami_port: int, agi_port: int, monitor_dir) -> None:
        self.ami_port, self.agi_port, self.monitor_dir = ami_port, agi_port, monitor_dir
        self.observer: AmiClient | None = None

    async def observe(self) -> AmiClient:
        client = AmiClient()
        await client.connect(self.ami_port)
        resp = dict(await client.action({"Action": "Login", "Username": "observer", "Secret": OBSERVER_SECRET}))
        assert resp.get("Response") == "Success", resp
        self.observer = client
        return client


class ProbeAgi:
    """A FastAGI server of the test's own standing in for the layer's IVR on one call (the dialplan's
    [cti-agi] takes CTI_AGI_PORT from the channel): it sends ``command``, then reports Asterisk's answer
    in ``__CTI_TAGS`` (a variable the layer's user receives) and routes the call to queue ``public``."""

    def __init__(self, command: str) -> None:
        self.command = command
        self.answers: list[str] = []
        self.port = 0
        self._server: asyncio.base_events.Server | None = None

    async def start(self) -> ProbeAgi:
        self._server = await asyncio.start_server(self._session, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        async def ask(line: str) -> str:
            writer.write(line.encode() + b"\n")
            await writer.drain()
            while True:   # a bare HANGUP line may come before the answer (DESIGN.md section 5)
                answer = (await reader.readline()).decode().strip()
                if answer != "HANGUP":
                    return answer

        try:
            while (await reader.readline()).strip():   # the agi_* block ends with a blank line
                pass
            answer = await ask(self.command)
            self.answers.append(answer)
            await ask(f'SET VARIABLE __CTI_TAGS "probe:{answer}"')
            await ask("SET VARIABLE CTIQUEUE public")
            await ask("SET VARIABLE CTI_RESULT ok")
        finally:
            writer.close()
