"""Call control: the agent's requests become AMI actions; AMI events drive the transfer machines.

The I/O edge of cti.calls: the tracker and the transfer machine decide, this class sends the
actions, runs the effects, and publishes what happened on the bus (topics ``calls.*``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable
from typing import Any

from cti.ami import AmiError
from cti.calendar import WorkCalendar
from cti.calls import actions
from cti.calls import transfer as tx
from cti.calls.messages import (
    TOPIC_AFTER_HOURS,
    TOPIC_CALL_ENDED,
    TOPIC_SCREEN_POP,
    TOPIC_SPECIALIST_LEG,
    TOPIC_TRANSFER,
    AfterHoursRequest,
    CallEnded,
    ScreenPop,
    SpecialistLeg,
    TransferUpdate,
)
from cti.calls.settings import CallsSettings
from cti.calls.stats import SPECIALIST_KIND, TOPIC_DEPARTMENT_LEG, DepartmentLeg, DepartmentStats
from cti.calls.tracker import HOTLINE_VARIABLE, TAGS_VARIABLE, Call, CallTracker, Notice
from cti.hotlines import Directory
from cti.messages import TOPIC_TICKET_REQUEST, TicketRequest
from cti.privacy import mask_number
from ivr_flows.record import IvrSession

log = logging.getLogger(__name__)
CENTRE_HOTLINE = "12345"   # a call nobody told us the hotline of came in on the centre's own number

class CallError(Exception):
    """A request the desktop made cannot be served; ``status`` and ``code`` go into the HTTP answer."""

    def __init__(self, status: int, code: str, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail, self.extra = status, code, detail, extra


TicketMaker = Callable[..., Awaitable[dict]]


class CallControl:
    def __init__(self, bus, ami, directory: Directory, calendar: WorkCalendar, tz: dt.tzinfo,
                 settings: CallsSettings | None = None,
                 clock: Callable[[], dt.datetime] | None = None) -> None:
        self.bus, self.ami, self.directory, self.calendar, self.tz = bus, ami, directory, calendar, tz
        self.settings = settings or CallsSettings()
        self.clock = clock or (lambda: dt.datetime.now(self.tz))
        self.tracker = CallTracker(self.settings.department_context)
        self.stats = DepartmentStats()
        self.sessions: dict[str, IvrSession] = {}   # uniqueid -> the call's IVR session (ivr.session)
        self.history: dict[str, deque] = defaultdict(lambda: deque(maxlen=max(1, self.settings.history_per_caller)))
        self.make_ticket: TicketMaker | None = None
        self.ring_latencies: list[float] = []     # request -> department ringing, layer seconds
        self.on_transfer_end: Callable[[Call, tx.Transfer], None] | None = None   # specialist_calls' next ring
        self._tasks: set[asyncio.Task] = set()

    # -- bus inputs -------------------------------------------------------------------------------------
    def on_ami_event(self, _topic: str, msg) -> None:
        try:
            notices = self.tracker.feed(msg)
        except Exception:   # one odd event must not stop call control
            log.exception("calls: event %s could not be handled", getattr(msg, "name", "?"))
            return
        for notice in notices:
            self._handle(notice)

    def on_resynced(self, _topic: str, snapshot) -> None:
        now = time.time()
        for notice in self.tracker.reconcile(snapshot.channels, now):
            self._handle(notice)

    def on_ivr_session(self, _topic: str, session: IvrSession) -> None:
        if session.uniqueid:
            self.sessions[session.uniqueid] = session
            while len(self.sessions) > 20_000:
                self.sessions.pop(next(iter(self.sessions)))

    # -- notices ----------------------------------------------------------------------------------------
    def _handle(self, notice: Notice) -> None:
        call, t = notice.call, notice.transfer
        if notice.kind == "connect":
            self.bus.publish(TOPIC_SCREEN_POP, self.screen_pop(call))
            return
        if notice.kind == "adopted":
            log.info("calls: adopted call %s (caller %s) connected to agent %s in queue %s before this start",
                     call.id, mask_number(call.caller), call.agent, call.queue)
            self.spawn(self._adopt(call))
            return
        if notice.kind == "ended":
            self._remember(call)
            if call.agent:   # the agent's desktop closes the pop (the agent toolbar's cti-call-ended)
                hotline, tags = self.hotline_and_tags(call)
                self.bus.publish(TOPIC_CALL_ENDED, CallEnded(call.agent, call.id, call.caller, call.queue, hotline,
                                                             tags, call.connected_at, time.time()))
            return
        if t is None:
            return
        if t.recipient and t.ringing_wall is None:
            t.ringing_wall = time.time()
            self.ring_latencies.append(t.ringing_wall - t.requested_at)
        for effect in notice.effects:
            if effect == tx.PLAY_THREEWAY and call.agent_channel:
                self.spawn(self._send(t, actions.threeway_merge(call.agent_channel, self.settings.threeway_code)))
            elif effect == tx.HANGUP_RECIPIENT and t.recipient:
                self.spawn(self._send(t, [actions.hangup(t.recipient)], fail_transfer=False))
        self._publish_transfer(call, t)
        if t.done and self.on_transfer_end is not None:
            self.on_transfer_end(call, t)

    def _publish_transfer(self, call: Call, t: tx.Transfer) -> None:
        if t.published_state == t.state:
            return
        t.published_state = t.state
        log.info("transfer %s of call %s to %s (%s%s): %s %s", t.id, call.id, t.number, t.kind,
                 ", emergency" if t.emergency else "", t.state, t.reason)
        self.bus.publish(TOPIC_TRANSFER, TransferUpdate(**(t.as_dict() | {"call_id": call.id})))
        if t.done and t.ringing_at is not None and not t.leg_recorded:
            t.leg_recorded = True
            s = t.specialist   # a specialist's leg counts on the specialist, next to the hotlines
            leg = DepartmentLeg(call.id, s["id"] if s else t.number, t.owner, SPECIALIST_KIND if s else t.kind,
                                t.emergency, t.ringing_at, t.answer_seconds, t.state)
            if not s:   # /api/departments/answer-rates: the hotlines; specialists are on the monitor's figures
                self.stats.add(leg)
            self.bus.publish(TOPIC_DEPARTMENT_LEG, leg)
            if s:
                self.bus.publish(TOPIC_SPECIALIST_LEG, SpecialistLeg(
                    call.id, s["id"], s["name"], s["department"], s["field"], s["line"], t.answered_at is not None,
                    t.answer_seconds, t.ringing_at, t.ended_at or t.ringing_at))

    def _remember(self, call: Call) -> None:
        if call.caller and self.settings.history_per_caller:
            self.history[call.caller].appendleft({
                "call_id": call.id, "connected_at": call.connected_at, "queue": call.queue, "agent": call.agent,
                "hotline": self.hotline_and_tags(call)[0],
                "transfers": [{"number": t.number, "kind": t.kind, "state": t.state} for t in call.transfers],
                "tickets": list(call.tickets)})

    async def _adopt(self, call: Call) -> None:
        """An adopted call: read back what the dialplan told before we listened (the hotline and tags are
        channel variables: ivr_flows/variables.py), then pop it again on the agent's desktop."""
        told = {}
        for variable in (HOTLINE_VARIABLE, TAGS_VARIABLE):
            try:
                reply = await self._action({"Action": "Getvar", "Channel": call.citizen, "Variable": variable})
            except CallError as exc:   # the call is known anyway; only its hotline or tags stay unknown
                log.warning("calls: adopted call %s: %s not read: %s", call.id, variable, exc.detail)
                continue
            first = reply[0] if isinstance(reply, list) and reply else reply
            told[variable] = (first.get("Value", "") if first is not None else "") or ""
        if self.tracker.get(call.id) is call:   # still connected
            self.tracker.tell(call.id, told.get(HOTLINE_VARIABLE, ""), told.get(TAGS_VARIABLE, ""))
            self.bus.publish(TOPIC_SCREEN_POP, self.screen_pop(call))

    # -- the screen pop ---------------------------------------------------------------------------------
    def hotline_and_tags(self, call: Call) -> tuple[str, tuple[str, ...]]:
        """The call's hotline and tags from all that reached us: the dialplan's CTI_HOTLINE / CTI_TAGS
        VarSets and CTILinkage UserEvent (the tracker; every call, the 110 hand-over that skips the IVR
        included), then the IVR session (ivr.session). The dialplan's hotline wins; tags are the union."""
        session = self.sessions.get(call.id)
        hotline = call.hotline or (session.hotline if session else "") or CENTRE_HOTLINE
        tags = tuple(dict.fromkeys((*(session.tags if session else ()), *call.tags)))
        return hotline, tags

    def describe(self, call: Call) -> dict[str, Any]:
        """The call as the desktop API shows it (``Call.as_dict()`` with the hotline and tags resolved)."""
        hotline, tags = self.hotline_and_tags(call)
        return call.as_dict() | {"hotline": hotline, "tags": list(tags)}

    def screen_pop(self, call: Call) -> ScreenPop:
        session = self.sessions.get(call.id)
        hotline, tags = self.hotline_and_tags(call)
        h = self.directory.get(hotline)
        return ScreenPop(
            agent=call.agent, call_id=call.id, caller=call.caller, caller_name=call.caller_name, hotline=hotline,
            hotline_name=h.name if h else ("12345政务服务便民热线" if hotline == "12345" else ""),
            queue=call.queue, wait_seconds=round(call.hold_seconds, 3),
            ivr_path=tuple(str(step) for step in session.path) if session else (),
            ivr_keys=session.keys if session else "", tags=tags,
            ivr_outcome=session.outcome if session else None,
            previous_calls=tuple(self.history.get(call.caller, ())),
            transfer=call.transfer.as_dict() if call.transfer and not call.transfer.done else None)

    # -- requests ---------------------------------------------------------------------------------------
    def call(self, call_id: str) -> Call:
        call = self.tracker.get(call_id)
        if call is None:
            raise CallError(404, "unknown_call", f"no call with id {call_id!r} is connected to an agent")
        return call

    def free_call(self, call_id: str) -> Call:
        call = self.call(call_id)
        if not call.agent_channel:
            raise CallError(409, "no_agent", "the agent has already left this call")
        if call.transfer is not None and not call.transfer.done:
            raise CallError(409, "transfer_in_progress",
                            f"transfer {call.transfer.id} to {call.transfer.number} is {call.transfer.state}")
        return call

    async def transfer(self, call_id: str, number: str, kind: str) -> tx.Transfer:
        """Three-way call or one-key (blind) transfer of ``call_id`` to hotline ``number``."""
        call = self.free_call(call_id)
        decision = self.directory.decide(number, self.clock(), self.calendar)
        if decision.action == "refuse":
            raise CallError(422, "not_transferable", decision.reason)
        h = decision.hotline
        if decision.action == "ticket":
            ticket = await self._after_hours(call, h)
            raise CallError(409, "after_hours", decision.reason, ticket=ticket, owner=h.owner)
        t = tx.Transfer(call.id, kind, h.number, call.agent_channel, call.citizen, agent=call.agent,
                        emergency=decision.emergency, hotline_name=h.name, owner=h.owner)
        if t.emergency:
            log.warning("EMERGENCY linkage: call %s (caller %s) to %s %s", call.id, mask_number(call.caller),
                        h.number, h.name)
        await self.start(call, t, h.dial, h.answer_timeout)
        return t

    async def start(self, call: Call, t: tx.Transfer, dial: str, answer_timeout: float) -> None:
        """Run ``t`` (to a hotline or a specialist: ``t.number`` is the [departments] extension, ``dial`` how
        the dialplan reaches it): the recorded three-way or one-key transfer recipe."""
        t.requested_at = time.time()
        self.tracker.start_transfer(t)
        s = self.settings
        if t.kind == tx.THREEWAY:
            steps = actions.department_vars(call.agent_channel, dial, answer_timeout, t.emergency) + \
                actions.threeway_start(call.agent_channel, t.number, s.department_context, s.atxfer_code)
        else:
            steps = actions.department_vars(call.citizen, dial, answer_timeout, t.emergency) + \
                [actions.blind(call.agent_channel, t.number, s.transfer_context)]
        self._publish_transfer(call, t)
        await self._send(t, steps, raise_errors=True)

    async def cancel(self, call_id: str) -> tx.Transfer:
        """Three-way: back to the citizen alone (abort while ringing, drop the department once all talk)."""
        call = self.call(call_id)
        t = call.transfer
        if t is None or t.done or t.kind != tx.THREEWAY:
            raise CallError(409, "no_transfer", "no three-way call in progress on this call")
        t.cancel()
        if t.recipient:
            # hanging up the department leg re-bridges agent and citizen in every state (ringing included,
            # where the atxferabort code is not heard by every Asterisk version)
            await self._send(t, [actions.hangup(t.recipient)], raise_errors=True, fail_transfer=False)
        elif call.agent_channel:
            await self._send(t, actions.abort(call.agent_channel, self.settings.abort_code), raise_errors=True)
        return t

    async def drop_off(self, call_id: str) -> tx.Transfer:
        """The agent leaves; citizen and department stay connected."""
        call = self.call(call_id)
        t = call.transfer
        if t is None or t.done or t.kind != tx.THREEWAY or not call.agent_channel:
            raise CallError(409, "no_transfer", "no three-way call in progress on this call")
        await self._send(t, [actions.hangup(call.agent_channel)], raise_errors=True)
        return t

    async def hangup(self, call_id: str) -> None:
        call = self.call(call_id)
        await self._action(actions.hangup(call.citizen))

    # -- ticket after hours -------------------------------------------------------------------------------
    async def _after_hours(self, call: Call, h) -> dict | None:
        session = self.sessions.get(call.id)
        hotline, tags = self.hotline_and_tags(call)
        request = TicketRequest(
            request_type=self.settings.after_hours_request_type, source="after_hours", caller_number=call.caller,
            call_ids=(call.id,), hotline=hotline if hotline != CENTRE_HOTLINE else None,
            summary=f"非工作时间请求转接{h.name}({h.number})，转{h.owner}工单 (after-hours request for {h.number})",
            ivr_path=tuple(f"{s.flow}/{s.node}" for s in session.path) if session else (),
            tags=tags, agent=call.agent or None, department=h.owner)
        self.bus.publish(TOPIC_AFTER_HOURS, AfterHoursRequest(h.number, request))
        ticket = None
        if self.make_ticket is not None:
            try:
                ticket = await self.make_ticket(**request.create_kwargs())
            except Exception as exc:   # the agent is told anyway; the request is logged for follow-up
                log.error("calls: after-hours ticket for call %s failed: %s", call.id, exc)
        else:
            self.bus.publish(TOPIC_TICKET_REQUEST, request)
        if ticket:
            call.tickets.append(ticket.get("id"))
        return ticket

    # -- AMI --------------------------------------------------------------------------------------------
    async def _action(self, action: dict) -> Any:
        try:
            reply = await self.ami.action(action, timeout=self.settings.action_timeout)
        except AmiError as exc:
            raise CallError(503, "pbx_unavailable", f"{action['Action']}: {exc}") from None
        first = reply[0] if isinstance(reply, list) and reply else reply
        if first is not None and hasattr(first, "success") and not first.success:
            raise CallError(502, "pbx_refused", f"{action['Action']}: {first.get('Message', 'refused')}")
        return reply

    async def _send(self, t: tx.Transfer, steps: list[dict], raise_errors: bool = False,
                    fail_transfer: bool = True) -> None:
        """Send the actions in order, each after the previous answer (the DTMF codes must not interleave)."""
        try:
            for action in steps:
                await self._action(action)
        except CallError as exc:
            log.error("transfer %s: %s", t.id, exc.detail)
            if fail_transfer and not t.done:
                t.fail(exc.detail, time.time())
                call = self.tracker.get(t.call_id)
                if call is not None:
                    self._publish_transfer(call, t)
            if raise_errors:
                raise

    def spawn(self, coro) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=5)

