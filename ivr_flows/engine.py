"""The thin FastAGI adapter: runs the interpreter's actions on a call and publishes the session record.

Registered as the ``ivr`` and ``survey`` AGI handlers. The flow version is taken once at the call's
start (hot reloads never change a call in progress). Any failure (no flows in service, a bug, an
HTTP lookup gone wrong) still leaves the caller with ``CTIQUEUE`` set: the default queue at worst.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections.abc import Awaitable, Callable
from zoneinfo import ZoneInfo

from cti.agi import AgiCall, CallHungUp
from cti.agi.errors import AgiError
from cti.messages import Rating
from ivr_flows import variables as v
from ivr_flows.interpreter import (
    NO_INPUT,
    AskDigits,
    CallState,
    FetchUrl,
    Finish,
    Input,
    Interpreter,
    PlayPrompts,
)
from ivr_flows.model import KEYS, Prompt
from ivr_flows.record import TOPIC_SESSION, IvrSession, PathStep
from ivr_flows.store import FlowStore

log = logging.getLogger("ivr_flows")

Fetch = Callable[[FetchUrl], Awaitable[Input]]


async def http_fetch(action: FetchUrl) -> Input:
    """The http node's lookup: a JSON object answer is ok, anything else (or a timeout) is the error branch."""
    import aiohttp

    try:
        timeout = aiohttp.ClientTimeout(total=action.timeout)
        async with aiohttp.ClientSession(timeout=timeout) as session, \
                session.request(action.method, action.url) as response:
            if response.status >= 400:
                return Input(ok=False)
            data = json.loads(await response.text())
    except (aiohttp.ClientError, TimeoutError, ValueError, OSError) as exc:
        log.warning("ivr http lookup failed: %s %s", type(exc).__name__, action.url.split("?", 1)[0])
        return Input(ok=False)
    return Input(ok=True, data=data if isinstance(data, dict) else {"value": data})


class FlowEngine:
    def __init__(self, store: FlowStore, interpreter: Interpreter, *, bus=None, timezone: str = "Asia/Shanghai",
                 clock: Callable[[], float] = time.time, fetch: Fetch = http_fetch, entry_flow: str = "main",
                 survey_flow: str = "survey", default_queue: str = "public") -> None:
        self.store = store
        self.interpreter = interpreter
        self.bus = bus
        self.tz = ZoneInfo(timezone)
        self.clock = clock
        self.fetch = fetch
        self.entry_flow = entry_flow
        self.survey_flow = survey_flow
        self.default_queue = default_queue
        self.sessions = 0

    def now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.clock(), self.tz)

    async def ivr(self, call: AgiCall) -> None:
        await self.run(call, self.entry_flow, "ivr")

    async def survey(self, call: AgiCall) -> None:
        await self.run(call, self.survey_flow, "survey")

    async def _hotline(self, call: AgiCall) -> str:
        """The dialled hotline: the dialplan's CTI_HOTLINE, else the DNID / extension when it is a number."""
        value = await call.get_variable(v.HOTLINE_IN)
        if value:
            return value
        for candidate in (call.env.get("agi_dnid", ""), call.env.get("agi_extension", "")):
            if candidate.isdigit():
                return candidate
        return "12345"

    async def run(self, call: AgiCall, flow_name: str, script: str) -> None:
        flows = self.store.current  # this call's version, whatever reloads happen meanwhile
        started = self.clock()
        state: CallState | None = None
        outcome, failure, result = "failed", None, None
        hotline = ""
        try:
            hotline = await self._hotline(call)
            if flows is None or flow_name not in flows:
                failure = f"no valid flow '{flow_name}' in service"
                result = Finish("queue", self.default_queue, failure=failure) if script == "ivr" else None
            else:
                variables = {"caller": call.caller_id, "caller_name": call.caller_name, "hotline": hotline,
                             "uniqueid": call.uniqueid, "channel": call.channel}
                state = self.interpreter.new_state(flows, flow_name, variables)
                result = await self._drive(call, state)
                failure = result.failure
            if result is not None:
                await self._finish(call, result, hotline, flows.version if flows else "", state)
                outcome = "failed" if result.failure else result.kind
        except CallHungUp:
            outcome = "caller_hangup"
            raise
        except (AgiError, OSError) as exc:
            failure = f"{type(exc).__name__}: {exc}"
            raise
        except Exception as exc:  # a bug: the caller still reaches the default queue
            failure = f"{type(exc).__name__}: {exc}"
            log.exception("ivr failed on %s: default queue %s", call.masked_caller, self.default_queue)
            result = Finish("queue", self.default_queue, failure=failure)
            await self._set(call, v.CTIQUEUE, self.default_queue)
        finally:
            if call.hung_up and not call.hung_up_by_us and outcome not in ("hangup",):
                outcome = "caller_hangup"
            self._publish(call, script, flow_name, flows.version if flows else "", started, hotline, state,
                          result, outcome, failure)

    async def _drive(self, call: AgiCall, state: CallState) -> Finish:
        interp = self.interpreter
        action = interp.start(state, self.now())
        while not isinstance(action, Finish):
            if isinstance(action, AskDigits):
                event = await self._ask(call, action)
            elif isinstance(action, PlayPrompts):
                event = await self._play(call, action)
            else:
                event = await self.fetch(action)
            action = interp.resume(state, event, self.now())
        return action

    async def _play(self, call: AgiCall, action: PlayPrompts) -> Input:
        """Each prompt with its own STREAM FILE (AGI takes one file name); with ``action.escape`` a key
        ends the list (barge-in) and is the input. A prompt that cannot be played is skipped."""
        for prompt in action.prompts:
            played = await call.stream_file(prompt.file, action.escape)
            if played.failed:
                await self._prompt_failed(call, prompt.file)
                continue
            if played.digit:
                return Input(played.digit)
        return Input("")

    async def _ask(self, call: AgiCall, action: AskDigits) -> Input:
        """Play the prompts and collect up to ``action.max_digits`` keys (timeouts in seconds).

        AGI plays one file per command: the earlier prompts go out as STREAM FILE with every key as an
        escape digit (GET DATA lets any key cut its prompt too), the last one as GET DATA with the
        first-key timeout. A key during an earlier prompt ends the list and is the first key; the
        others are then read one by one with WAIT FOR DIGIT, as after GET DATA below.
        """
        *earlier, last = action.prompts or (Prompt(""),)  # GET DATA "" only waits (ast_app_getdata_full)
        first_ms = int(action.first_timeout * 1000)
        digits = ""
        for prompt in earlier:
            played = await call.stream_file(prompt.file, KEYS)
            if played.failed:
                await self._prompt_failed(call, prompt.file)
                continue
            if played.digit:
                digits = played.digit
                break
        if not digits:
            # GET DATA applies one timeout to every key and ends on '#': enough when the flow asks that.
            simple = action.max_digits == 1 or (action.terminator == "#"
                                                and action.inter_timeout == action.first_timeout)
            got = await call.get_data(last.file, first_ms, action.max_digits if simple else 1)
            if got.failed:
                await self._prompt_failed(call, last.file)
                return NO_INPUT
            if not got.digits:
                return NO_INPUT
            if simple:
                return Input(got.digits, timed_out=got.timed_out)
            digits = got.digits
        while len(digits) < action.max_digits and not (action.terminator and digits.endswith(action.terminator)):
            got = await call.wait_for_digit(int(action.inter_timeout * 1000))
            if got.failed and await call.confirm_hangup():
                raise CallHungUp("caller hung up during input")
            if not got.digits:
                return Input(digits, timed_out=True)
            digits += got.digits
        return Input(digits)

    async def _prompt_failed(self, call: AgiCall, file: str) -> None:
        """A prompt answered ``result=-1``: a hang-up raises CallHungUp; on a live channel the file could
        not be played (missing, or a name Asterisk rejects): logged, and the flow goes on without it."""
        if await call.confirm_hangup():
            raise CallHungUp("caller hung up during a prompt")
        log.warning("ivr prompt %r could not be played (200 result=-1 on a live channel: no such file?), "
                    "going on without it: caller=%s uniqueid=%s", file, call.masked_caller, call.uniqueid or "-")

    async def _set(self, call: AgiCall, name: str, value: object) -> None:
        try:
            await call.set_variable(name, value)
        except CallHungUp:
            pass

    async def _finish(self, call: AgiCall, result: Finish, hotline: str, version: str,
                      state: CallState | None) -> None:
        if result.prompts:
            await self._play(call, PlayPrompts(result.prompts))
        if result.kind == "survey":
            if result.rating:
                await call.set_variable(v.CTI_RATING, result.rating)
            return
        if result.kind == "hangup":
            await call.hangup()
            return
        await call.set_variable(v.CTIQUEUE, result.queue or self.default_queue)
        if result.priority:
            await call.set_variable(v.QUEUE_PRIO, result.priority)
        if result.tags:
            await call.set_variable(v.CTI_TAGS, ",".join(result.tags))
        await call.set_variable(v.CTI_HOTLINE, hotline)
        if version:
            await call.set_variable(v.CTI_IVR_VERSION, version)
        if state is not None and state.keys:
            await call.set_variable(v.CTI_IVR_KEYS, state.keys)
        if result.survey:
            await call.set_variable(v.CTI_SURVEY, "yes")
        if result.kind == "transfer" and result.hotline:
            await call.set_variable(v.CTI_DIAL, result.hotline)

    def _publish(self, call: AgiCall, script: str, flow: str, version: str, started: float, hotline: str,
                 state: CallState | None, result: Finish | None, outcome: str, failure: str | None) -> None:
        self.sessions += 1
        path = tuple(PathStep(*step) for step in state.path) if state is not None else ()
        record = IvrSession(
            uniqueid=call.uniqueid, caller=call.caller_id, hotline=hotline, script=script, flow=flow,
            version=version, started=started, ended=self.clock(), path=path,
            keys=state.keys if state is not None else "",
            tags=tuple(state.tags) if state is not None else (result.tags if result else ()),
            outcome=outcome, queue=result.queue if result else None, priority=result.priority if result else 0,
            transfer=result.hotline if result else None,
            rating=Rating.from_label(state.rating) if state is not None else None, failure=failure)
        log.info("ivr %s %s caller=%s hotline=%s version=%s keys=%s outcome=%s queue=%s tags=%s%s",
                 script, call.uniqueid or "-", call.masked_caller, hotline or "-", version or "-",
                 record.keys or "-", outcome, record.queue or "-", ",".join(record.tags) or "-",
                 f" failure={failure}" if failure else "")
        if self.bus is not None:
            self.bus.publish(TOPIC_SESSION, record)
