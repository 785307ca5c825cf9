"""An AMI server for tests that replays the bytes of the Asterisk 22 recordings.

It answers Login, Ping, QueueStatus and CoreShowChannels the way the recording did (ActionIDs
rewritten to the client's), then streams the scenario's events. Knobs let a test make it misbehave.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field

from fixture_paths import ASTERISK_22

FIXTURES = ASTERISK_22

SCENARIOS = [
    "answered-within-sl", "enterprise-key2", "answered-after-sl", "abandon-in-queue",
    "queue-timeout", "hangup-during-ivr", "three-way-transfer",
]
_LINE = re.compile(r"^\s*\d+\.\d+ ?(.*)$")
BANNER = b"Asterisk Call Manager/11.0.0\r\n"


@dataclass
class Recording:
    actions: list[str]                  # action names in the order sent
    frames: list[bytes]                 # every received frame, without its blank line
    replies: dict[str, list[bytes]]     # action name -> its reply frames (ActionID: {id})


def load(name: str) -> Recording:
    actions, frames, current = [], [], []
    for raw in (FIXTURES / f"{name}.ami.txt").read_text(encoding="utf-8").splitlines():
        m = _LINE.match(raw)
        if not m:
            continue
        text = m.group(1)
        if text.startswith(">>> Action: "):
            actions.append(text.split()[2])
        elif text == "":
            if current:
                frames.append("\r\n".join(current).encode())
                current = []
        else:
            current.append(text)
    ids = sorted({int(m.group(1)) for f in frames for m in [re.search(rb"ActionID: cap-(\d+)", f)] if m})
    replies: dict[str, list[bytes]] = {}
    for action, num in zip(actions, ids, strict=False):
        tag = b"ActionID: cap-%d" % num
        replies[action] = [f.replace(tag, b"ActionID: {id}") for f in frames if tag in f.split(b"\r\n")]
    return Recording(actions, frames, replies)


def event_frames(rec: Recording) -> list[bytes]:
    """The frames a client receives as events: those not answering one of its own actions."""
    return [f for f in rec.frames
            if f.startswith(b"Event: ") and (b"\r\nActionID: " not in f or f.startswith(b"Event: OriginateResponse"))]


def fields_of(frame: bytes) -> list[tuple[str, str]]:
    """An independent, obviously-correct frame reader for assertions."""
    out = []
    for line in frame.decode("utf-8").split("\r\n"):
        key, _, value = line.partition(": ")
        out.append((key.rstrip(":"), value))
    return out


def _empty_list(kind: str) -> list[bytes]:
    return [
        b"Response: Success\r\nActionID: {id}\r\nEventList: start\r\nMessage: Channels will follow",
        b"Event: %sComplete\r\nActionID: {id}\r\nEventList: Complete\r\nListItems: 0" % kind.encode(),
    ]


@dataclass
class ReplayServer:
    events: list[bytes] = field(default_factory=list)
    secret: str = "cti-secret"
    answer_ping: bool = True
    answer_actions: bool = True
    # Close the connection after this many event frames, sending half of the next one first.
    drop_after: int | None = None
    chunk: int = 0                      # >0: write events in pieces of this many bytes
    logins: int = 0
    received: list[dict[str, str]] = field(default_factory=list)
    replies: dict[str, list[bytes]] = field(default_factory=dict)
    _sent: int = 0

    async def start(self, port: int = 0) -> int:
        self.login_frames = load("login").frames
        three_way = load("three-way-transfer")
        self.replies.setdefault("QueueStatus", load("answered-within-sl").replies["QueueStatus"])
        self.replies.setdefault("CoreShowChannels", three_way.replies.get("CoreShowChannels", _empty_list("CoreShowChannels")))
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", port)
        self.port = self.server.sockets[0].getsockname()[1]
        return self.port

    async def stop(self) -> None:
        self.server.close()
        for w in list(getattr(self, "_writers", [])):
            w.close()
        await self.server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers = getattr(self, "_writers", set())
        self._writers.add(writer)
        writer.write(BANNER)
        try:
            while True:
                raw = await reader.readuntil(b"\r\n\r\n")
                action = dict(line.split(": ", 1) for line in raw.decode().strip().split("\r\n") if ": " in line)
                self.received.append(action)
                name, aid = action.get("Action", ""), action.get("ActionID", "")
                if name == "Login":
                    self.logins += 1
                    if action.get("Secret") != self.secret:
                        writer.write(b"Response: Error\r\nActionID: %s\r\nMessage: Authentication failed\r\n\r\n" % aid.encode())
                        continue
                    writer.write(b"Response: Success\r\nActionID: %s\r\nMessage: Authentication accepted\r\n\r\n" % aid.encode())
                    for frame in self.login_frames[1:]:  # FullyBooted, SuccessfulAuth
                        writer.write(frame + b"\r\n\r\n")
                    if not self.replies.get("QueueStatus"):
                        asyncio.ensure_future(self._stream(writer))
                elif not self.answer_actions or (name == "Ping" and not self.answer_ping):
                    continue
                elif name == "Ping":
                    writer.write(b"Response: Success\r\nActionID: %s\r\nPing: Pong\r\nTimestamp: 1795339690.000000\r\n\r\n" % aid.encode())
                elif name in self.replies:
                    for frame in self.replies[name]:
                        writer.write(frame.replace(b"{id}", aid.encode()) + b"\r\n\r\n")
                    if name == "CoreShowChannels":
                        asyncio.ensure_future(self._stream(writer))
                elif name == "Logoff":
                    writer.write(b"Response: Goodbye\r\nActionID: %s\r\nMessage: Thanks for all the fish.\r\n\r\n" % aid.encode())
                else:
                    writer.write(b"Response: Error\r\nActionID: %s\r\nMessage: Invalid/unknown command\r\n\r\n" % aid.encode())
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def _stream(self, writer: asyncio.StreamWriter) -> None:
        while self._sent < len(self.events):
            frame = self.events[self._sent] + b"\r\n\r\n"
            if self.drop_after is not None and self._sent == self.drop_after:
                self.drop_after = None
                writer.write(frame[: len(frame) // 2])
                await writer.drain()
                writer.close()
                self._sent += 1  # the half-sent frame is lost with the connection, as on a real drop
                return
            if self.chunk:
                for i in range(0, len(frame), self.chunk):
                    writer.write(frame[i:i + self.chunk])
                    await writer.drain()
            else:
                writer.write(frame)
            self._sent += 1
            if self._sent % 200 == 0:
                await writer.drain()
        await writer.drain()
