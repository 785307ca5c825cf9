"""Process AGI (``AGI(cti-agi-script,...)``): the same handlers over stdin/stdout.

pyst2's ``asterisk.agi.AGI`` reads the environment and installs its SIGHUP handler (Asterisk's hangup
signal for process AGI); its stderr chatter goes to a sink, and the commands then travel through our
own :class:`StdioTransport` so the call context, parsing and fail-open rules are those of FastAGI.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import threading
from typing import Any

from cti.agi.errors import AgiError, PeerGone, ProtocolError
from cti.agi.protocol import MAX_ENV_LINES, MAX_LINE_BYTES, AgiEnv
from cti.agi.registry import Registry
from cti.agi.session import Outcome, run_call
from cti.agi.transport import StreamTransport, decode_line

log = logging.getLogger("cti.agi")

STDIN_FD = 0
STDOUT_FD = 1


class _EnvLineSource:
    """What pyst2 reads the environment from: bounded lines, byte by byte so nothing is over-read."""

    def __init__(self, fd: int = STDIN_FD):
        self._fd = fd
        self._lines = 0

    def readline(self) -> str:
        self._lines += 1
        if self._lines > MAX_ENV_LINES:
            raise ProtocolError("environment block too large")
        raw = bytearray()
        while not raw.endswith(b"\n"):
            byte = os.read(self._fd, 1)
            if not byte:
                break
            raw += byte
            if len(raw) > MAX_LINE_BYTES:
                raise ProtocolError(f"line longer than {MAX_LINE_BYTES} bytes")
        return decode_line(bytes(raw)) + ("\n" if raw else "")


class _Sink:
    """pyst2 writes every line it reads to stderr, which Asterisk logs: keep it out."""

    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass


class StdioTransport(StreamTransport):
    """AGI over the process's stdin/stdout pipes; hangup also arrives as SIGHUP (seen through pyst2)."""

    def __init__(self, reader: asyncio.StreamReader, agi: Any, out_fd: int = STDOUT_FD):
        self._reader = reader
        self._agi = agi
        self._out_fd = out_fd

    async def write_line(self, line: str) -> None:
        data = memoryview(line.encode("utf-8") + b"\n")
        try:
            while data:
                try:
                    data = data[os.write(self._out_fd, data) :]
                except BlockingIOError:
                    await asyncio.sleep(0.001)
        except OSError as exc:  # EPIPE: Asterisk closed our stdout
            raise PeerGone(str(exc)) from exc

    def hangup_signalled(self) -> bool:
        return bool(getattr(self._agi, "_got_sighup", False))

    async def close(self) -> None:
        return None


def _read_env_with_pyst2() -> tuple[Any, dict[str, str]]:
    from asterisk.agi import AGI  # pyst2

    sink = _Sink()
    if threading.current_thread() is threading.main_thread():
        agi = AGI(stdin=_EnvLineSource(), stdout=sys.stdout, stderr=sink)
    else:
        # signal.signal() only works in the main thread: without it we simply learn hangups from 511.
        original = signal.signal
        signal.signal = lambda *_args: None  # type: ignore[assignment]
        try:
            agi = AGI(stdin=_EnvLineSource(), stdout=sys.stdout, stderr=sink)
        finally:
            signal.signal = original  # type: ignore[assignment]
    return agi, dict(agi.env)


async def _serve(agi: Any, env: AgiEnv, registry: Registry, command_timeout: float) -> Outcome:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=MAX_LINE_BYTES)
    stdin = open(STDIN_FD, "rb", buffering=0, closefd=False)  # closed by the pipe transport, fd 0 stays open
    pipe, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), stdin)
    try:
        return await run_call(env, StdioTransport(reader, agi), registry, command_timeout=command_timeout)
    finally:
        pipe.close()


def run_script(name: str, registry: Registry | None = None, command_timeout: float = 60.0) -> int:
    """Run handler ``name`` (``ivr`` or ``ivr?lang=zh``) as a process AGI script; returns the exit code.

    0 when the call ended normally or the caller hung up, 1 when it failed (CTI_RESULT=failed was set
    if the channel was still there).
    """
    if registry is None:
        from cti.agi.builtin import default_registry

        registry = default_registry()
    previous = signal.getsignal(signal.SIGHUP)
    try:
        agi, variables = _read_env_with_pyst2()
        env = AgiEnv.from_vars(variables, request=name)
        outcome = asyncio.run(_serve(agi, env, registry, command_timeout))
    except (AgiError, OSError, ValueError) as exc:
        log.warning("agi script %r failed before the call started: %s", name, exc)
        return 1
    finally:
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGHUP, previous)
    return 1 if outcome is Outcome.FAILED else 0
