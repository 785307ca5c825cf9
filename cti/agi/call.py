"""The per-call context a handler receives: the environment plus typed AGI command helpers.

Hang-up policy: a ``HANGUP`` line or a 511 answer sets ``call.hung_up`` (so does the connection
closing while a ``result=-1`` is being confirmed, below); helpers for dead-safe commands (GET/SET
VARIABLE, VERBOSE, EXEC, ...) keep working, and the next command that is *not* dead-safe raises
:class:`CallHungUp` without being sent.

``200 result=-1`` alone is *not* a hang-up. Playback and input helpers return it as ``failed=True``:
on a live channel it means Asterisk could not play the file (res_agi answers ``200 result=-1
endpos=0`` to STREAM FILE / GET OPTION and ``200 result=-1`` to GET DATA for a file that does not
exist, and each of them takes ONE file name: ``a&b`` is such a file). After a hang-up Asterisk
answers the same, and its HANGUP line follows (fixture ``hangup-during-ivr``): a handler that must
know which one it was asks :meth:`AgiCall.confirm_hangup`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass

from cti.agi.errors import CallHungUp, CommandFailed, CommandTimeout, PeerGone
from cti.agi.protocol import AgiEnv, AgiResponse, ResponseAssembler, format_command, is_dead_safe, quote
from cti.agi.transport import Transport
from cti.privacy import mask_number


@dataclass(frozen=True, slots=True)
class Playback:
    """Result of STREAM FILE / GET OPTION: the escape digit pressed (or None) and where playback stopped.

    ``endpos`` is in samples (8000 a second for 8 kHz audio); ``failed`` is ``result=-1``: the file
    could not be played, or the caller hung up (:meth:`AgiCall.confirm_hangup` tells which).
    """

    digit: str | None
    endpos: int | None
    failed: bool = False


@dataclass(frozen=True, slots=True)
class DigitInput:
    """Result of GET DATA / WAIT FOR DIGIT: the digits typed ('' for none), whether input ended on the
    timeout, and ``failed`` for ``result=-1`` (no such prompt file, or a hang-up: see ``confirm_hangup``)."""

    digits: str
    timed_out: bool = False
    failed: bool = False


class AgiCall:
    """One call: env accessors, one-command-at-a-time I/O, and the typed helpers."""

    def __init__(self, env: AgiEnv, transport: Transport, command_timeout: float = 60.0):
        self.env = env
        self.command_timeout = command_timeout
        self.hung_up = False
        self.hung_up_by_us = False
        self._transport = transport
        self._assembler = ResponseAssembler()
        self._lock = asyncio.Lock()
        # Commands written whose response has not been read yet (non-zero only after a timeout).
        self._pending = 0

    # --- environment ---------------------------------------------------------------------------------

    @property
    def script(self) -> str:
        return self.env.script

    @property
    def params(self) -> Mapping[str, str]:
        return self.env.params

    @property
    def args(self) -> tuple[str, ...]:
        return self.env.args

    @property
    def caller_id(self) -> str:
        return self.env.caller_id

    @property
    def caller_name(self) -> str:
        return self.env.caller_name

    @property
    def uniqueid(self) -> str:
        return self.env.uniqueid

    @property
    def channel(self) -> str:
        return self.env.channel

    @property
    def masked_caller(self) -> str:
        return mask_number(self.caller_id)

    # --- raw command ---------------------------------------------------------------------------------

    async def command(self, line: str, *, timeout: float | None = None) -> AgiResponse:
        """Send one command line and return its response.

        Raises CallHungUp (before sending, when a known-dead channel would refuse it; or on 511),
        CommandFailed (510/520), CommandTimeout, PeerGone, ProtocolError.
        """
        async with self._lock:
            self._note_transport_hangup()
            if self.hung_up and not is_dead_safe(line):
                raise CallHungUp(f"caller hung up before {line.split(' ', 2)[:2]}")
            response = await self._exchange(line, self.command_timeout if timeout is None else timeout)
        if response.code == 511:
            self.hung_up = True
            raise CallHungUp(f"511 for {line!r}")
        if response.code != 200:
            raise CommandFailed(line, response)
        return response

    async def _exchange(self, line: str, timeout: float) -> AgiResponse:
        try:
            async with asyncio.timeout(timeout):
                self._pending += 1  # counted before the write: a cancel mid-write still leaves it owed
                await self._transport.write_line(line)
                while True:
                    response = await self._read_response()
                    self._pending -= 1
                    # Older responses (left over from a timed-out command) are stale: skip them.
                    if self._pending == 0:
                        return response
        except TimeoutError as exc:
            raise CommandTimeout(f"no response to {line!r} within {timeout:g} s") from exc

    async def _read_response(self) -> AgiResponse:
        while True:
            response = self._assembler.feed(await self._transport.read_line())
            if self._assembler.hangup_seen:
                self.hung_up = True
            if response is not None:
                return response

    def _note_transport_hangup(self) -> None:
        if self._transport.hangup_signalled():
            self.hung_up = True

    # --- typed helpers -------------------------------------------------------------------------------

    async def answer(self) -> None:
        await self.command("ANSWER")

    async def stream_file(self, name: str, escape_digits: str = "", offset: int | None = None) -> Playback:
        """Play ONE sound file (no ``&`` lists: that is Playback()'s syntax, not AGI's); STREAM FILE
        answers the ASCII code of the escape digit pressed (49 -> '1'), 0 when none, -1 on failure."""
        parts = [quote(name), quote(escape_digits, always=True)]
        if offset is not None:
            parts.append(str(int(offset)))
        return _playback(await self.command(format_command("STREAM FILE", *parts)))

    async def get_option(self, name: str, escape_digits: str = "", timeout_ms: int | None = None) -> Playback:
        """STREAM FILE of ONE file that also waits ``timeout_ms`` (milliseconds) for a digit after it."""
        parts = [quote(name), quote(escape_digits, always=True)]
        if timeout_ms is not None:
            parts.append(str(int(timeout_ms)))
        extra = (timeout_ms or 0) / 1000
        return _playback(await self.command(format_command("GET OPTION", *parts), timeout=self._longer(extra)))

    async def get_data(self, prompt: str, timeout_ms: int | None = None, max_digits: int | None = None) -> DigitInput:
        """Play ONE file ``prompt`` and collect up to ``max_digits`` digits, each within ``timeout_ms``
        milliseconds, ``#`` ending early; GET DATA answers the digit string itself."""
        parts = [quote(prompt)]
        if timeout_ms is not None or max_digits is not None:
            parts.append(str(int(timeout_ms or 0)))
        if max_digits is not None:
            parts.append(str(int(max_digits)))
        extra = (timeout_ms or 0) / 1000 * max(1, max_digits or 1)
        response = await self.command(format_command("GET DATA", *parts), timeout=self._longer(extra))
        if response.result == -1:
            return DigitInput("", timed_out=False, failed=True)
        return DigitInput(response.result_text, timed_out=response.timeout)

    async def wait_for_digit(self, timeout_ms: int = -1) -> DigitInput:
        """Wait up to ``timeout_ms`` milliseconds (-1: for ever) for one key; answers its ASCII code, 0 if none."""
        extra = max(timeout_ms, 0) / 1000
        response = await self.command(f"WAIT FOR DIGIT {int(timeout_ms)}", timeout=self._longer(extra))
        if response.result == -1:
            return DigitInput("", failed=True)
        digit = _digit(response.result)
        return DigitInput(digit, timed_out=False) if digit else DigitInput("", timed_out=True)

    async def confirm_hangup(self) -> bool:
        """After a ``200 result=-1``: True when the caller hung up, False when the channel is still live.

        Asks NOOP (dead-safe, so it is answered either way) unless a hangup is already known. res_agi's
        run_agi checks the channel after each command and, if it hung up, sends its HANGUP line
        (FastAGI) or SIGHUP (process AGI) before it reads the next command: a hang-up shows before
        NOOP's answer. A connection closed meanwhile is a hang-up too.
        """
        if not self.hung_up:
            try:
                await self.command("NOOP")
            except PeerGone:
                self.hung_up = True
            self._note_transport_hangup()
        return self.hung_up

    async def set_variable(self, name: str, value: object) -> None:
        await self.command(format_command("SET VARIABLE", quote(name), quote(value)))

    async def get_variable(self, name: str) -> str | None:
        """The variable's value, or None when it is not set (``200 result=0``)."""
        response = await self.command(format_command("GET VARIABLE", quote(name)))
        if response.result != 1:
            return None
        return response.data if response.data is not None else ""

    async def exec(self, app: str, *args: object) -> int:
        """Run a dialplan application; returns its result (-2 when the application does not exist)."""
        options = ",".join(str(a) for a in args)
        parts = [quote(app)] + ([quote(options, always=True)] if args else [])
        response = await self.command(format_command("EXEC", *parts))
        return response.result if isinstance(response.result, int) else 0

    async def verbose(self, message: str, level: int = 1) -> None:
        await self.command(format_command("VERBOSE", quote(message, always=True), str(int(level))))

    async def hangup(self) -> None:
        """Hang up the caller on purpose: the call ends as a success and no CTI_RESULT is written."""
        await self.command("HANGUP")
        self.hung_up = True
        self.hung_up_by_us = True

    def _longer(self, seconds: float) -> float:
        return self.command_timeout + seconds


def _digit(result: int | str) -> str | None:
    if isinstance(result, int) and 0 < result < 0x110000:
        return chr(result)
    return None


def _playback(response: AgiResponse) -> Playback:
    if response.result == -1:
        return Playback(None, response.endpos, failed=True)
    return Playback(_digit(response.result), response.endpos)
