"""Dial() of the shipped [departments] context, and Asterisk's optimisation of a bridged Local pair.

[departments] (config/asterisk/extensions_cti.conf): ``Dial(${CTI_DEPT_DIAL},${CTI_DEPT_TIMEOUT or 15})``,
then ``Hangup()`` with the cause cti-dial-cause derives (busy 17, no answer 19, unreachable 66, else the
callee's cause). The channel running it is the ``;2`` half of ``Local/<n>@departments``, so once the
department answers, that pair links two bridges: the one its ``;1`` half is in (the citizen's, after a
three-way merge or a one-key transfer) and Dial()'s own. As seen on the real switch (DESIGN.md section 5),
Asterisk then optimises the pair away about 0.4 s later: LocalOptimizationBegin, the callee moves into the
``;1`` half's bridge, both halves hang up (cause 16; the ``;2`` half with a HangupRequest first),
LocalOptimizationEnd. Not while the ``;1`` half is in an attended transfer's consultation bridge.

A ``Local/<exten>@<context>`` dial string runs that context of the simulator's dialplan (the test suite's
phones, for one); any other (``PJSIP/...``) is a remote phone behaving as ``SimConfig.departments`` says.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from .config import sample
from .fields import channel_fields
from .model import Channel

if TYPE_CHECKING:
    from .pbx import Pbx

log = logging.getLogger(__name__)

OPTIMISE_AFTER = 0.44          # s from both halves being bridged to LocalOptimizationBegin (real switch)
DEFAULT_DIAL_TIMEOUT = 15      # [departments]: CTI_DEPT_TIMEOUT when empty


def dial_cause(status: str, hangupcause: int) -> int:
    """[cti-dial-cause]: the Q.850 cause [departments] hangs up with after Dial()."""
    if status == "BUSY":
        return 17
    if status == "NOANSWER":
        return 19
    if status == "CONGESTION" and hangupcause == 0:
        return 34
    return hangupcause if hangupcause > 0 else 66


class DepartmentDial:
    def __init__(self, pbx: Pbx) -> None:
        self.pbx = pbx
        self._remote = 0

    async def departments(self, ch: Channel, exten: str) -> None:
        """[departments] on ``ch`` (the ``;2`` half): without CTI_DEPT_DIAL, the recorded lab's phone."""
        pbx = self.pbx
        target = pbx.variable(ch, "CTI_DEPT_DIAL") or ""
        if not target:   # the recorded lab's [departments] (older tests dial it without the layer's variables)
            return await pbx.dialplan.department(ch, exten)
        limit = pbx.variable(ch, "CTI_DEPT_TIMEOUT") or ""
        timeout = int(limit) if limit.isdigit() else DEFAULT_DIAL_TIMEOUT
        pbx.newexten(ch, "Dial", f"{target},{timeout}", 5)
        status, cause = await self.dial(ch, target, timeout)
        if ch.gone:
            return
        if ch.hangup_requested.is_set():   # hung up while dialling: the dialplan stops, the hangup's cause
            pbx.destroy(ch)
            return
        pbx.setvar(ch, "DIALSTATUS", status)
        ch.cause = dial_cause(status, cause)
        pbx.newexten(ch, "Hangup", str(ch.cause), 7)
        pbx.destroy(ch)

    async def dial(self, ch: Channel, target: str, timeout: float) -> tuple[str, int]:
        """Dial(target, timeout) on ``ch``: (DIALSTATUS, HANGUPCAUSE) once Dial() returns."""
        pbx = self.pbx
        tech, _, rest = target.partition("/")
        loop = asyncio.get_running_loop()
        answered: asyncio.Future = loop.create_future()
        ended: asyncio.Future = loop.create_future()
        if tech.lower() == "local" and "@" in rest:
            exten, _, context = rest.partition("@")
            context = context.split("/", 1)[0]
            callee, far = pbx.new_local(exten, context, linkedid=ch.linkedid, parent=ch)
            far.set_callerid(ch.cid_num, ch.cid_name)
            runner = pbx.dialplan.run(far, context, exten)
        else:
            callee = self._remote_channel(ch, target)
            far = callee
            runner = self._remote_phone(callee, target)
        far.on_answer = lambda _c: answered.done() or answered.set_result(True)
        callee.hangup_handler = lambda c: ended.done() or ended.set_result(c)
        busy: asyncio.Future = loop.create_future()
        callee.on_busy = lambda _c: busy.done() or busy.set_result(True)   # the far end's Busy()
        pbx.dial_event("DialBegin", ch, callee, [("DialString", rest if tech.lower() == "local" else target)])
        pbx.spawn(runner, name=f"dial {callee.name}")
        ch.hangup_handler = lambda c: ended.done() or ended.set_result(c)
        done = await pbx.clock.wait([answered, ended, busy], timeout)
        callee.on_busy = None
        if busy in done and answered not in done:
            # BUSY indicated: Dial() gives up at once and hangs up its callee (no cause of its own)
            far.on_answer = None
            ch.hangup_handler = callee.hangup_handler = None
            pbx.dial_event("DialEnd", ch, callee, [("DialStatus", "BUSY")])
            callee.cause = 0
            if not callee.gone:
                pbx.destroy(callee, soft=False)
            return "BUSY", 0
        if answered not in done:
            far.on_answer = None
            ch.hangup_handler = None
            callee.hangup_handler = None
            if ended in done and ended.result() is callee:   # busy or unreachable: the callee's own cause
                cause = callee.cause
                status = "BUSY" if cause == 17 else "CONGESTION" if cause == 34 else "CHANUNAVAIL"
                pbx.dial_event("DialEnd", ch, callee, [("DialStatus", status)])
                if not callee.gone:
                    pbx.hangup_event(callee)
                return status, 0 if status in ("BUSY", "CONGESTION") else cause
            status = "CANCEL" if ended in done else "NOANSWER"
            pbx.dial_event("DialEnd", ch, callee, [("DialStatus", status)])
            callee.cause = 16 if status == "CANCEL" else 0
            if not callee.gone:
                pbx.destroy(callee, soft=False)
            if ended in done:   # the caller hung up: it ends as the hangup said
                ch.hangup_requested.set()
            return status, 0
        pbx.dial_event("DialEnd", ch, callee, [("DialStatus", "ANSWER")])
        self.answer_now(ch)
        br = pbx.bridge_create()
        pbx.bridge_enter(br, ch)
        pbx.bridge_enter(br, callee)
        ch.dial_bridge = br
        self.maybe_optimise(ch.peer)
        first = await ended
        if ch.gone:            # optimised away: the callee went to the other bridge
            return "ANSWER", 16
        ch.hangup_handler = callee.hangup_handler = None
        for c in [first] + [c for c in list(br.channels) if c is not first]:
            pbx.bridge_leave(c)
        pbx.bridge_destroy(br)
        if not callee.gone:
            pbx.destroy(callee, soft=False)
        return "ANSWER", first.cause if first is callee else 16

    def answer_now(self, ch: Channel) -> None:
        """Dial() answers its caller at once (no Answer() half-second): Newstate of both Local halves."""
        pbx = self.pbx
        if ch.state != 6:
            pbx.newstate(ch, 6)
            if ch.peer is not None and not ch.peer.gone and ch.peer.state != 6:
                pbx.newstate(ch.peer, 6)
        hook, ch.on_answer = ch.on_answer, None
        if hook is not None:
            hook(ch)

    # -- Local optimisation --------------------------------------------------------------------------------
    def maybe_optimise(self, one: Channel | None) -> None:
        """Schedule the optimisation of ``one``'s pair when both halves are bridged (not for consultation)."""
        if one is None or one.peer is None:
            return
        two = one.peer
        if one.bridge is None or getattr(one.bridge, "consult", False) or getattr(two, "dial_bridge", None) is None:
            return
        self.pbx.clock.call_later(OPTIMISE_AFTER, self._optimise, one, two)

    def _optimise(self, one: Channel, two: Channel) -> None:
        pbx = self.pbx
        outer, inner = one.bridge, two.bridge
        if one.gone or two.gone or outer is None or inner is None or getattr(outer, "consult", False):
            return
        others = [c for c in inner.channels if c is not two]
        if len(others) != 1:
            return
        callee = others[0]
        ident = str(pbx.next_optimisation())
        pbx.emit("LocalOptimizationBegin", channel_fields(one, "LocalOne") + channel_fields(two, "LocalTwo")
                 + channel_fields(callee, "Source") + [("DestUniqueId", one.uniqueid), ("Id", ident)])
        pbx.bridge_leave(callee)
        pbx.bridge_enter(outer, callee)
        callee.hangup_handler, one.hangup_handler = one.hangup_handler, None
        two.hangup_handler = None
        hook = getattr(one, "on_optimised", None)
        if hook is not None:
            hook(callee)
        pbx.bridge_leave(one)
        two.cause = one.cause = 16
        pbx.chan_event("HangupRequest", two, [("Cause", "16")])
        pbx.bridge_leave(two)
        pbx.bridge_destroy(inner)
        pbx.hangup_event(two)
        pbx.hangup_event(one)
        pbx.emit("LocalOptimizationEnd", channel_fields(one, "LocalOne") + channel_fields(two, "LocalTwo")
                 + [("Success", "Yes"), ("Id", ident)])

    # -- a phone outside the switch ------------------------------------------------------------------------
    def _remote_channel(self, ch: Channel, target: str) -> Channel:
        pbx = self.pbx
        tech, _, rest = target.partition("/")
        peer = rest.rsplit("@", 1)[-1] if "@" in rest else rest
        name = f"{tech}/{peer}-{self._remote:08x}"
        self._remote += 1
        callee = Channel(name, pbx.new_uniqueid(), ch.linkedid, "from-hotline", rest.split("@", 1)[0],
                         pbx.clock.now(), state=0)
        callee.set_callerid(rest.split("@", 1)[0], "")
        callee.set_connected(ch.cid_num, ch.cid_name)
        pbx.channels[callee.name] = callee
        pbx.chan_event("Newchannel", callee)
        return callee

    async def _remote_phone(self, callee: Channel, target: str) -> None:
        """A department's phone beyond the trunk: rings, answers (or never), talks, per DepartmentTiming."""
        pbx = self.pbx
        number = callee.exten
        timing = pbx.department_timing(number)
        if timing.busy:
            callee.cause = 17
            handler, callee.hangup_handler = callee.hangup_handler, None
            pbx.hangup_event(callee)
            if handler is not None:
                handler(callee)
            return
        rng = pbx.rng_for("department", number, callee.conn_num)
        answers = rng.random() >= timing.no_answer_rate
        delay = sample(timing.answer_delay, rng) if answers else 86400.0
        talk = sample(timing.talk_time, rng)
        pbx.newstate(callee, 5)
        if not await pbx.wait(callee, delay):
            return pbx.destroy(callee, soft=False)
        pbx.newstate(callee, 6)
        hook, callee.on_answer = callee.on_answer, None
        if hook is not None:
            hook(callee)
        if not await pbx.wait(callee, talk):
            return pbx.destroy(callee, soft=False)
        pbx.request_hangup(callee, 16)   # the department hangs up: whoever holds the channel ends it
