"""How AGI lines travel: one small interface, a socket implementation here, stdin/stdout in script.py."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Protocol

from cti.agi.errors import PeerGone, ProtocolError
from cti.agi.protocol import MAX_ENV_BYTES, MAX_ENV_LINES, MAX_LINE_BYTES, AgiEnv, parse_env


class Transport(Protocol):
    """A line channel to one Asterisk call."""

    async def read_line(self) -> str:
        """The next line without its end-of-line; raises PeerGone at EOF, ProtocolError if too long."""
        ...

    async def write_line(self, line: str) -> None: ...

    def hangup_signalled(self) -> bool:
        """True once the transport itself learnt of a hangup (SIGHUP for process AGI)."""
        ...

    async def close(self) -> None: ...


def decode_line(raw: bytes) -> str:
    # Invalid UTF-8 must not end the call: bad bytes become U+FFFD and the rest stays readable.
    return raw.decode("utf-8", errors="replace").rstrip("\r\n")


class StreamTransport:
    """AGI over an asyncio stream pair (a FastAGI socket, or pipes)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self._reader = reader
        self._writer = writer

    async def read_line(self) -> str:
        try:
            raw = await self._reader.readuntil(b"\n")
        except asyncio.IncompleteReadError as exc:
            raise PeerGone("connection closed") from exc
        except asyncio.LimitOverrunError as exc:
            raise ProtocolError(f"line longer than {MAX_LINE_BYTES} bytes") from exc
        except (ConnectionError, OSError) as exc:
            raise PeerGone(str(exc)) from exc
        return decode_line(raw)

    async def write_line(self, line: str) -> None:
        if self._writer.is_closing():
            raise PeerGone("connection closed")
        self._writer.write(line.encode("utf-8") + b"\n")
        # Only wait when the kernel buffer is full: one small command never needs it.
        if self._writer.transport.get_write_buffer_size() > 64 * 1024:
            try:
                await self._writer.drain()
            except (ConnectionError, OSError) as exc:
                raise PeerGone(str(exc)) from exc

    def hangup_signalled(self) -> bool:
        return False

    async def close(self) -> None:
        self._writer.close()
        with contextlib.suppress(Exception):
            await self._writer.wait_closed()


async def read_env(transport: Transport) -> AgiEnv:
    """Read the ``agi_*`` block up to the blank line, bounded in lines and bytes."""
    lines: list[str] = []
    size = 0
    while True:
        line = await transport.read_line()
        if line == "":
            return parse_env(lines)
        size += len(line) + 1
        if len(lines) >= MAX_ENV_LINES or size > MAX_ENV_BYTES:
            raise ProtocolError("environment block too large")
        lines.append(line)
