"""Helpers for the simulator tests: a raw AMI client, an in-test FastAGI responder, fixture access."""

from __future__ import annotations

import asyncio
import re

from fixture_paths import ASTERISK_22

from cti.simulator.grammar import parse_frames, read_recording

FIXTURES = ASTERISK_22

SCENARIOS = ["answered-within-sl", "enterprise-key2", "answered-after-sl", "abandon-in-queue",
             "queue-timeout", "hangup-during-ivr", "three-way-transfer"]


def agi_commands(name: str) -> list[str]:
    path = FIXTURES / f"{name}.agi.txt"
    if not path.exists():
        return []
    out = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        m = re.match(r"^\s*[\d.]+ >> (.*)$", raw)
        if m:
            out.append(m.group(1))
    return out


def agi_replies(name: str) -> list[str]:
    """The lines Asterisk sent after the agi_ block (responses and HANGUP)."""
    lines = []
    seen_blank = False
    for raw in (FIXTURES / f"{name}.agi.txt").read_text(encoding="utf-8").splitlines():
        m = re.match(r"^\s*[\d.]+ << ?(.*)$", raw)
        if not m:
            continue
        if not seen_blank:
            seen_blank = m.group(1) == ""
            continue
        lines.append(m.group(1))
    return lines


def agi_environment(name: str) -> list[str]:
    out = []
    for raw in (FIXTURES / f"{name}.agi.txt").read_text(encoding="utf-8").splitlines():
        m = re.match(r"^\s*[\d.]+ << ?(.*)$", raw)
        if m:
            if m.group(1) == "":
                break
            out.append(m.group(1).split(":", 1)[0])
    return out


class Recording:
    def __init__(self, name: str) -> None:
        self.name = name
        self.items = read_recording(FIXTURES / f"{name}.ami.txt")
        self.actions = [(off, item[">>>"]) for off, item in self.items if isinstance(item, dict)]
        self.frames = [(off, item) for off, item in self.items if not isinstance(item, dict)]
        ts = next((float(dict(f)["Timestamp"]), off) for off, f in self.frames if "Timestamp" in dict(f))
        self.base = ts[0] - ts[1] / 1000.0   # epoch of offset 0

    def events(self) -> list[list[tuple[str, str]]]:
        return [f for _, f in self.frames if f[0][0] == "Event"]


class AmiClient:
    """A bare AMI client over TCP that keeps every frame it receives."""

    def __init__(self) -> None:
        self.frames: list[list[tuple[str, str]]] = []
        self.raw = b""
        self._buf = b""
        self._waiters: list[tuple[callable, asyncio.Future]] = []
        self._seq = 0

    async def connect(self, port: int, host: str = "127.0.0.1") -> bytes:
        self.reader, self.writer = await asyncio.open_connection(host, port)
        banner = await self.reader.readline()
        self._task = asyncio.get_running_loop().create_task(self._read())
        return banner

    async def _read(self) -> None:
        while True:
            data = await self.reader.read(65536)
            if not data:
                break
            self.raw += data
            self._buf += data
            while b"\r\n\r\n" in self._buf:
                chunk, self._buf = self._buf.split(b"\r\n\r\n", 1)
                for frame in parse_frames(chunk + b"\r\n\r\n"):
                    self.frames.append(frame)
                    for pred, fut in list(self._waiters):
                        if not fut.done() and pred(frame):
                            fut.set_result(frame)
        for _, fut in self._waiters:
            if not fut.done():
                fut.set_exception(ConnectionError("closed"))

    def send(self, action: dict, action_id: str | None = None) -> str:
        self._seq += 1
        aid = action_id or f"t-{self._seq}"
        lines = [f"Action: {action['Action']}"] + [f"{k}: {v}" for k, v in action.items() if k != "Action"]
        lines.append(f"ActionID: {aid}")
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("utf-8"))
        return aid

    async def wait_for(self, pred, timeout: float = 10.0):
        for f in self.frames:
            if pred(f):
                return f
        fut = asyncio.get_running_loop().create_future()
        self._waiters.append((pred, fut))
        return await asyncio.wait_for(fut, timeout)

    async def action(self, action: dict, timeout: float = 10.0) -> list[tuple[str, str]]:
        aid = self.send(action)
        return await self.wait_for(lambda f: f[0][0] == "Response" and dict(f).get("ActionID") == aid, timeout)

    async def list_action(self, action: dict, timeout: float = 10.0) -> list[list[tuple[str, str]]]:
        aid = self.send(action)
        await self.wait_for(lambda f: dict(f).get("ActionID") == aid and dict(f).get("EventList") == "Complete",
                            timeout)
        return [f for f in self.frames if dict(f).get("ActionID") == aid]

    async def close(self) -> None:
        self.writer.close()
        self._task.cancel()


async def login(client: AmiClient, port: int, events: str = "on") -> None:
    await client.connect(port)
    resp = await client.action({"Action": "Login", "Username": "cti", "Secret": "cti-secret", "Events": events})
    assert dict(resp)["Response"] == "Success"


class AgiResponder:
    """An in-test FastAGI server that sends a fixed list of commands, one per response."""

    def __init__(self) -> None:
        self.script: list[str] = []
        self.sessions: list[dict] = []

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return self.server.sockets[0].getsockname()[1]

    async def _handle(self, reader, writer) -> None:
        session = {"env": [], "replies": []}
        self.sessions.append(session)
        while True:
            line = (await reader.readline()).decode().rstrip("\n")
            if line == "":
                break
            session["env"].append(line)
        for cmd in list(self.script):
            writer.write((cmd + "\n").encode())
            await writer.drain()
            while True:
                line = (await reader.readline()).decode().rstrip("\n")
                session["replies"].append(line)
                if line != "HANGUP":
                    break
        writer.close()

    async def stop(self) -> None:
        self.server.close()
