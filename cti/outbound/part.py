"""The outbound part of the layer: ``cti.outbound.part:OutboundPart(layer)``.

110 linkage counts, test dialing of department hotlines and follow-up campaigns, on one scheduler.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import socket
import time
from collections.abc import Callable
from zoneinfo import ZoneInfo

from cti.ami import TOPIC_EVENT, AmiError
from cti.calendar import WorkCalendar
from cti.calls.messages import TOPIC_TRANSFER, TransferUpdate
from cti.calls.stats import DepartmentLeg
from cti.hotlines import PARALLEL, load_directory
from cti.messages import TOPIC_TICKET_REQUEST, Rating, TicketRequest
from cti.outbound import agi as followup_agi
from cti.outbound.api import OutboundApi
from cti.outbound.followups import FOLLOWUP_TICKET, SURVEYED, TO_AGENT, TOPIC_FOLLOWUP, FollowupAttempt
from cti.outbound.handover import agents_free
from cti.outbound.linkage import TOPIC_LINKAGE, Handover, LinkageCounter
from cti.outbound.originate import CONGESTION, INVALID_NUMBER, UNREACHABLE, OriginateTracker, Outcome
from cti.outbound.pacing import Pacer, allowed
from cti.outbound.settings import OutboundSettings
from cti.outbound.store import CLOSED_TICKETS, Store
from cti.outbound.testdial import TEST_KIND, TOPIC_ALERT, TOPIC_TEST_DIAL, TestDialBook
from cti.privacy import mask_number
from cti.tasks import finish
from cti.tickets.events import TOPIC_CALLBACK, TicketEvent

log = logging.getLogger(__name__)

FOLLOWUP_TAG = "回访"                     # on every ticket that carries a follow-up answer
# Seconds an Originate waits for the answer beyond the snippet's own Dial() timeout: the dialplan's
# NOANSWER (cause 19) ends an unanswered call, not the Originate's timer (whose Hangup cause says nothing).
ORIGINATE_GRACE = 5.0
EVENTS_GRACE = 2.0      # seconds a failed Originate waits for its channel's events (see _started)
STOP_GRACE = 10.0       # seconds a scheduler round gets to end at stop (its AMI actions time out sooner)
# Seconds the survey of an answered follow-up may last (cti.outbound.agi): two questions asked twice at most,
# each a prompt of up to ~15 s and the 6 s digit timeout, then the thanks: 4 x 21 + 15 = 99 s, rounded up.
SURVEY_SECONDS = 120.0
RELEASE_EVERY = 15.0    # seconds between two looks for follow-ups whose instance's lease has passed
# Outcomes in which the citizen's phone never rang (the trunk or network failed): retried after
# retry_spacing without using up one of the citizen's max_attempts.
NETWORK_FAILURES = frozenset({CONGESTION, UNREACHABLE})
# Outcomes that no later attempt can change (the number does not exist): not retried.
FINAL_FAILURES = frozenset({INVALID_NUMBER})


class OutboundPart:
    def __init__(self, layer, settings: OutboundSettings | None = None) -> None:
        self.layer = layer
        self.settings = s = settings or getattr(layer.settings, "outbound", None) or OutboundSettings()
        self.bus, self.ami = layer.bus, layer.ami
        self.tz = ZoneInfo(s.timezone)
        self.clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(self.tz)   # local time (hours)
        self.now: Callable[[], float] = time.time                                   # spacing, pacing
        monitor = getattr(layer.settings, "monitor", None)
        self.instance = getattr(monitor, "instance", "") or socket.gethostname()   # as the queue monitor names it
        self.store = Store(s.database_url, self.instance)
        self.linkage = LinkageCounter(frozenset(s.linkage_numbers))
        self.tracker = OriginateTracker()
        self.pacer = Pacer(s.calls_per_minute, s.max_channels, s.backoff_waiting)
        self.book = TestDialBook(s.test_dial_service_level, s.test_dial_alert_after)
        calls = getattr(layer.settings, "calls", None)
        flows = getattr(layer.settings, "flows", None)
        self.directory = load_directory(getattr(calls, "hotlines_file", "config/hotlines.yaml"))
        self.calendar = WorkCalendar.from_file(getattr(flows, "calendar_override", None),
                                               hours=getattr(flows, "working_hours", None))
        self.calling: set[int] = set()           # follow-up ids with a live call (pacing counts them)
        self.live: dict[str, int] = {}           # answered outbound channel -> follow-up id, until its Hangup
        self.test_calls: dict[str, float] = {}   # number -> when its test call started
        self.next_test_round = 0.0
        self.next_release = 0.0
        self.hold_reason: str | None = None
        self.originated: list[tuple[float, int, int]] = []   # (time, follow-up id, inbound waiting then)
        self.tickets = None
        self._task: asyncio.Task | None = None
        self._tasks: set[asyncio.Task] = set()
        self._wake = asyncio.Event()
        self._stopping = False
        self.api = OutboundApi(self)
        layer.bus.subscribe(TOPIC_EVENT, self._on_ami_event)
        layer.bus.subscribe(TOPIC_TRANSFER, self._on_transfer)
        layer.bus.subscribe(TOPIC_CALLBACK, self._on_callback)
        layer.registry.add("followup", self._followup_agi)
        layer.registry.add("department", self._department_agi)

    # -- lifecycle --------------------------------------------------------------------------------------
    def setup_web(self, app) -> None:
        self.api.setup(app)

    async def start(self) -> None:
        await self.store.migrate()
        now = self.now()
        await self.store.campaign(CLOSED_TICKETS, now)
        released = await self.store.release_calling(now)
        if released:
            log.info("outbound: %d follow-ups were calling at the last stop (or their instance's lease has "
                     "passed); scheduled again", released)
        for number in self.settings.do_not_call:
            await self.store.add_do_not_call(number, now, "cti.yaml outbound.do_not_call")
        self.linkage.from_110, self.linkage.to_110 = (await self.store.linkage_counts()).values()
        self.tickets = next((p.tickets for p in getattr(self.layer, "parts", ())
                             if hasattr(getattr(p, "tickets", None), "create")), None)
        if getattr(self.layer, "monitor", None) is None:
            log.warning("outbound: no queue monitor part; follow-ups are not held back for waiting inbound callers")
        self._task = asyncio.create_task(self._loop(), name="outbound-scheduler")

    def reload(self, settings) -> None:
        """SIGHUP (cti/app.py): read the hotline directory again (test dialing, department calls); a bad
        file raises and the one in force stays."""
        calls = getattr(settings, "calls", None)
        self.directory = load_directory(getattr(calls, "hotlines_file", "config/hotlines.yaml"))

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        await finish(self._task, STOP_GRACE)   # a round ends whole: see cti.tasks
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=5)
        await self.store.close()

    def _spawn(self, coro) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- bus inputs -------------------------------------------------------------------------------------
    def _on_ami_event(self, _topic: str, msg) -> None:
        try:
            handover = self.linkage.on_ami_event(msg)
            if handover is not None:
                self._record_handover(handover)
            outcome = self.tracker.feed(msg)
            if outcome is not None and outcome.answered and outcome.key.startswith("f:"):
                self.live[outcome.channel] = int(outcome.key[2:])
            elif msg.name == "Hangup" and msg.get("Channel", "") in self.live:
                # the slot is free when the channel is gone, not when our AGI returns
                self.calling.discard(self.live.pop(msg.get("Channel", "")))
                self._wake.set()
        except Exception:
            log.exception("outbound: event %s could not be handled", getattr(msg, "name", "?"))
            return
        if outcome is not None:
            self._spawn(self._on_outcome(outcome))

    def _on_transfer(self, _topic: str, update: TransferUpdate) -> None:
        handover = self.linkage.on_transfer(update, self.now())
        if handover is not None:
            self._record_handover(handover)

    def _record_handover(self, handover: Handover) -> None:
        log.info("110 linkage: %s call %s", handover.direction, handover.call_id)
        self.bus.publish(TOPIC_LINKAGE, handover)
        self._spawn(self.store.add_linkage(handover.direction, handover.call_id, self.now(), handover.outcome))

    def _on_callback(self, _topic: str, event: TicketEvent) -> None:
        if event.status != "closed" or event.outcome != "applied":
            return
        if not self.settings.followup_enabled:
            return
        self._spawn(self._schedule_for_ticket(event.ticket_id))

    async def _schedule_for_ticket(self, ticket_id: str) -> None:
        ticket = await self.tickets.get(ticket_id) if self.tickets is not None else None
        if FOLLOWUP_TAG in (ticket or {}).get("tags", ()):
            return   # a ticket that carried a follow-up answer is not followed up again (no loop)
        number = (ticket or {}).get("caller_number") or ""
        if not number:
            log.warning("outbound: closed ticket %s has no caller number: no follow-up call", ticket_id)
            return
        await self.schedule(CLOSED_TICKETS, number, ticket_id)

    async def schedule(self, campaign: str, number: str, ticket_id: str = "") -> int:
        now = self.now()
        await self.store.campaign(campaign, now)
        f = await self.store.add_followup(campaign, number, ticket_id, now + self.settings.followup_delay, now)
        log.info("follow-up %s for ticket %s to %s: %s", f.id, ticket_id or "-", mask_number(number), f.state)
        self._wake.set()
        return f.id

    # -- the scheduler ----------------------------------------------------------------------------------
    async def _loop(self) -> None:
        while not self._stopping:
            try:
                await self.round()
            except Exception:
                log.exception("outbound: scheduler round failed")
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.settings.tick):   # not wait_for: 3.11's can swallow a cancel
                    await self._wake.wait()

    def inbound_waiting(self) -> int:
        """Callers waiting now in the inbound queues, as the queue monitor counts them (0 without it)."""
        monitor = getattr(self.layer, "monitor", None)
        return 0 if monitor is None else monitor.engine.waiting(self.settings.inbound_queues)

    def lease(self) -> float:
        """Seconds a claimed follow-up stays this instance's (cti.outbound.store): the Originate's ring
        (outbound.ring_timeout + ORIGINATE_GRACE), its AMI reply (outbound.action_timeout), the wait for a
        failed call's events (EVENTS_GRACE) and the answered call's survey (SURVEY_SECONDS); 167 s by
        default. A "dissatisfied" citizen's wait for an agent comes after the row is 'done'."""
        s = self.settings
        return s.ring_timeout + ORIGINATE_GRACE + s.action_timeout + EVENTS_GRACE + SURVEY_SECONDS

    async def round(self) -> None:
        if self.ami.state != "connected":
            return
        s = self.settings
        if s.test_dial_enabled and self.now() >= self.next_test_round:
            self.next_test_round = self.now() + s.test_dial_interval
            await self.test_round()
        if not s.followup_enabled or not allowed(self.clock(), s.followup_hours):
            self.hold_reason = "outside follow-up hours"
            return
        if self.now() >= self.next_release:
            self.next_release = self.now() + RELEASE_EVERY
            released = await self.store.release_expired(self.now())
            if released:
                log.warning("outbound: %d follow-ups of an instance whose lease has passed; scheduled again", released)
        campaigns = await self.store.active_campaigns()
        if not campaigns:
            return
        while True:
            waiting = self.inbound_waiting()
            self.hold_reason = self.pacer.hold_reason(self.now(), len(self.calling), waiting)
            if self.hold_reason is not None:
                return
            f = await self.store.claim(campaigns, self.now(), self.lease())
            if f is None:
                return
            await self._call(f, waiting)

    async def _call(self, f, waiting: int) -> None:
        """Call follow-up ``f``, claimed by this instance (its state 'calling', this attempt counted)."""
        s = self.settings
        now = self.now()
        if await self.store.is_do_not_call(f.number):
            await self.store.update(f.id, state="do_not_call", attempts=f.attempts - 1, claimed_by=None,
                                    claimed_until=None, updated_at=now)   # claimed, never called
            return
        self.pacer.note(now)
        self.calling.add(f.id)
        self.originated.append((now, f.id, waiting))
        self.tracker.track(f"f:{f.id}", f.number, s.citizen_context)
        log.info("follow-up %s: calling %s (attempt %d)", f.id, mask_number(f.number), f.attempts)
        # __ (inherited): the Local ;2 half that runs [cti-outbound] gets them too (seen on the real switch)
        variables = (f"__CTI_FOLLOWUP={f.id},__CTI_TRUNK_DIAL={s.trunk_dial.format(number=f.number)},"
                     f"__CTI_RING_TIMEOUT={int(s.ring_timeout)}")
        self._spawn(self._originate(f"f:{f.id}", {
            "Action": "Originate", "Async": "true", "Channel": f"Local/{f.number}@{s.citizen_context}",
            "Context": s.followup_context, "Exten": str(f.id), "Priority": "1",
            "CallerID": f'"{s.caller_id}" <{s.caller_id}>',
            "Timeout": str(int((s.ring_timeout + ORIGINATE_GRACE) * 1000)), "Variable": variables},
            s.ring_timeout + ORIGINATE_GRACE))

    async def _originate(self, key: str, action: dict, ring_timeout: float) -> None:
        """Sent off the scheduler's path: the async Originate's answer (OriginateResponse) comes only when
        the phone answers or gives up, and the round must not wait for that."""
        try:
            reply = await self.ami.action(action, timeout=ring_timeout + self.settings.action_timeout)
            replies = reply if isinstance(reply, list) else [reply]
            error = next((m.get("Message") or m.get("Reason") or "refused" for m in replies
                          if m.get("Response") in ("Error", "Failure")), None)
        except (AmiError, OSError) as exc:
            error = str(exc) or type(exc).__name__
        if error is None or await self._started(key):
            return   # answered, or the channel's own events tell how it ended
        log.error("%s: Originate failed: %s", key, error)
        self.tracker.forget(key)
        kind, _, ident = key.partition(":")
        if kind == "t":
            self.test_calls.pop(ident, None)
        else:
            await self._failed(int(ident), "failed")

    async def _started(self, key: str) -> bool:
        """Whether the channel of ``key`` appeared, waiting up to EVENTS_GRACE seconds for it: Asterisk
        sends OriginateResponse from the originating thread and channel events through stasis, so on a
        busy switch a Failure can overtake the Newchannel and the Hangup whose cause says why (seen on
        the real switch: an unreachable trunk counted as a used attempt)."""
        deadline = asyncio.get_running_loop().time() + EVENTS_GRACE
        while self.tracker.unstarted(key):
            if asyncio.get_running_loop().time() > deadline:
                return False
            await asyncio.sleep(0.05)
        return True

    async def _on_outcome(self, o: Outcome) -> None:
        kind, _, ident = o.key.partition(":")
        if kind == "t":
            return self._test_result(ident, o)
        fid = int(ident)
        if o.answered:
            await self.store.update(fid, state="answered", last_outcome="answered", updated_at=self.now())
            return   # the followup AGI takes it from here
        await self._failed(fid, o.reason, o.cause)

    async def _failed(self, fid: int, reason: str, cause: int | None = None) -> None:
        """An attempt that reached no answer: stored with what it was (``reason``, cause from
        cti.outbound.originate) and retried or not by what it was: no answer / busy use up one of
        ``max_attempts``; congested / unreachable (the trunk failed, the citizen's phone never rang) are
        retried without using one; an invalid number is not called again."""
        if fid not in self.live.values():
            self.calling.discard(fid)
        f = await self.store.get(fid)
        now = self.now()
        if f is None:
            return
        network = (f.network_failures or 0) + (reason in NETWORK_FAILURES)
        if reason in FINAL_FAILURES:
            state = "invalid"
        elif reason not in NETWORK_FAILURES and f.attempts - network >= self.settings.max_attempts:
            state = "exhausted"
        else:
            state = "pending"
        values = {"state": state, "network_failures": network, "last_outcome": reason, "updated_at": now}
        if state == "pending":
            values["next_attempt_at"] = now + self.settings.retry_spacing
        await self.store.update(fid, **values)
        told = f"{reason}" + ("" if cause is None else f" (cause {cause})")
        if reason in NETWORK_FAILURES:
            log.error("follow-up %s: %s: the trunk did not reach %s (outbound.trunk_dial %r); not counted as an "
                      "attempt, next in %gs", fid, told, mask_number(f.number), self.settings.trunk_dial,
                      self.settings.retry_spacing)
        elif state == "pending":
            log.info("follow-up %s: %s, next attempt in %gs", fid, told, self.settings.retry_spacing)
        else:
            log.info("follow-up %s: %s, %s after %d attempts", fid, told, state, f.attempts)
        self.bus.publish(TOPIC_FOLLOWUP, FollowupAttempt(fid, reason, f.attempts, state, f.ticket_id))
        self._wake.set()

    # -- the answered follow-up call --------------------------------------------------------------------
    async def _followup_agi(self, call) -> None:
        answer = await followup_agi.survey(call)
        fid = answer.followup_id
        f = await self.store.get(fid) if fid is not None else None
        if f is None:
            log.warning("followup AGI on %s: unknown follow-up %r", call.uniqueid, fid)
            return
        if answer.rating is None:
            await self._failed(fid, "no_input")
            return
        outcome = SURVEYED
        if answer.rating is Rating.DISSATISFIED:
            outcome = TO_AGENT if await self._agents_free() else FOLLOWUP_TICKET
        # stored and queued for the backend before the last prompt: a hangup there loses nothing
        await self.store.update(fid, state="done", rating=answer.rating, settled=answer.settled,
                                last_outcome=outcome, updated_at=self.now())
        self._wake.set()
        log.info("follow-up %s: rating %s, settled %s, %s", fid, answer.rating, answer.settled, outcome)
        self.bus.publish(TOPIC_FOLLOWUP, FollowupAttempt(fid, outcome, f.attempts, "done", f.ticket_id,
                                                         answer.rating, answer.settled))
        self._spawn(self._report(f, answer, call.uniqueid, outcome))
        if outcome == TO_AGENT:
            await followup_agi.hand_to_queue(call, self.settings.followup_queue, self.settings.followup_queue_timeout)
        else:
            await call.stream_file(followup_agi.THANKS_PROMPT, "")

    async def _department_agi(self, call) -> None:
        """AGI ``department`` of [cti-transfer]: an IVR flow's transfer node sets only CTI_DIAL (the hotline's
        number, the extension here); this sets the inherited CTI_DEPT_DIAL and CTI_DEPT_TIMEOUT from
        hotlines.yaml, as call control does for an agent's transfer, so [departments] has one source."""
        number = call.env.get("agi_extension", "")
        h = self.directory.get(number)
        if h is None:
            log.warning("department AGI on %s: %r is not in the hotline directory: not dialled", call.uniqueid, number)
            return
        await call.set_variable("__CTI_DEPT_DIAL", h.dial)
        await call.set_variable("__CTI_DEPT_TIMEOUT", str(int(h.answer_timeout)))

    async def _agents_free(self) -> bool:
        queue = self.settings.followup_queue
        try:
            reply = await self.ami.action({"Action": "QueueSummary", "Queue": queue},
                                          timeout=self.settings.action_timeout)
        except (AmiError, OSError) as exc:
            log.warning("follow-up: QueueSummary %s failed (%s): a follow-up ticket instead", queue, exc)
            return False
        return agents_free(reply, queue)

    async def _report(self, f, answer, uniqueid: str, outcome: str = SURVEYED) -> None:
        """The answer is stored on the followed-up ticket and sent to the backend as ``ticket.followup``
        through the tickets outbox. A follow-up with no ticket of ours (an uploaded list), or a layer without
        the tickets part, sends it as a survey-source ticket (bus ``tickets.request`` without the part);
        a "dissatisfied" with no agent free also makes an urgent follow-up ticket."""
        recorded = False
        if f.ticket_id and hasattr(self.tickets, "record_followup"):
            try:
                await self.tickets.record_followup(f.ticket_id, answer.rating, answer.settled, call_id=uniqueid,
                                                   outcome=outcome)
                await self.store.update(f.id, result_ticket=f.ticket_id)
                recorded = True
            except LookupError:
                log.info("follow-up %s: ticket %s is not ours: the answer goes as a survey ticket", f.id, f.ticket_id)
            except Exception as exc:
                log.error("follow-up %s: the answer could not be stored on ticket %s: %s", f.id, f.ticket_id, exc)
        if recorded and outcome != FOLLOWUP_TICKET:
            return
        settled = {True: "已解决", False: "未解决", None: "未回答"}[answer.settled]
        s = self.settings
        dissatisfied = answer.rating is Rating.DISSATISFIED
        tags = [FOLLOWUP_TAG, f"回访工单:{f.ticket_id}"]
        summary = (f"回访工单 {f.ticket_id}：{answer.rating.text}，{settled} "
                   f"(follow-up of ticket {f.ticket_id}: rating {int(answer.rating)}, settled {answer.settled})")
        if outcome == TO_AGENT:
            tags.append("不满意转人工回访")
            summary += "；已转人工回访 (handed to an agent for a personal follow-up)"
        elif outcome == FOLLOWUP_TICKET:
            tags.append("不满意待人工回访")
            summary += "；坐席忙，请人工回访 (no agent free: personal follow-up needed)"
        request = TicketRequest(
            request_type=s.dissatisfied_request_type if dissatisfied else s.answer_request_type, source="survey",
            caller_number=f.number, call_ids=(uniqueid,), rating=answer.rating,
            urgency="urgent" if outcome == FOLLOWUP_TICKET else "normal", tags=tuple(tags), summary=summary)
        if self.tickets is None:
            self.bus.publish(TOPIC_TICKET_REQUEST, request)
            return
        try:
            fields = request.create_kwargs()
            types = self.tickets.settings.request_types
            if fields["request_type"] not in types:
                fields["request_type"] = types[0]
            ticket = await self.tickets.create(**fields)
            if not recorded:
                await self.store.update(f.id, result_ticket=ticket["id"])
        except Exception as exc:
            log.error("follow-up %s: the answer could not be stored as a ticket: %s", f.id, exc)

    # -- test dialing -----------------------------------------------------------------------------------
    def test_targets(self) -> list:
        numbers = self.settings.test_dial_numbers
        hotlines = [self.directory.get(n) for n in numbers] if numbers else self.directory.of_kind(PARALLEL)
        when = self.clock()
        return [h for h in hotlines if h is not None and h.answers_at(when, self.calendar)]

    async def test_round(self) -> int:
        s = self.settings
        started = 0
        for h in self.test_targets():
            if h.number in self.test_calls:
                continue
            self.test_calls[h.number] = self.now()
            self.tracker.track(f"t:{h.number}", h.number, s.test_dial_context)
            self._spawn(self._originate(f"t:{h.number}", {
                "Action": "Originate", "Async": "true", "Channel": f"Local/{h.number}@{s.test_dial_context}",
                "Application": "Wait", "Data": "2", "CallerID": f'"12345拨测" <{s.caller_id}>',
                "Timeout": str(int((s.test_dial_ring_timeout + ORIGINATE_GRACE) * 1000)),
                "Variable": f"__CTI_DEPT_DIAL={h.dial},__CTI_DEPT_TIMEOUT={int(s.test_dial_ring_timeout)}"},
                s.test_dial_ring_timeout + ORIGINATE_GRACE))
            started += 1
        return started

    def _test_result(self, number: str, o: Outcome) -> None:
        self.test_calls.pop(number, None)
        h = self.directory.get(number)
        leg = DepartmentLeg(f"test-{number}-{int(self.now())}", number, h.owner if h else "", TEST_KIND, False,
                            o.ringing_at or 0.0, o.answer_seconds, "connected" if o.answered else o.reason)
        alert = self.book.add(leg)
        self.bus.publish(TOPIC_TEST_DIAL, leg)
        log.info("test dial %s: %s %s", number, leg.outcome,
                 f"cause {o.cause}" if o.answer_seconds is None else f"{o.answer_seconds:.1f}s")
        if alert is None:
            return
        log.warning("%s", alert.text)
        self.bus.publish(TOPIC_ALERT, alert)
        if self.settings.test_dial_alert_ticket:
            self.bus.publish(TOPIC_TICKET_REQUEST, TicketRequest(
                request_type=self.settings.alert_request_type, source="layer", department=alert.owner or None,
                summary=alert.text, tags=("拨测告警",)))
