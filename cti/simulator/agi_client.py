"""FastAGI client side: the simulator calls the CTI layer's AGI server like Asterisk's res_agi does.

Wire behaviour as recorded: the ``agi_*`` block and a blank line, then one response line per
command (``200 result=...``); STREAM FILE answers ``result=0 endpos=N`` or the ASCII code of the digit
pressed; GET DATA the digits, with `` (timeout)`` when the wait ran out; a hangup during a command
answers ``result=-1`` followed by a bare ``HANGUP`` line; after hangup only dead-safe commands run,
the others get 511; an unknown command gets 510.

STREAM FILE, CONTROL STREAM FILE, GET OPTION and GET DATA take ONE file name, as on Asterisk 22:
``a&b`` (Playback()'s list syntax) is a file that does not exist, answered at once, channel live,
with ``200 result=-1 endpos=0`` (GET DATA: ``200 result=-1``) and no HANGUP line (res_agi's
handle_streamfile / handle_getoption / ast_app_getdata_full). So are the names in ``missing_prompts``.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
import shlex
from typing import TYPE_CHECKING

from .fields import channel_fields
from .model import Channel

if TYPE_CHECKING:
    from .pbx import Pbx

log = logging.getLogger(__name__)

SAMPLE_RATE = 8000
DEAD_SAFE = {"ASYNCAGI BREAK", "DATABASE DEL", "DATABASE DELTREE", "DATABASE GET", "DATABASE PUT", "EXEC",
             "GET FULL VARIABLE", "GET VARIABLE", "HANGUP", "NOOP", "SET VARIABLE", "VERBOSE", "GOSUB"}
COMMANDS = sorted([
    "ANSWER", "ASYNCAGI BREAK", "CHANNEL STATUS", "CONTROL STREAM FILE", "DATABASE DEL", "DATABASE DELTREE",
    "DATABASE GET", "DATABASE PUT", "EXEC", "GET DATA", "GET FULL VARIABLE", "GET OPTION", "GET VARIABLE",
    "GOSUB", "HANGUP", "NOOP", "RECEIVE CHAR", "RECORD FILE", "SAY ALPHA", "SAY DIGITS", "SAY NUMBER",
    "SAY PHONETIC", "SAY DATE", "SAY TIME", "SAY DATETIME", "SET AUTOHANGUP", "SET CALLERID", "SET CONTEXT",
    "SET EXTENSION", "SET MUSIC", "SET PRIORITY", "SET VARIABLE", "STREAM FILE", "TDD MODE", "VERBOSE",
    "WAIT FOR DIGIT"], key=len, reverse=True)


class AgiSession:
    def __init__(self, pbx: Pbx, ch: Channel, url: str, reader, writer) -> None:
        self.pbx, self.ch, self.url = pbx, ch, url
        self.reader, self.writer = reader, writer
        self.hangup_sent = False
        self.digits: asyncio.Queue[str] = asyncio.Queue()

    @property
    def dead(self) -> bool:
        return self.ch.gone or self.ch.hangup_requested.is_set()

    def write(self, line: str) -> None:
        self.writer.write(line.encode("utf-8") + b"\n")

    def environment(self) -> list[str]:
        ch = self.ch
        script = self.url.split("/", 3)[3] if self.url.count("/") >= 3 else ""
        num = ch.cid_num if ch.cid_num != "<unknown>" else "unknown"
        name = ch.cid_name if ch.cid_name != "<unknown>" else "unknown"
        env = [("network", "yes"), ("network_script", script), ("request", self.url), ("channel", ch.name),
               ("language", ch.language), ("type", ch.name.split("/", 1)[0]), ("uniqueid", ch.uniqueid),
               ("version", "22.10.1"), ("callerid", num), ("calleridname", name), ("callingpres", "0"),
               ("callingani2", "0"), ("callington", "0"), ("callingtns", "0"), ("dnid", "unknown"),
               ("rdnis", "unknown"), ("context", ch.context), ("extension", ch.exten),
               ("priority", str(ch.priority)), ("enhanced", "0.0"), ("accountcode", ch.accountcode),
               ("threadid", str(random.randint(10**14, 10**15 - 1)))]
        return [f"agi_{k}: {v}" for k, v in env]

    async def run(self) -> str:
        for line in self.environment():
            self.write(line)
        self.write("")
        await self.writer.drain()
        loop = asyncio.get_running_loop()
        while True:
            sent = loop.time()
            with self.pbx.clock.hold():          # the layer's turn
                line = await self._next_command()
            if line is None:
                break
            # Real seconds from our answer (or the environment) to the layer's next command.
            self.pbx.agi_turnarounds.append(loop.time() - sent)
            await self.execute(line)
            await self.writer.drain()
        return "HANGUP" if self.dead else "SUCCESS"

    async def _next_command(self) -> str | None:
        """Read the next command; a hangup while idle is announced with a bare HANGUP line."""
        read = asyncio.ensure_future(self.reader.readline())
        while True:
            if self.dead and not self.hangup_sent:
                self._send_hangup()
                await self.writer.drain()
            if self.dead:
                raw = await read
                break
            hung = asyncio.ensure_future(self.ch.hangup_requested.wait())
            done, _ = await asyncio.wait([read, hung], return_when=asyncio.FIRST_COMPLETED)
            hung.cancel()
            if read in done:
                raw = read.result()
                break
        if not raw:
            return None
        return raw.decode("utf-8", "replace").strip()

    def _send_hangup(self) -> None:
        if not self.hangup_sent:
            self.hangup_sent = True
            self.write("HANGUP")

    # -- commands -----------------------------------------------------------------------------------
    async def execute(self, line: str) -> None:
        pbx, ch = self.pbx, self.ch
        if not line:
            return
        upper = line.upper()
        name = next((c for c in COMMANDS if upper == c or upper.startswith(c + " ")), None)
        command_id = str(random.randint(10**7, 10**9))
        pbx.chan_event("AGIExecStart", ch, [("CommandId", command_id), ("Command", line)])
        if name is None:
            code, result, text = 510, "Failure", "510 Invalid or unknown command"
        elif self.dead and name not in DEAD_SAFE:
            code, result, text = 511, "Failure", "511 Command Not Permitted on a dead channel or intercept routine"
        else:
            args = _split(line[len(name):])
            try:
                text = await getattr(self, "cmd_" + name.lower().replace(" ", "_"))(args)
                code, result = 200, "Success"
            except (IndexError, ValueError):
                code, result, text = 520, "Usage", "520 Invalid command syntax.  Proper usage not available."
        pbx.chan_event("AGIExecEnd", ch, [("CommandId", command_id), ("Command", line),
                                          ("ResultCode", str(code)), ("Result", result)])
        self.write(text)
        if self.dead and not self.hangup_sent and code == 200 and "result=-1" in text:
            self._send_hangup()

    # media: waits that end on a digit (when allowed) or a hangup
    async def _listen(self, seconds: float, accept: str) -> str | None:
        """Wait up to ``seconds`` for a digit in ``accept``; '' on time out, None on hangup."""
        pbx, ch = self.pbx, self.ch
        loop = asyncio.get_running_loop()
        got: asyncio.Future = loop.create_future()

        def sink(digit: str) -> None:
            if digit in accept and not got.done():
                got.set_result(digit)

        ch.dtmf_sink = sink
        hung = asyncio.ensure_future(ch.hangup_requested.wait())
        try:
            done = await pbx.clock.wait([got, hung], seconds)
        finally:
            hung.cancel()
            ch.dtmf_sink = None
        if got.done():
            return got.result()
        if hung in done or self.dead:
            return None
        return ""

    def _duration(self, prompt: str) -> float:
        """Seconds of a Playback() argument, which may list files with ``&`` (AGI commands may not)."""
        cfg = self.pbx.config
        total = 0.0
        for part in prompt.split("&"):
            total += cfg.prompts.get(part, cfg.default_prompt)
        return total

    def _missing(self, file: str) -> bool:
        """True when Asterisk could not open ``file`` for an AGI media command."""
        if "&" in file or file in self.pbx.config.missing_prompts:
            log.warning("AGI on %s: file %s does not exist", self.ch.name, file)
            return True
        return False

    def _prompted(self) -> None:
        call = self.ch.call
        if call is not None:
            call.prompted.set()

    async def cmd_stream_file(self, args: list[str]) -> str:
        file, escape = args[0], (args[1] if len(args) > 1 else "")
        if self._missing(file):
            return f"200 result=-1 endpos={int(args[2]) if len(args) > 2 else 0}"
        duration = self._duration(file)
        start = self.pbx.clock.now()
        if escape:
            self._prompted()
        digit = await self._listen(duration, escape)
        played = min(duration, self.pbx.clock.now() - start)
        endpos = int(played * SAMPLE_RATE)
        if digit is None:
            return f"200 result=-1 endpos={endpos}"
        self.pbx.setvar(self.ch, "PLAYBACKSTATUS", "SUCCESS")
        return f"200 result={ord(digit) if digit else 0} endpos={endpos}"

    async def cmd_control_stream_file(self, args: list[str]) -> str:
        return await self.cmd_stream_file(args[:2])   # its third argument is skipms, not an offset

    async def cmd_get_option(self, args: list[str]) -> str:
        file, escape = args[0], (args[1] if len(args) > 1 else "")
        timeout = float(args[2]) / 1000 if len(args) > 2 else 5.0
        if self._missing(file):
            return "200 result=-1 endpos=0"
        self._prompted()
        start = self.pbx.clock.now()
        digit = await self._listen(self._duration(file), escape)
        endpos = int(min(self._duration(file), self.pbx.clock.now() - start) * SAMPLE_RATE)
        if digit == "":
            digit = await self._listen(timeout, escape)
        if digit is None:
            return f"200 result=-1 endpos={endpos}"
        return f"200 result={ord(digit) if digit else 0} endpos={endpos}"

    async def cmd_get_data(self, args: list[str]) -> str:
        file = args[0]
        timeout = float(args[1]) / 1000 if len(args) > 1 and args[1] else 6.0
        if timeout <= 0:
            timeout = 6.0
        maxdigits = int(args[2]) if len(args) > 2 and args[2] else 1024
        if file and self._missing(file):   # an empty name plays nothing and only waits
            return "200 result=-1"
        self._prompted()
        keys = "0123456789*#"
        digits = ""
        first = await self._listen(self._duration(file), keys)
        if first is None:
            return "200 result=-1"
        if first:
            if first == "#":
                return "200 result="
            digits += first
        while len(digits) < maxdigits:
            d = await self._listen(timeout, keys)
            if d is None:
                return "200 result=-1"
            if d == "":
                return f"200 result={digits} (timeout)"
            if d == "#":
                break
            digits += d
        return f"200 result={digits}"

    async def cmd_wait_for_digit(self, args: list[str]) -> str:
        timeout = float(args[0]) if args else -1
        seconds = 86400.0 if timeout < 0 else timeout / 1000
        self._prompted()
        d = await self._listen(seconds, "0123456789*#ABCD")
        if d is None:
            return "200 result=-1"
        return f"200 result={ord(d) if d else 0}"

    async def _say(self, text: str, escape: str) -> str:
        d = await self._listen(0.6 * max(1, len(text)), escape)
        if d is None:
            return "200 result=-1"
        return f"200 result={ord(d) if d else 0}"

    async def cmd_say_digits(self, args):
        return await self._say(args[0], args[1] if len(args) > 1 else "")

    cmd_say_number = cmd_say_alpha = cmd_say_phonetic = cmd_say_digits

    async def cmd_say_date(self, args):
        return await self._say("date", args[1] if len(args) > 1 else "")

    cmd_say_time = cmd_say_datetime = cmd_say_date

    async def cmd_record_file(self, args: list[str]) -> str:
        timeout = float(args[3]) / 1000 if len(args) > 3 else 10.0
        d = await self._listen(timeout if timeout > 0 else 10.0, args[2] if len(args) > 2 else "#")
        if d is None:
            return "200 result=-1 (hangup) endpos=0"
        return f"200 result={ord(d) if d else 0} ({'dtmf' if d else 'timeout'}) endpos={int(timeout * SAMPLE_RATE)}"

    async def cmd_receive_char(self, args):
        return "200 result=0"

    async def cmd_tdd_mode(self, args):
        return "200 result=0"

    async def cmd_answer(self, args):
        return "200 result=0"

    async def cmd_channel_status(self, args):
        return f"200 result={self.ch.state if self.ch.state != 6 else 6}"

    async def cmd_noop(self, args):
        return "200 result=0"

    async def cmd_asyncagi_break(self, args):
        return "200 result=0"

    async def cmd_verbose(self, args):
        return "200 result=1"

    async def cmd_set_variable(self, args: list[str]) -> str:
        self.pbx.setvar(self.ch, args[0], args[1] if len(args) > 1 else "")
        return "200 result=1"

    async def cmd_get_variable(self, args: list[str]) -> str:
        value = self.pbx.variable(self.ch, args[0])
        return "200 result=0" if value is None else f"200 result=1 ({value})"

    async def cmd_get_full_variable(self, args: list[str]) -> str:
        expr = args[0]
        value = re.sub(r"\$\{([^}]+)\}", lambda m: self.pbx.variable(self.ch, m.group(1)) or "", expr)
        return f"200 result=1 ({value})"

    async def cmd_hangup(self, args: list[str]) -> str:
        target = self.pbx.find_channel(args[0]) if args else self.ch
        if target is None:
            return "200 result=-1"
        self.pbx.deliver_hangup(target)
        return "200 result=1"

    async def cmd_exec(self, args: list[str]) -> str:
        app = args[0].lower()
        data = ",".join(args[1:]) if len(args) > 1 else ""
        pbx, ch = self.pbx, self.ch
        if app == "set" and "=" in data:
            k, _, v = data.partition("=")
            pbx.setvar(ch, k.strip(), v)
        elif app == "playback":
            if await self._listen(self._duration(data.split(",")[0]), "") is None:
                return "200 result=-1"
        elif app == "wait":
            if await self._listen(float(data or 0), "") is None:
                return "200 result=-1"
        elif app == "userevent":
            name, *pairs = data.split(",")
            extra = [tuple(p.split(": ", 1)) if ": " in p else (p.split(":", 1)[0], p.split(":", 1)[-1])
                     for p in pairs if p]
            pbx.emit("UserEvent", channel_fields(ch) + [("UserEvent", name)] + [(k, v) for k, v in extra])
        elif app in ("noop", "mixmonitor", "stopmixmonitor", "answer", "ringing", "progress", "verbose",
                     "log", "cel", "musiconhold", "startmusiconhold", "stopmusiconhold"):
            pass
        else:
            return "200 result=-2"
        return "200 result=0"

    async def cmd_set_context(self, args):
        self.ch.variables["__AGI_CONTEXT"] = args[0]
        return "200 result=0"

    async def cmd_set_extension(self, args):
        self.ch.variables["__AGI_EXTEN"] = args[0]
        return "200 result=0"

    async def cmd_set_priority(self, args):
        return "200 result=0"

    async def cmd_set_music(self, args):
        return "200 result=0"

    async def cmd_set_autohangup(self, args):
        return "200 result=0"

    async def cmd_set_callerid(self, args):
        return "200 result=1"

    async def cmd_database_get(self, args):
        v = self.pbx.db.get(f"{args[0]}/{args[1]}")
        return "200 result=0" if v is None else f"200 result=1 ({v})"

    async def cmd_database_put(self, args):
        self.pbx.db[f"{args[0]}/{args[1]}"] = args[2]
        return "200 result=1"

    async def cmd_database_del(self, args):
        return "200 result=1" if self.pbx.db.pop(f"{args[0]}/{args[1]}", None) is not None else "200 result=0"

    async def cmd_database_deltree(self, args):
        prefix = args[0] + "/"
        for key in [k for k in self.pbx.db if k.startswith(prefix)]:
            del self.pbx.db[key]
        return "200 result=1"

    async def cmd_gosub(self, args):
        return "200 result=0"


def _split(text: str) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError:
        return text.split()


async def run_agi(pbx: Pbx, ch: Channel, url: str) -> str:
    """The AGI() application: returns AGISTATUS (SUCCESS, HANGUP, FAILURE)."""
    m = re.match(r"agi://([^:/]+)(?::(\d+))?/?(.*)", url)
    if not m:
        return "FAILURE"
    host, port = m.group(1), int(m.group(2) or 4573)
    try:
        with pbx.clock.hold():
            reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port),
                                                    pbx.config.agi_connect_timeout)
    except (OSError, TimeoutError) as exc:
        log.warning("FastAGI %s unreachable (%s): %s continues to the queue", url, exc, ch.name)
        return "FAILURE"
    session = AgiSession(pbx, ch, url, reader, writer)
    try:
        return await session.run()
    except (ConnectionError, OSError) as exc:
        log.warning("FastAGI %s broke on %s: %s", url, ch.name, exc)
        return "HANGUP" if session.dead else "FAILURE"
    finally:
        writer.close()
        try:
            await writer.wait_closed()
        except (ConnectionError, OSError):
            pass
