"""Transfer features on a queue call: attended transfer, three-way, blind transfer, one-key transfer.

As recorded (three-way-transfer.ami.txt): ``*2`` on the agent channel puts the agent on hold in a
second bridge with the department (TRANSFER_EXTEN / TRANSFER_CONTEXT give the number); ``*3`` merges
the bridges (BridgeMerge, AttendedTransfer DestType Threeway); when the agent then hangs up, citizen
and department stay bridged. A department that does not answer within atxfernoanswertimeout sends
the agent back to the citizen, without AttendedTransfer.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from .fields import bridge_fields, channel_fields
from .model import Bridge, Channel

if TYPE_CHECKING:
    from .pbx import Pbx
    from .queue_app import QueueEntry

log = logging.getLogger(__name__)


class Transfer:
    """One attended transfer: roles transferer (agent), transferee (citizen), target (department)."""

    def __init__(self, entry: QueueEntry) -> None:
        self.entry = entry
        self.state = "idle"            # idle -> dialing -> consult -> threeway | bridged | back
        self.digits = ""
        self.collecting = False
        self.d1: Channel | None = None
        self.d2: Channel | None = None
        self.b2: Bridge | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.digit_timer: asyncio.TimerHandle | None = None
        self.deaf_until = 0.0          # clock time: the xferfailsound plays to the agent, codes are not heard


class Features:
    def __init__(self, pbx: Pbx) -> None:
        self.pbx = pbx

    # -- DTMF feature detection -----------------------------------------------------------------------
    def arm(self, e: QueueEntry) -> None:
        xfer = Transfer(e)
        e.transfer = xfer
        e.a1.dtmf_sink = lambda d: self._digit(xfer, d)

    def disarm(self, e: QueueEntry) -> None:
        xfer = getattr(e, "transfer", None)
        if xfer is not None:
            for t in (xfer.timer, xfer.digit_timer):
                if t is not None:
                    t.cancel()
        if e.a1 is not None:
            e.a1.dtmf_sink = None

    def _digit(self, x: Transfer, digit: str) -> None:
        cfg = self.pbx.config
        if self.pbx.clock.now() < x.deaf_until:
            return   # Asterisk plays xferfailsound to the agent and detects no feature code meanwhile
        if x.collecting:  # dialling the transfer target after *2
            if x.digit_timer is not None:
                x.digit_timer.cancel()
            if digit == "#":
                self._dial_target(x, x.number)
                return
            x.number += digit
            x.digit_timer = self.pbx.clock.call_later(cfg.transfer_digit_timeout, self._dial_target, x, None)
            return
        x.digits = (x.digits + digit)[-2:]
        codes = {cfg.atxfer: "atxfer", cfg.blindxfer: "blindxfer"}
        if x.state == "consult":
            codes = {cfg.atxfer_threeway: "threeway", cfg.atxfer_complete: "complete", cfg.atxfer_abort: "abort"}
        action = codes.get(x.digits)
        if action is None:
            return
        x.digits = ""
        self.pbx.clock.call_later(0.1, self._feature, x, action)

    def _feature(self, x: Transfer, action: str) -> None:
        e = x.entry
        if e.ended or e.a1 is None or e.a1.gone:
            return
        if action == "atxfer" and x.state == "idle":
            exten = e.a1.variables.get("TRANSFER_EXTEN")
            if exten:
                self._start_atxfer(x, exten, e.a1.variables.get("TRANSFER_CONTEXT") or "departments")
            else:
                x.collecting, x.number = True, ""
                x.digit_timer = self.pbx.clock.call_later(
                    self.pbx.config.transfer_digit_timeout, self._dial_target, x, None)
        elif action == "blindxfer" and x.state == "idle":
            exten = e.a1.variables.get("TRANSFER_EXTEN")
            if exten:
                self.blind_transfer(e.a1, exten, e.a1.variables.get("TRANSFER_CONTEXT") or "departments")
        elif action == "threeway" and x.state == "consult":
            self._threeway(x)
        elif action == "complete" and x.state == "consult":
            self._complete(x)
        elif action == "abort" and x.state in ("consult", "dialing"):
            self._back_to_caller(x)

    def _dial_target(self, x: Transfer, _unused) -> None:
        if not x.collecting:
            return
        x.collecting = False
        if x.number:
            ctx = x.entry.a1.variables.get("TRANSFER_CONTEXT") or "departments"
            self._start_atxfer(x, x.number, ctx)

    # -- attended transfer ----------------------------------------------------------------------------
    def _start_atxfer(self, x: Transfer, exten: str, context: str) -> None:
        pbx, e = self.pbx, x.entry
        a1 = e.a1
        if context not in ("departments", "agents"):
            log.warning("atxfer to %s@%s: unknown context, ignored", exten, context)
            return
        pbx.chan_event("Hold", a1)
        d1, d2 = pbx.new_local(exten, context, linkedid=a1.linkedid, parent=a1)
        d1.role, d2.role = "dept-out", "dept"
        d1.call = d2.call = e.q.call
        x.d1, x.d2 = d1, d2
        pbx.setvar(d1, "TRANSFERERNAME", a1.name)
        pbx.setvar(d1, "ATTENDEDTRANSFER", a1.name)
        b2 = pbx.bridge_create()
        b2.consult = True
        x.b2 = b2
        d1.on_optimised = lambda new: setattr(x, "d1", new)
        pbx.setvar(d2, "ATTENDEDTRANSFER", a1.name)
        pbx.setvar(d2, "TRANSFERERNAME", a1.name)
        d2.set_callerid(e.q.cid_num, e.q.cid_name)
        d1.set_connected(e.q.cid_num, e.q.cid_name)
        pbx.local_bridge(d1, d2)
        d2.on_answer = lambda _ch: self._target_answered(x)
        pbx.spawn(pbx.dialplan.run(d2, context, exten), name=f"department {d2.name}")
        pbx.bridge_enter(b2, d1)
        pbx.setvar(d1, "ATTENDEDTRANSFER", "")
        pbx.dial_event("DialState", None, d1, [("DialStatus", "RINGING")])
        pbx.device_state(d1.device, "INUSE")
        pbx.bridge_leave(a1)
        pbx.bridge_enter(b2, a1)
        pbx.set_bridgepeers(b2)
        x.state = "dialing"
        d1.hangup_handler = lambda _ch: self._target_gone(x)
        a1.hangup_handler = lambda _ch: self._transferer_gone(x)
        x.timer = pbx.clock.call_later(pbx.config.atxfer_noanswer_timeout, self._noanswer, x)

    def _target_answered(self, x: Transfer) -> None:
        pbx = self.pbx
        if x.state != "dialing":
            return
        if x.timer is not None:
            x.timer.cancel()
        x.state = "consult"
        pbx.dial_event("DialEnd", None, x.d1, [("DialStatus", "ANSWER")])
        pbx.set_bridgepeers(x.b2)
        pbx.device_state(x.d1.device, "INUSE")
        pbx.device_state(x.d1.device, "INUSE")

    def _noanswer(self, x: Transfer) -> None:
        if x.state == "dialing":
            self._back_to_caller(x, failed=True)

    def _back_to_caller(self, x: Transfer, cause: int = 16, failed: bool = False) -> None:
        """Abort or no answer (cause 16), or the department leg hung up (its cause): the agent returns to the
        citizen; after a ``failed`` transfer (not an abort) it first hears xferfailsound."""
        pbx, e = self.pbx, x.entry
        if x.timer is not None:
            x.timer.cancel()
        d1, d2, b2, a1 = x.d1, x.d2, x.b2, e.a1
        d2.on_answer = None
        d1.hangup_handler = None
        if d1.bridge is b2:
            pbx.bridge_leave(d1)
        d1.cause = cause
        pbx.destroy(d1, soft=False)
        pbx.device_state(d1.device, "NOT_INUSE")
        if a1.bridge is b2:
            pbx.bridge_leave(a1)
        pbx.bridge_destroy(b2)
        pbx.bridge_enter(e.bridge, a1)
        pbx.chan_event("Unhold", a1)
        pbx.set_bridgepeers(e.bridge)
        x.state = "idle"
        if failed:
            x.deaf_until = pbx.clock.now() + pbx.config.xfer_fail_sound
        a1.hangup_handler = lambda _ch: self.pbx.queue_app.end_connected(e, "agent")

    def _merge(self, x: Transfer) -> None:
        """Move the department (and the agent) from the consultation bridge into the citizen's."""
        pbx, e = self.pbx, x.entry
        b1, b2, d1, _a1 = e.bridge, x.b2, x.d1, e.a1
        pbx.emit("BridgeMerge", bridge_fields(b1, "ToBridge") + bridge_fields(b2, "FromBridge"))
        pbx.bridge_leave(d1)
        pbx.bridge_enter(b1, d1)

    def _attended_event(self, x: Transfer, dest_type: str) -> None:
        pbx, e = self.pbx, x.entry
        b1, b2, a1 = e.bridge, x.b2, e.a1
        pbx.emit("AttendedTransfer", [("Result", "Success")] + channel_fields(a1, "OrigTransferer")
                 + bridge_fields(b1, "OrigBridge") + channel_fields(a1, "SecondTransferer")
                 + bridge_fields(b2, "SecondBridge") + channel_fields(e.q, "Transferee")
                 + channel_fields(x.d1, "TransferTarget")
                 + [("IsExternal", "No"), ("DestType", dest_type), ("DestBridgeUniqueid", b1.uniqueid),
                    ("DestTransfererChannel", a1.name)])

    def _threeway(self, x: Transfer) -> None:
        pbx, e = self.pbx, x.entry
        a1 = e.a1
        self._merge(x)
        pbx.bridge_leave(a1)
        pbx.bridge_enter(e.bridge, a1)
        pbx.set_bridgepeers(e.bridge)
        self._attended_event(x, "Threeway")
        pbx.bridge_destroy(x.b2)
        x.state = "threeway"
        a1.hangup_handler = lambda _ch: self._agent_leaves_threeway(x)
        x.d1.hangup_handler = lambda _ch: self._target_gone(x)
        e.q.hangup_handler = lambda _ch: self._citizen_gone(x)
        pbx.dial.maybe_optimise(x.d1)   # [departments] Dial()ed the hotline: its Local pair goes

    def _agent_leaves_threeway(self, x: Transfer) -> None:
        """Agent hangs up a three-way call: citizen and department stay, the queue call completes."""
        pbx, e = self.pbx, x.entry
        a1, a2 = e.a1, e.a2
        pbx.setvar(a1, "BRIDGEPEER", "")
        pbx.bridge_leave(a1)
        pbx.set_bridgepeers(e.bridge)
        pbx.destroy(a1, soft=False)
        # app_queue counts the call as completed here, but sends no AgentComplete (recorded)
        pbx.queue_app.complete(e)
        pbx.queue_app.release_after_call(e)
        pbx.device_state(f"Local/{e.member.exten}@agents", "NOT_INUSE")
        if a2 is not None and a2.gone:
            pbx.device_state(f"Local/{e.member.exten}@agents", "NOT_INUSE")
        x.state = "bridged"
        e.q.hangup_handler = lambda _ch: self._citizen_gone(x)
        x.d1.hangup_handler = lambda _ch: self._target_gone(x)

    def _complete(self, x: Transfer) -> None:
        """atxfercomplete (or the agent hanging up during consultation): citizen + department."""
        pbx, e = self.pbx, x.entry
        a1 = e.a1
        if x.timer is not None:
            x.timer.cancel()
        self._merge(x)
        if a1.bridge is x.b2:
            pbx.bridge_leave(a1)
        pbx.set_bridgepeers(e.bridge)
        self._attended_event(x, "Bridge")
        pbx.bridge_destroy(x.b2)
        a1.hangup_handler = None
        talk = pbx.queue_app.complete(e)
        pbx.emit("AgentComplete", channel_fields(e.q) + channel_fields(a1, "Dest") + [
            ("Queue", e.queue.name), ("Interface", e.member.interface), ("MemberName", e.member.name),
            ("HoldTime", str(e.hold)), ("TalkTime", str(talk)), ("Reason", "transfer")])
        pbx.queue_log.write(e.q.uniqueid, e.queue.name, e.member.name, "ATTENDEDTRANSFER", "BRIDGE",
                            x.b2.uniqueid, e.hold, talk, e.orig_pos)
        pbx.destroy(a1, soft=False)
        pbx.queue_app.release_after_call(e)
        x.state = "bridged"
        e.q.hangup_handler = lambda _ch: self._citizen_gone(x)
        x.d1.hangup_handler = lambda _ch: self._target_gone(x)

    def _transferer_gone(self, x: Transfer) -> None:
        """The agent hangs up during the consultation: atxferdropcall=no completes the transfer."""
        if x.state in ("dialing", "consult"):
            self._complete(x)
        else:
            self._agent_leaves_threeway(x)

    def _target_gone(self, x: Transfer) -> None:
        """The department hung up."""
        pbx, e = self.pbx, x.entry
        d1 = x.d1
        if x.state == "dialing" or x.state == "consult":
            x.state = "dialing"
            self._back_to_caller(x, d1.cause or 16, failed=True)
            return
        if x.state == "threeway":
            pbx.setvar(d1, "BRIDGEPEER", "")
            pbx.bridge_leave(d1)
            pbx.hangup_event(d1)
            pbx.set_bridgepeers(e.bridge)
            x.state = "idle"
            e.a1.hangup_handler = lambda _ch: self.pbx.queue_app.end_connected(e, "agent")
            e.q.hangup_handler = lambda _ch: self.pbx.queue_app.end_connected(e, "caller")
            return
        # citizen and department alone: the citizen's call ends
        self._end_pair(x, first=d1)

    def _citizen_gone(self, x: Transfer) -> None:
        pbx, e = self.pbx, x.entry
        if x.state == "threeway":
            # the agent stays with the department; the queue call completes with reason caller
            pbx.bridge_leave(e.q)
            pbx.queue_app.end_connected(e, "caller")
            if x.d1 is not None and not x.d1.gone:
                if x.d1.bridge is not None:
                    pbx.bridge_leave(x.d1)
                pbx.destroy(x.d1, soft=False)
            return
        self._end_pair(x, first=e.q)

    def _end_pair(self, x: Transfer, first: Channel) -> None:
        pbx, e = self.pbx, x.entry
        br = e.bridge
        for ch in [first] + [c for c in list(br.channels) if c is not first]:
            pbx.setvar(ch, "BRIDGEPEER", "")
            pbx.bridge_leave(ch)
        pbx.bridge_destroy(br)
        if e.keep_channel:
            # The shipped flow (real switch): Queue() returns CONTINUE when the bridge ends and app_queue
            # sends AgentComplete then; the dialplan runs its h extension and ends the citizen's channel.
            pbx.setvar(e.q, "QUEUESTATUS", "CONTINUE")
            pbx.emit("AgentComplete", channel_fields(e.q) + channel_fields(e.a1, "Dest") + [
                ("Queue", e.queue.name), ("Interface", e.member.interface), ("MemberName", e.member.name),
                ("HoldTime", str(e.hold)), ("TalkTime", str(int(pbx.clock.now()) - int(e.connect_time))),
                ("Reason", "caller" if first is e.q else "agent")])
            e.q.hangup_handler = None
            e.q.hangup_requested.set()
            if x.d1 is not None and not x.d1.gone:
                x.d1.hangup_handler = None
                pbx.destroy(x.d1, soft=False)
            e.finished.set()
            return
        for ch in (x.d1, e.q):
            if ch is not None and not ch.gone:
                ch.hangup_handler = None
                pbx.destroy(ch, soft=ch is e.q)
        e.finished.set()

    # -- blind transfer / one-key transfer --------------------------------------------------------------
    def blind_transfer(self, transferer: Channel, exten: str, context: str) -> str | None:
        """BlindTransfer: the other party of the transferer's bridge goes to exten@context."""
        pbx = self.pbx
        br = transferer.bridge
        if br is None:
            return "Channel is not in a bridge"
        others = [c for c in br.channels if c is not transferer]
        if not others:
            return "Nobody to transfer"
        transferee = others[0]
        pbx.chan_event("Unhold", transferer)   # seen on the real switch before the transferer leaves the bridge
        pbx.emit("BlindTransfer", [("Result", "Success")] + channel_fields(transferer, "Transferer")
                 + bridge_fields(br) + channel_fields(transferee, "Transferee")
                 + [("IsExternal", "No"), ("Context", context), ("Extension", exten)])
        entry = self._entry_of(transferer) or self._entry_of(transferee)
        if entry is not None and not entry.ended:
            talk = self._complete_by_transfer(entry, br)
            pbx.queue_log.write(entry.q.uniqueid, entry.queue.name, entry.member.name, "BLINDTRANSFER",
                                exten, context, entry.hold, talk, entry.orig_pos)
            gone = entry.a1 if transferee is entry.q else entry.q
            entry.transferred = transferee is entry.q
            pbx.destroy(gone, soft=False)
            pbx.queue_app.release_after_call(entry)
            entry.finished.set()  # the Queue app returns; the transferee continues elsewhere
        else:
            for ch in list(br.channels):
                pbx.bridge_leave(ch)
            pbx.bridge_destroy(br)
            pbx.destroy(transferer, soft=False)
        pbx.spawn(self._goto(transferee, context, exten), name=f"blind {transferee.name}")
        return None

    def _entry_of(self, ch: Channel):
        call = ch.call
        entry = getattr(call, "entry", None) if call is not None else None
        if entry is not None and (entry.q is ch or entry.a1 is ch):
            return entry
        return None

    async def _goto(self, ch: Channel, context: str, exten: str) -> None:
        await asyncio.sleep(0)
        ch.hangup_requested.clear()
        await self.pbx.dialplan.run(ch, context, exten)

    async def transfer_dial(self, ch: Channel, exten: str, priority: int = 1) -> None:
        """[cti-transfer] Dial(Local/<exten>@departments, timeout) or back to the fallback queue."""
        pbx, cfg = self.pbx, self.pbx.config
        ch.context, ch.exten = cfg.transfer_context, exten
        pbx.newexten(ch, "Dial", f"Local/{exten}@departments,{pbx.variable(ch, 'CTI_DEPT_TIMEOUT') or 15}", priority)
        d1, d2 = pbx.new_local(exten, "departments", linkedid=ch.linkedid, parent=ch)
        d1.role, d2.role = "dept-out", "dept"
        d1.call = d2.call = ch.call
        d2.set_callerid(ch.cid_num, ch.cid_name)
        pbx.local_bridge(d1, d2)
        pbx.dial_event("DialBegin", ch, d1, [("DialString", f"Local/{exten}@departments")])
        answered = asyncio.get_running_loop().create_future()
        d2.on_answer = lambda _c: answered.done() or answered.set_result(True)
        pbx.spawn(pbx.dialplan.run(d2, "departments", exten), name=f"department {d2.name}")
        pbx.dial_event("DialState", ch, d1, [("DialStatus", "RINGING")])
        ch.hangup_handler = None
        waiter = asyncio.ensure_future(ch.hangup_requested.wait())
        refused_future = asyncio.get_running_loop().create_future()
        # the department leg ends before answering (busy, unreachable): Dial() returns at once with its status
        d1.hangup_handler = lambda c: refused_future.done() or refused_future.set_result(c.cause)

        def refused_by(_d1) -> str | None:
            if not refused_future.done():
                return None
            return {17: "BUSY", 34: "CONGESTION", 19: "NOANSWER"}.get(refused_future.result(), "CHANUNAVAIL")

        limit = pbx.variable(ch, "CTI_DEPT_TIMEOUT") or ""
        timeout = int(limit) if limit.isdigit() else cfg.transfer_dial_timeout
        done = await pbx.clock.wait([answered, waiter, refused_future], timeout)
        d1.hangup_handler = None
        refused = refused_by(d1) if answered not in done else None
        if refused is not None:
            pbx.hangup_event(d1)
        waiter.cancel()
        if answered in done:
            pbx.dial_event("DialEnd", ch, d1, [("DialStatus", "ANSWER")])
            br = pbx.bridge_create()
            pbx.bridge_enter(br, d1)
            pbx.bridge_enter(br, ch)
            pbx.set_bridgepeers(br)
            ended = asyncio.get_running_loop().create_future()
            d1.hangup_handler = lambda c: ended.done() or ended.set_result(c)
            ch.hangup_handler = lambda _c: ended.done() or ended.set_result(ch)
            leg = {"d1": d1}
            d1.on_optimised = lambda new: leg.update(d1=new)
            pbx.dial.maybe_optimise(d1)
            first = await ended
            d1 = leg["d1"]
            d1.hangup_handler = ch.hangup_handler = None
            for c in [first] + [c for c in list(br.channels) if c is not first]:
                pbx.setvar(c, "BRIDGEPEER", "")
                pbx.bridge_leave(c)
            pbx.bridge_destroy(br)
            pbx.destroy(d1, soft=False)
            pbx.destroy(ch)
            if ch.call is not None:
                ch.call.finish("other")
            return
        d2.on_answer = None
        status = "CANCEL" if waiter in done else refused or "NOANSWER"
        pbx.dial_event("DialEnd", ch, d1, [("DialStatus", status)])
        if not d1.gone:
            d1.cause = 0
            pbx.request_hangup(d2, 0)
            pbx.hangup_event(d1)
        if ch.gone or ch.hangup_requested.is_set():
            pbx.destroy(ch)
            if ch.call is not None and ch.call.outcome is None:
                ch.call.finish("other")
            return
        # the department did not answer: the layer is told, the citizen goes back to the queue, high priority
        pbx.newexten(ch, "UserEvent", "CTITransferFailed", priority + 1)
        pbx.chan_event("UserEvent", ch, [("UserEvent", "CTITransferFailed"), ("Target", exten),
                                         ("DialStatus", status), ("Uniqueid", ch.uniqueid)])
        pbx.setvar(ch, "QUEUE_PRIO", "10")
        queue = pbx.variable(ch, "CTIQUEUE") or cfg.transfer_fallback_queue
        result = await pbx.queue_app.run(ch, queue, f"{queue},tT,,,{cfg.queue_timeout}", cfg.queue_timeout,
                                         priority + 1)
        if result != "gone" and not ch.gone:
            pbx.newexten(ch, "Hangup", "", priority + 2)
            pbx.destroy(ch)

    def _complete_by_transfer(self, entry, br) -> int:
        """A queue call leaves its bridge by a transfer: the bridge goes, AgentComplete (Reason transfer)."""
        pbx = self.pbx
        entry.ended = True
        self.disarm(entry)
        entry.q.hangup_handler = entry.a1.hangup_handler = None
        for c in list(br.channels):
            pbx.setvar(c, "BRIDGEPEER", "")
            pbx.bridge_leave(c)
        pbx.bridge_destroy(br)
        talk = pbx.queue_app.complete(entry)
        pbx.emit("AgentComplete", channel_fields(entry.q) + channel_fields(entry.a1, "Dest") + [
            ("Queue", entry.queue.name), ("Interface", entry.member.interface),
            ("MemberName", entry.member.name), ("HoldTime", str(entry.hold)), ("TalkTime", str(talk)),
            ("Reason", "transfer")])
        return talk

    # -- Redirect ---------------------------------------------------------------------------------------
    def redirect(self, ch: Channel, context: str, exten: str) -> None:
        """Redirect: the channel leaves its bridge or queue and runs exten@context."""
        pbx = self.pbx
        entry = self._entry_of(ch)
        if entry is not None and entry.bridge is not None and not entry.ended and ch.bridge is entry.bridge:
            entry.transferred = ch is entry.q
            self._complete_by_transfer(entry, entry.bridge)
            other = entry.a1 if ch is entry.q else entry.q
            pbx.destroy(other, soft=other is entry.q)
            pbx.queue_app.release_after_call(entry)
            entry.finished.set()
        elif entry is not None and entry.q is ch and entry in entry.queue.callers:
            if entry.attempt is not None:
                pbx.dial_event("DialEnd", ch, entry.attempt.a1, [("DialStatus", "CANCEL")])
                pbx.queue_app._teardown_ringing(entry.attempt)
                entry.attempt.settle("cancel")
            ch.hangup_handler = None
            entry.transferred = True
            pbx.queue_app._leave(entry)
            entry.settle("transferred")
            entry.finished.set()
        elif ch.bridge is not None:
            pbx.bridge_leave(ch)
        else:
            log.warning("Redirect of %s outside a queue call is not simulated", ch.name)
            return
        pbx.spawn(self._goto(ch, context, exten), name=f"redirect {ch.name}")
