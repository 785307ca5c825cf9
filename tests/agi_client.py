"""A scripted Asterisk for tests: replays recorded FastAGI dialogues and checks what the server sends."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from fixture_paths import ASTERISK_22

FIXTURES = ASTERISK_22
_LINE = re.compile(r"^\s*\d+(?:\.\d+)?\s(<<|>>)(?: (.*))?$")


@dataclass(frozen=True)
class Step:
    """``<<`` came from Asterisk (we send it), ``>>`` came from the AGI server (we expect it)."""

    direction: str
    text: str


def load_dialogue(path: Path) -> list[Step]:
    steps = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        if not raw.strip():
            continue
        match = _LINE.match(raw)
        assert match, f"unparsable fixture line {raw!r}"
        steps.append(Step(match.group(1), match.group(2) or ""))
    return steps


def env_lines(request: str = "agi://127.0.0.1:4573/ivr", **overrides: str) -> list[str]:
    """A realistic environment block (from the fixture), ending with the blank line."""
    steps = load_dialogue(FIXTURES / "answered-within-sl.agi.txt")
    lines = []
    for step in steps:
        if step.direction != "<<":
            break
        lines.append(step.text)
    env = dict(line.split(": ", 1) if ": " in line else (line.rstrip(":"), "") for line in lines if line)
    env["agi_request"] = request
    for key, value in overrides.items():
        env[key] = value
    return [f"{k}: {v}" for k, v in env.items()] + [""]


class AgiPeer:
    """One end of an AGI conversation seen from Asterisk's side."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, timeout: float = 3.0):
        self.reader = reader
        self.writer = writer
        self.timeout = timeout

    @classmethod
    async def connect(cls, port: int, host: str = "127.0.0.1", timeout: float = 3.0) -> AgiPeer:
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer, timeout)

    async def send(self, *lines: str) -> None:
        self.writer.write("".join(f"{line}\n" for line in lines).encode("utf-8"))
        await self.writer.drain()

    async def send_raw(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def expect_command(self) -> str:
        """The next line the server sends; fails the test on EOF or timeout."""
        line = await asyncio.wait_for(self.reader.readline(), self.timeout)
        assert line, "server closed the connection instead of sending a command"
        assert line.endswith(b"\n")
        return line.decode("utf-8").rstrip("\n")

    async def expect_closed(self) -> None:
        """EOF, or a reset: closing with our unread bytes in its buffer makes the kernel send RST."""
        try:
            rest = await asyncio.wait_for(self.reader.read(), self.timeout)
        except ConnectionResetError:
            return
        assert rest == b"", f"expected EOF, got {rest!r}"

    async def replay(self, steps: Sequence[Step], epilogue: Sequence[tuple[str, str]] = ()) -> list[str]:
        """Send every ``<<`` line, assert every ``>>`` line, then the (command, answer) epilogue, then EOF."""
        received = []
        for step in steps:
            if step.direction == "<<":
                await self.send(step.text)
            else:
                command = await self.expect_command()
                received.append(command)
                assert command == step.text, f"server sent {command!r}, fixture has {step.text!r}"
        for command, answer in epilogue:
            got = await self.expect_command()
            received.append(got)
            assert got == command, f"server sent {got!r}, expected {command!r}"
            await self.send(answer)
        await self.expect_closed()
        return received

    async def close(self) -> None:
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except (ConnectionError, OSError):
            pass
