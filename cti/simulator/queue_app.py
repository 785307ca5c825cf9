"""Asterisk's Queue() application on the simulated PBX.

Event order follows the recordings: QueueCallerJoin, AgentCalled, QueueMemberStatus (ringing),
QueueCallerLeave *before* AgentConnect, bridge, AgentComplete after the agent's Hangup and the
BridgeLeaves; an abandon emits QueueCallerAbandon then QueueCallerLeave; a queue timeout emits
QueueCallerAbandon too, then QUEUESTATUS=TIMEOUT and queue_log EXITWITHTIMEOUT.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from .fields import channel_fields
from .model import Bridge, Channel
from .queues import DEVICE_INUSE, DEVICE_NOT_INUSE, Member, Queue

if TYPE_CHECKING:
    from .pbx import Pbx

log = logging.getLogger(__name__)

_TIMING_VARS = ("ANSWEREDTIME", "ANSWEREDTIME_MS", "DIALEDTIME", "DIALEDTIME_MS", "QUEUEWAIT", "QUEUEWAIT_MS")


class RingAttempt:
    def __init__(self, entry: QueueEntry, member: Member, a1: Channel, a2: Channel, start: float) -> None:
        self.entry, self.member, self.a1, self.a2, self.start = entry, member, a1, a2, start
        self.result: asyncio.Future = asyncio.get_running_loop().create_future()
        self.ring_for = 0.0            # the ring timeout app_queue reports as RingTime (ms)

    def settle(self, value: str) -> None:
        if not self.result.done():
            self.result.set_result(value)


class QueueEntry:
    def __init__(self, q: Channel, queue: Queue, enter: float, timeout: int, app_start: float) -> None:
        self.q, self.queue, self.enter, self.app_start = q, queue, enter, app_start
        self.deadline = enter + timeout if timeout > 0 else float("inf")
        self.pos = self.orig_pos = 0
        self.done: asyncio.Future = asyncio.get_running_loop().create_future()
        self.finished = asyncio.Event()
        self.attempt: RingAttempt | None = None
        self.member: Member | None = None
        self.a1: Channel | None = None
        self.a2: Channel | None = None
        self.bridge: Bridge | None = None
        self.connect_time = 0.0
        self.hold = 0
        self.in_sl = False
        self.ended = False
        self.keep_channel = False      # the dialplan ends the channel (shipped flow: h extension first)
        self.continues = False         # Queue() option c: the caller goes on after the agent hangs up
        self.transferred = False       # the caller's channel left Queue() for another extension

    def settle(self, value: str) -> None:
        if not self.done.done():
            self.done.set_result(value)


class QueueApp:
    def __init__(self, pbx: Pbx) -> None:
        self.pbx = pbx
        self._changed: dict[str, asyncio.Event] = {}

    # -- app entry ----------------------------------------------------------------------------------
    async def run(self, q: Channel, name: str, app_data: str, timeout: int, priority: int,
                  keep_channel: bool = False) -> str:
        """Queue(name,...) on channel ``q``: 'gone' when the channel ended inside, else 'timeout'/'continue'.

        ``keep_channel`` (the shipped dialplan): Queue() returns instead of ending the channel, so the
        dialplan goes on: 'continue' after the agent hung up (option ``c``), 'hangup' when the caller hung
        up (the dialplan then runs its ``h`` extension and ends the channel)."""
        pbx = self.pbx
        with pbx.instant() as now:   # the join's Timestamp is the entry's start
            pbx.newexten(q, "Queue", app_data, priority)
            queue = pbx.queues.get(name)
            if queue is None:
                log.warning("Queue(%s): no such queue", name)
                pbx.setvar(q, "QUEUESTATUS", "UNKNOWN")
                return "continue"
            for var in _TIMING_VARS:
                pbx.setvar(q, var, "")
            entry = QueueEntry(q, queue, now, timeout, now)
            entry.keep_channel = keep_channel
            options = app_data.split(",")[1] if "," in app_data else ""
            entry.continues = keep_channel and "c" in options
            if not queue.callers:
                pbx.device_state(f"Queue:{name}", "RINGING")
            queue.callers.append(entry)
            entry.pos = entry.orig_pos = len(queue.callers)
            pbx.chan_event("QueueCallerJoin", q, [("Queue", name), ("Position", str(entry.pos)),
                                                  ("Count", str(len(queue.callers)))])
            num = q.cid_num if q.cid_num != "<unknown>" else ""
            pbx.queue_log.write(q.uniqueid, name, "NONE", "ENTERQUEUE", "", num, entry.pos)
        call = q.call
        if call is not None:
            call.entry, call.queue_name = entry, name
            call.joined.set()
        q.hangup_handler = lambda _ch: self._abandon(entry)
        pbx.spawn(self._ring_loop(entry), name=f"queue {name} {q.name}")
        outcome = await entry.done
        if outcome in ("connected", "transferred"):
            await entry.finished.wait()
            if entry.transferred:   # the channel went on elsewhere (BlindTransfer, Redirect): not here
                return "gone"
            if keep_channel and not q.gone and not q.hangup_requested.is_set():
                return "continue"
            return "hangup" if keep_channel and not q.gone else "gone"
        if outcome == "timeout":
            return "timeout"
        return "hangup" if keep_channel and not q.gone else "gone"

    # -- member selection -----------------------------------------------------------------------------
    def notify(self, queue: Queue) -> None:
        ev = self._changed.pop(queue.name, None)
        if ev is not None:
            ev.set()

    async def _wait_change(self, queue: Queue, entry: QueueEntry, seconds: float) -> None:
        ev = self._changed.setdefault(queue.name, asyncio.Event())
        waiters = [asyncio.ensure_future(ev.wait()), entry.done]
        try:
            await self.pbx.clock.wait(waiters, seconds)
        finally:
            waiters[0].cancel()

    def _our_turn(self, entry: QueueEntry) -> bool:
        """autofill=no: only the head of the line rings; yes: a caller rings once all ahead of it ring."""
        if not entry.queue.autofill:
            return bool(entry.queue.callers) and entry.queue.callers[0] is entry
        for other in entry.queue.callers:
            if other is entry:
                return True
            if other.attempt is None:
                return False
        return False

    async def _ring_loop(self, e: QueueEntry) -> None:
        pbx, queue = self.pbx, e.queue
        while not e.done.done():
            now = pbx.clock.now()
            if now >= e.deadline:
                self._timeout(e)
                return
            member = queue.next_member(now) if self._our_turn(e) else None
            if member is None:
                await self._wait_change(queue, e, min(e.deadline - now, 1.0))
                continue
            ring_for = min(float(queue.timeout or 3600), e.deadline - now)
            att = self._ring(e, member)
            att.ring_for = ring_for
            try:
                await pbx.clock.wait_for(asyncio.shield(att.result), ring_for)
            except TimeoutError:
                att.settle("noanswer")
            if e.done.done():
                return
            result = att.result.result()
            if result == "answered":
                return
            if pbx.clock.now() >= e.deadline - 1e-3:
                self._timeout(e)
                return
            self._ring_noanswer(e, att, rejected=result == "rejected")
            await self._wait_change(queue, e, float(queue.retry))
            # a retry pause ends early only when the entry ends; member changes just shorten nothing
        return

    # -- ringing ------------------------------------------------------------------------------------
    def _ring(self, e: QueueEntry, member: Member) -> RingAttempt:
        pbx, q, queue = self.pbx, e.q, e.queue
        exten = member.exten
        a1, a2 = pbx.new_local(exten, "agents", linkedid=q.linkedid, parent=q)
        a1.role, a2.role = "agent-out", "agent"
        a1.call = a2.call = q.call
        a1.set_callerid(q.cid_num, q.cid_name)
        pbx.newexten(a1, "AppQueue", "(Outgoing Line)")
        pbx.new_callerid(a1)
        pbx.setvar(a1, "DIALEDPEERNUMBER", f"{exten}@agents/n")
        pbx.setvar(a2, "DIALEDPEERNUMBER", f"{exten}@agents/n")
        a2.set_callerid(q.cid_num, q.cid_name)
        a2.set_connected(q.cid_num, q.cid_name)
        pbx.new_callerid(a2)
        pbx.new_connected(a2)
        pbx.local_bridge(a1, a2)
        member_fields = [("Queue", queue.name), ("Interface", member.interface), ("MemberName", member.name)]
        pbx.emit("AgentCalled", channel_fields(q) + channel_fields(a1, "Dest") + member_fields)
        pbx.dial_event("DialBegin", q, a1, [("DialString", member.interface)])
        a1.exten = q.exten
        a1.set_connected(q.cid_num, q.cid_name)
        pbx.newexten(a1, "AppQueue", "(Outgoing Line)")
        pbx.new_connected(a1)
        pbx.dial_event("DialState", q, a1, [("DialStatus", "RINGING")])
        pbx.device_state(f"Local/{exten}@agents", "INUSE")
        member.status = DEVICE_INUSE
        # The Local device turns in use only once the agent's phone rings or answers (a Down ;1 leaves it
        # NOT_INUSE): QueueMemberStatus then, not when the queue dials (seen on the real switch).
        a1.on_state = lambda ch: self._device_in_use(queue, member, ch)
        pbx.device_state(f"Queue:{queue.name}_avail",
                         "NOT_INUSE" if queue.available_count(pbx.clock.now()) else "INUSE")
        att = RingAttempt(e, member, a1, a2, pbx.clock.now())
        e.attempt = att
        a2.on_answer = lambda _ch: self._answered(att)
        a1.hangup_handler = lambda _ch: att.settle("rejected")
        pbx.spawn(pbx.dialplan.run(a2, "agents", exten), name=f"agent {a2.name}")
        return att

    def _device_in_use(self, queue: Queue, member: Member, a1: Channel) -> None:
        if a1.state in (5, 6):
            a1.on_state = None
            self.member_status(queue, member)

    def member_status(self, queue: Queue, m: Member, event: str = "QueueMemberStatus") -> None:
        self.pbx.emit(event, [
            ("Queue", queue.name), ("MemberName", m.name), ("Interface", m.interface),
            ("StateInterface", m.interface), ("Membership", m.membership), ("Penalty", str(m.penalty)),
            ("CallsTaken", str(m.calls_taken)), ("LastCall", str(m.last_call)), ("LastPause", str(m.last_pause)),
            ("LoginTime", str(m.login_time)), ("InCall", "1" if m.in_call else "0"), ("Status", str(m.status)),
            ("Paused", "1" if m.paused else "0"), ("PausedReason", m.paused_reason),
            ("Ringinuse", "1" if m.ringinuse else "0"), ("Wrapuptime", str(e_wrapup(queue)))])

    def _teardown_ringing(self, att: RingAttempt) -> None:
        """The queue stops ringing an agent: its Local pair goes with cause 0."""
        pbx = self.pbx
        a1, a2 = att.a1, att.a2
        a2.on_answer = None
        a1.hangup_handler = None
        if not a2.gone:
            pbx.request_hangup(a2, 0)
        if not a1.gone:
            a1.cause = 0
            pbx.hangup_event(a1)
        att.entry.attempt = None

    def _release_member(self, queue: Queue, m: Member, wrapup: float = 0.0) -> None:
        m.status = DEVICE_NOT_INUSE
        m.in_call = False
        if wrapup > 0:
            m.wrapup_until = self.pbx.clock.now() + wrapup
        self.member_status(queue, m)
        self.notify(queue)

    def _ring_noanswer(self, e: QueueEntry, att: RingAttempt, rejected: bool = False) -> None:
        pbx, q, queue = self.pbx, e.q, e.queue
        ms = int((pbx.clock.now() - att.start) * 1000) if rejected else int(round(att.ring_for)) * 1000
        pbx.emit("AgentRingNoAnswer", channel_fields(q) + channel_fields(att.a1, "Dest") + [
            ("Queue", queue.name), ("Interface", att.member.interface), ("MemberName", att.member.name),
            ("RingTime", str(ms))])
        pbx.queue_log.write(q.uniqueid, queue.name, att.member.name, "RINGNOANSWER", ms)
        pbx.dial_event("DialEnd", q, att.a1, [("DialStatus", "BUSY" if rejected else "NOANSWER")])
        self._teardown_ringing(att)
        pbx.device_state(f"Local/{att.member.exten}@agents", "NOT_INUSE")
        self._release_member(queue, att.member)

    # -- outcomes -----------------------------------------------------------------------------------
    def _leave(self, e: QueueEntry) -> None:
        pbx, queue, q = self.pbx, e.queue, e.q
        if e in queue.callers:
            queue.callers.remove(e)
        if not queue.callers:
            pbx.device_state(f"Queue:{queue.name}", "NOT_INUSE")
        pbx.chan_event("QueueCallerLeave", q, [("Queue", queue.name), ("Position", str(e.pos)),
                                               ("Count", str(len(queue.callers)))])
        for i, other in enumerate(queue.callers, start=1):
            other.pos = i
        pbx.setvar(q, "QUEUEPOSITION", str(e.pos))
        self.notify(queue)

    def _wait_vars(self, e: QueueEntry, answered: bool = False) -> None:
        pbx, q = self.pbx, e.q
        now = pbx.clock.now()
        wait = int(now) - int(e.enter)
        pbx.setvar(q, "QUEUEWAIT", str(wait))
        pbx.setvar(q, "QUEUEWAIT_MS", str(wait * 1000))
        pbx.setvar(q, "DIALEDTIME", str(int(now - e.app_start)))
        pbx.setvar(q, "DIALEDTIME_MS", str(int((now - e.app_start) * 1000)))
        pbx.setvar(q, "ANSWEREDTIME", "0")
        pbx.setvar(q, "ANSWEREDTIME_MS", "0")

    def _abandon(self, e: QueueEntry) -> None:
        """The caller hung up while waiting."""
        if e.done.done():
            return
        pbx, q, queue = self.pbx, e.q, e.queue
        att = e.attempt
        if att is not None:
            pbx.dial_event("DialEnd", q, att.a1, [("DialStatus", "CANCEL")])
            pbx.dial_event("DialEnd", q, att.a1, [("DialStatus", "CANCEL")])
            ms = int((pbx.clock.now() - att.start) * 1000)
            self._teardown_ringing(att)
            pbx.queue_log.write(q.uniqueid, queue.name, att.member.name, "RINGCANCELED", ms)
            att.settle("cancel")
        self._wait_vars(e)
        with pbx.instant() as left:
            pbx.setvar(q, "ABANDONED", "TRUE")
            wait = queue.record_abandon(e.enter, left)
            pbx.chan_event("QueueCallerAbandon", q, [("Queue", queue.name), ("Position", str(e.pos)),
                                                     ("OriginalPosition", str(e.orig_pos)), ("HoldTime", str(wait))])
        pbx.queue_log.write(q.uniqueid, queue.name, "NONE", "ABANDON", e.pos, e.orig_pos, wait)
        if att is not None:
            pbx.device_state(f"Local/{att.member.exten}@agents", "NOT_INUSE")
        pbx.device_state(q.device, "NOT_INUSE")
        self._leave(e)
        if att is not None:
            self._release_member(queue, att.member)
        e.settle("abandon")
        if q.call is not None:
            q.call.finish("abandoned")
        if e.keep_channel:          # the dialplan runs its h extension, then ends the channel
            q.hangup_requested.set()
            return
        pbx.destroy(q)
        pbx.device_state(q.device, "NOT_INUSE")

    def _timeout(self, e: QueueEntry) -> None:
        if e.done.done():
            return
        pbx, q, queue = self.pbx, e.q, e.queue
        q.hangup_handler = None
        att = e.attempt
        if att is not None:
            ms = int(round(att.ring_for)) * 1000  # app_queue reports the timeout it waited, in ms
            pbx.emit("AgentRingNoAnswer", channel_fields(q) + channel_fields(att.a1, "Dest") + [
                ("Queue", queue.name), ("Interface", att.member.interface), ("MemberName", att.member.name),
                ("RingTime", str(ms))])
            pbx.queue_log.write(q.uniqueid, queue.name, att.member.name, "RINGNOANSWER", ms)
            pbx.dial_event("DialEnd", q, att.a1, [("DialStatus", "NOANSWER")])
            pbx.dial_event("DialEnd", q, att.a1, [("DialStatus", "CANCEL")])
            self._teardown_ringing(att)
            att.settle("timeout")
        with pbx.instant() as left:
            pbx.setvar(q, "ABANDONED", "TRUE")
            wait = queue.record_abandon(e.enter, left)
            pbx.chan_event("QueueCallerAbandon", q, [("Queue", queue.name), ("Position", str(e.pos)),
                                                     ("OriginalPosition", str(e.orig_pos)), ("HoldTime", str(wait))])
        self._wait_vars(e)
        if att is not None:
            att.member.status = DEVICE_NOT_INUSE
            self.member_status(queue, att.member)
            pbx.device_state(f"Queue:{queue.name}_avail", "NOT_INUSE")
            pbx.device_state(f"Local/{att.member.exten}@agents", "NOT_INUSE")
        self._leave(e)
        pbx.setvar(q, "QUEUESTATUS", "TIMEOUT")
        pbx.queue_log.write(q.uniqueid, queue.name, "NONE", "EXITWITHTIMEOUT", e.pos, e.orig_pos, wait)
        if q.call is not None:
            q.call.finish("timed_out")
        e.settle("timeout")

    def _answered(self, att: RingAttempt) -> None:
        """The agent's channel answered: leave the queue, AgentConnect, bridge."""
        e = att.entry
        pbx, q, queue, m = self.pbx, e.q, e.queue, att.member
        if e.done.done() or att.result.done():
            return
        att.settle("answered")
        a1, a2 = att.a1, att.a2
        pbx.device_state(f"Local/{m.exten}@agents", "INUSE")
        pbx.device_state(f"Local/{m.exten}@agents", "INUSE")
        pbx.dial_event("DialEnd", q, a1, [("DialStatus", "ANSWER")])
        self._leave(e)
        with pbx.instant() as now:
            hold, in_sl = queue.record_connect(e.enter, now)
            pbx.setvar(q, "QUEUEWAIT", str(hold))
            pbx.setvar(q, "QUEUEWAIT_MS", str(hold * 1000))
            ring = int(now) - int(att.start)
            pbx.emit("AgentConnect", channel_fields(q) + channel_fields(a1, "Dest") + [
                ("Queue", queue.name), ("Interface", m.interface), ("MemberName", m.name),
                ("HoldTime", str(hold)), ("RingTime", str(ring))])
        pbx.queue_log.write(q.uniqueid, queue.name, m.name, "CONNECT", hold, a1.uniqueid, ring)
        e.member, e.a1, e.a2, e.hold, e.in_sl, e.connect_time = m, a1, a2, hold, in_sl, now
        e.attempt = None
        m.in_call = True
        br = pbx.bridge_create()
        e.bridge = br
        pbx.bridge_enter(br, a1)
        pbx.bridge_enter(br, q)
        pbx.set_bridgepeers(br)
        a1.hangup_handler = lambda _ch: self.end_connected(e, "agent")
        q.hangup_handler = lambda _ch: self.end_connected(e, "caller")
        pbx.features.arm(e)
        if q.call is not None:
            q.call.finish("answered")
            q.call.connected.set()
        e.settle("connected")

    def end_connected(self, e: QueueEntry, by: str) -> None:
        """The bridged call ends because one side hung up (Reason agent / caller)."""
        if e.ended:
            return
        e.ended = True
        pbx, q, queue, a1, a2, br = self.pbx, e.q, e.queue, e.a1, e.a2, e.bridge
        q.hangup_handler = None
        a1.hangup_handler = None
        pbx.features.disarm(e)
        first, second = (a1, q) if by == "agent" else (q, a1)
        if not e.keep_channel:
            self._leave_bridge(br, first, second)
        now = pbx.clock.now()
        answered = now - e.connect_time
        pbx.setvar(q, "ANSWEREDTIME", str(int(answered)))
        pbx.setvar(q, "ANSWEREDTIME_MS", str(int(answered * 1000)))
        pbx.setvar(q, "DIALEDTIME", str(int(now - e.app_start)))
        pbx.setvar(q, "DIALEDTIME_MS", str(int((now - e.app_start) * 1000)))
        talk = self.complete(e)
        pbx.emit("AgentComplete", channel_fields(q) + channel_fields(a1, "Dest") + [
            ("Queue", queue.name), ("Interface", e.member.interface), ("MemberName", e.member.name),
            ("HoldTime", str(e.hold)), ("TalkTime", str(talk)), ("Reason", by)])
        pbx.queue_log.write(q.uniqueid, queue.name, e.member.name,
                            "COMPLETEAGENT" if by == "agent" else "COMPLETECALLER", e.hold, talk, e.orig_pos)
        if e.keep_channel:   # the shipped flow: AgentComplete, then both leave the bridge (real switch)
            self._leave_bridge(br, first, second)
        if by == "agent" and e.continues:
            # Queue() option c: the caller's channel goes on in the dialplan (QUEUESTATUS=CONTINUE)
            pbx.bridge_destroy(br)
            a1.cause = 16
            pbx.hangup_event(a1)
            if not a2.gone:
                pbx.request_hangup(a2)
            pbx.device_state(f"Local/{e.member.exten}@agents", "NOT_INUSE")
            pbx.setvar(q, "QUEUESTATUS", "CONTINUE")
        elif by == "caller" and e.keep_channel:
            pbx.setvar(q, "QUEUESTATUS", "CONTINUE")   # Queue() returns; the h extension then runs
            pbx.bridge_destroy(br)
            pbx.destroy(a1, soft=False)
            q.hangup_requested.set()
            pbx.device_state(f"Local/{e.member.exten}@agents", "NOT_INUSE")
        elif by == "agent":
            pbx.chan_event("SoftHangupRequest", q, [("Cause", "16")])
            pbx.bridge_destroy(br)
            pbx.hangup_event(a1)
            if not a2.gone:
                pbx.request_hangup(a2)
            pbx.device_state(f"Local/{e.member.exten}@agents", "NOT_INUSE")
            pbx.destroy(q, soft=False)
        else:
            pbx.bridge_destroy(br)
            pbx.destroy(a1, soft=False)
            if not q.gone:
                pbx.destroy(q)
            pbx.device_state(f"Local/{e.member.exten}@agents", "NOT_INUSE")
        pbx.device_state(q.device, "NOT_INUSE")
        pbx.device_state(q.device, "NOT_INUSE")
        self.release_after_call(e)
        e.finished.set()

    def _leave_bridge(self, br: Bridge, *channels: Channel) -> None:
        for ch in channels:
            if ch.bridge is br:
                self.pbx.setvar(ch, "BRIDGEPEER", "")
                self.pbx.bridge_leave(ch)

    def pause(self, interface: str, paused: bool, reason: str = "") -> None:
        """QueuePause on every queue the interface is a member of."""
        now = int(self.pbx.clock.now())
        for queue in self.pbx.queues.values():
            m = queue.member(interface)
            if m is None or m.paused == paused:
                continue
            m.paused, m.paused_reason = paused, reason if paused else ""
            if paused:
                m.last_pause = now
            self.member_status(queue, m, "QueueMemberPause")
            self.notify(queue)

    def complete(self, e: QueueEntry) -> int:
        """app_queue's update_queue(): counters, talk time average, the member's CallsTaken."""
        now = self.pbx.clock.now()
        talk = int(now) - int(e.connect_time)
        e.queue.record_complete(e.in_sl, talk)
        e.member.calls_taken += 1
        e.member.last_call = int(now)
        return talk

    def release_after_call(self, e: QueueEntry) -> None:
        timing = self.pbx.agent_timing(e.member.exten)
        from .config import sample
        rng = self.pbx.rng_for("wrapup", e.member.exten, str(e.member.calls_taken))
        wrap = max(float(e.queue.wrapuptime), sample(timing.wrapup, rng))
        self._release_member(e.queue, e.member, wrap)


def e_wrapup(queue: Queue) -> int:
    return queue.wrapuptime
