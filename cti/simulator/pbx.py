"""The simulated PBX core: channels, Local pairs, bridges, hangups, DTMF and event emission.

No sockets here. Listeners (the AMI server) receive every event as a list of ``(name, value)``
pairs; the dialplan (:mod:`.dialplan`), the Queue application (:mod:`.queue_app`) and the transfer
features (:mod:`.features`) drive the channels through the methods below.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from .clock import Clock
from .config import AgentTiming, DepartmentTiming, SimConfig
from .fields import CAUSE_TXT, PRIVILEGE, bridge_fields, channel_fields
from .model import Bridge, Channel
from .queue_log import QueueLog
from .queues import Member, Queue

log = logging.getLogger(__name__)

Listener = Callable[[list[tuple[str, str]]], None]


def mask(number: str) -> str:
    """138****0001: caller numbers never appear whole in logs."""
    if len(number) >= 7:
        return number[:3] + "*" * (len(number) - 7) + number[-4:]
    return "*" * len(number)


@dataclass
class Totals:
    """Every inbound call ends in exactly one outcome; ``in_progress`` is what is left."""
    offered: int = 0
    answered: int = 0
    abandoned: int = 0
    timed_out: int = 0
    ivr_hangup: int = 0      # hung up before reaching a queue
    other: int = 0           # ended without a queue outcome (unknown queue, redirect...)

    @property
    def finished(self) -> int:
        return self.answered + self.abandoned + self.timed_out + self.ivr_hangup + self.other

    @property
    def in_progress(self) -> int:
        return self.offered - self.finished

    def as_dict(self) -> dict[str, int]:
        return {"offered": self.offered, "answered": self.answered, "abandoned": self.abandoned,
                "timed_out": self.timed_out, "ivr_hangup": self.ivr_hangup, "other": self.other,
                "in_progress": self.in_progress}


class InboundCall:
    """One citizen call: the caller's Local pair and what happened to it."""

    def __init__(self, pbx: Pbx, caller: Channel, pstn: Channel, counted: bool = True) -> None:
        self.pbx = pbx
        self.caller = caller      # ;1 half: the citizen's side (caller context / script)
        self.pstn = pstn          # ;2 half: runs from-pstn (AGI, Queue)
        self.counted = counted
        self.outcome: str | None = None
        self.prompted = asyncio.Event()    # a digit-collecting prompt started
        self.joined = asyncio.Event()      # entered a queue
        self.connected = asyncio.Event()   # an agent answered
        self.ended = asyncio.Event()
        self.entry = None                  # the current QueueEntry
        self.queue_name: str | None = None
        caller.call = pstn.call = self

    def finish(self, outcome: str) -> None:
        if self.outcome is None:
            self.outcome = outcome
            if self.counted:
                t = self.pbx.totals
                setattr(t, outcome, getattr(t, outcome) + 1)
                self.pbx.outcomes.append((self.caller.cid_num, self.queue_name, outcome))
        if self.caller.gone and self.pstn.gone:
            self.ended.set()


class Pbx:
    def __init__(self, config: SimConfig, clock: Clock, queue_log: QueueLog | None = None) -> None:
        self._instant: float | None = None   # see instant()
        self.config = config
        self.clock = clock
        self.queue_log = queue_log or QueueLog(None, clock)
        self.listeners: list[Listener] = []
        self.channels: dict[str, Channel] = {}
        self.globals: dict[str, str] = {}
        self.db: dict[str, str] = {}
        self.totals = Totals()
        # (caller number, queue, outcome) per finished call, newest last: proves a seeded run repeats.
        self.outcomes: deque[tuple[str, str | None, str]] = deque(maxlen=100_000)
        self.agi_turnarounds: deque[float] = deque(maxlen=200_000)  # the layer's AGI latency, real s
        self.calls: set[InboundCall] = set()
        self.tasks: set[asyncio.Task] = set()
        self._uniq = 0
        self._local = 0
        self.boot_time = int(clock.now())
        self.queues: dict[str, Queue] = {}
        for qc in config.queues:
            self.add_queue_config(qc)
        # late imports: these modules take the Pbx as their engine
        from .dialplan import Dialplan
        from .features import Features
        from .queue_app import QueueApp
        self.dialplan = Dialplan(self)
        self.queue_app = QueueApp(self)
        self.features = Features(self)
        from .dial import DepartmentDial
        from .shipped import install as install_shipped
        self.dial = DepartmentDial(self)
        self.shipped = install_shipped(self)   # config/asterisk/extensions_cti.conf's contexts
        self._optimisations = 0
        self.agi_runner = None  # set by the Simulator: async (pbx, channel, url) -> status

    def add_queue_config(self, qc) -> Queue:
        q = Queue(qc.name, strategy=qc.strategy, servicelevel=qc.servicelevel, timeout=qc.timeout,
                  retry=qc.retry, wrapuptime=qc.wrapuptime, autofill=qc.autofill)
        for ext in qc.members:
            q.members.append(Member(f"Local/{ext}@agents/n", f"Agent {ext}", login_time=self.boot_time))
        self.queues[q.name] = q
        return q

    # -- timing knobs -------------------------------------------------------------------------------
    def agent_timing(self, exten: str) -> AgentTiming:
        t = self.config.agents.get(exten, self.config.default_agent)
        delay = self.db.get(f"agent/delay/{exten}")
        talk = self.db.get(f"agent/talk/{exten}")
        if delay is None and talk is None:
            return t
        return AgentTiming(float(delay) if delay else t.ring_delay, float(talk) if talk else t.talk_time, t.wrapup)

    def rng_for(self, *key: str) -> random.Random:
        """A random stream per call and party: a seeded run draws the same whatever the timing."""
        if self.config.seed is None:
            return self.config.rng
        return random.Random("/".join((str(self.config.seed), *key)))

    def set_agent(self, exten: str, ring_delay=None, talk_time=None, wrapup=None) -> None:
        cur = self.config.agents.get(exten, self.config.default_agent)
        self.config.agents[exten] = AgentTiming(
            cur.ring_delay if ring_delay is None else ring_delay,
            cur.talk_time if talk_time is None else talk_time,
            cur.wrapup if wrapup is None else wrapup)

    def department_timing(self, exten: str) -> DepartmentTiming:
        return self.config.departments.get(exten, self.config.default_department)

    # -- events -------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def instant(self):
        """One reading of the clock (epoch seconds) for a figure and every event sent meanwhile, as
        app_queue stamps and counts a call from one time(); nested uses share the outer reading. Without it
        a fast clock can put a figure and its event on either side of a whole second."""
        if self._instant is not None:
            yield self._instant
            return
        self._instant = self.clock.now()
        try:
            yield self._instant
        finally:
            self._instant = None

    def emit(self, name: str, fields: list[tuple[str, str]]) -> None:
        stamp = self.clock.now() if self._instant is None else self._instant
        message = [("Event", name), ("Privilege", PRIVILEGE.get(name, "call,all")),
                   ("Timestamp", f"{stamp:.6f}")] + fields
        for listener in list(self.listeners):
            try:
                listener(message)
            except Exception:  # a broken listener must not stop the PBX
                log.exception("event listener failed")

    def chan_event(self, name: str, ch: Channel, extra: list[tuple[str, str]] = ()) -> None:
        self.emit(name, channel_fields(ch) + list(extra))

    def newexten(self, ch: Channel, app: str, data: str = "", priority: int | None = None) -> None:
        if priority is not None:
            ch.priority = priority
        ch.app, ch.appdata = app, data
        self.chan_event("Newexten", ch, [("Extension", ch.exten), ("Application", app), ("AppData", data)])

    def setvar(self, ch: Channel, name: str, value: str) -> None:
        ch.variables.pop(name, None)   # Asterisk puts a (re)set variable at the head of the channel's list
        ch.variables[name] = value
        self.chan_event("VarSet", ch, [("Variable", name), ("Value", value)])

    def newstate(self, ch: Channel, state: int) -> None:
        ch.state = state
        self.chan_event("Newstate", ch)
        if ch.on_state is not None:
            ch.on_state(ch)

    def device_state(self, device: str, state: str) -> None:
        self.emit("DeviceStateChange", [("Device", device), ("State", state)])

    def next_optimisation(self) -> int:
        """The Id of the next LocalOptimizationBegin/End pair."""
        self._optimisations += 1
        return self._optimisations

    def new_uniqueid(self) -> str:
        uid = f"{int(self.clock.now())}.{self._uniq}"
        self._uniq += 1
        return uid

    # -- channels -----------------------------------------------------------------------------------
    def new_local(self, exten: str, context: str, linkedid: str | None = None,
                  parent: Channel | None = None) -> tuple[Channel, Channel]:
        """A Local channel pair ``Local/<exten>@<context>-XXXXXXXX;1`` / ``;2``, with Newchannel events; both
        halves inherit ``parent``'s ``_``/``__`` variables (see :meth:`inherit`)."""
        base = f"Local/{exten}@{context}-{self._local:08x}"
        self._local += 1
        now = self.clock.now()
        u1 = self.new_uniqueid()
        one = Channel(f"{base};1", u1, linkedid or u1, context, exten, now, state=0)
        u2 = self.new_uniqueid()
        two = Channel(f"{base};2", u2, linkedid or u1, context, exten, now, state=4)
        one.peer, two.peer = two, one
        for ch in (one, two):
            self.channels[ch.name] = ch
            self.chan_event("Newchannel", ch)
        if parent is not None:
            for ch in (one, two):
                self.inherit(parent, ch)
        return one, two

    def inherit(self, parent: Channel, child: Channel) -> None:
        """ast_channel_inherit_variables: ``__X`` passes on as ``__X``, ``_X`` once as ``X``, each with a VarSet
        on the child, newest first (seen on the real switch: __CTI_TAGS before __CTI_HOTLINE)."""
        for name, value in reversed(list(parent.variables.items())):
            if name.startswith("__"):
                self.setvar(child, name, value)
            elif name.startswith("_"):
                self.setvar(child, name[1:], value)

    def find_channel(self, name: str) -> Channel | None:
        ch = self.channels.get(name)
        if ch is None:
            for c in self.channels.values():
                if c.name.lower() == name.lower() or c.uniqueid == name:
                    return c
        return ch

    def new_callerid(self, ch: Channel) -> None:
        self.chan_event("NewCallerid", ch, [("CID-CallingPres", "0 (Presentation Allowed, Not Screened)")])

    def new_connected(self, ch: Channel) -> None:
        self.chan_event("NewConnectedLine", ch)

    def local_bridge(self, one: Channel, two: Channel) -> None:
        self.emit("LocalBridge", channel_fields(one, "LocalOne") + channel_fields(two, "LocalTwo")
                  + [("Context", one.context), ("Exten", one.exten), ("LocalOptimization", "Yes")])

    def dial_event(self, name: str, caller: Channel | None, dest: Channel, extra) -> None:
        fields = channel_fields(caller) if caller is not None else []
        self.emit(name, fields + channel_fields(dest, "Dest") + list(extra))

    def spawn(self, coro, name: str = "") -> asyncio.Task:
        task = asyncio.get_running_loop().create_task(coro, name=name or None)
        self.tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("simulator task %s failed", task.get_name(), exc_info=task.exception())

    async def wait(self, ch: Channel, seconds: float) -> bool:
        """Wait simulated seconds on a channel: True when done, False on a hangup request."""
        if ch.hangup_requested.is_set() or ch.gone:
            return False
        try:
            await self.clock.wait_for(ch.hangup_requested.wait(), seconds)
        except TimeoutError:
            return True
        return False

    # -- hangups ------------------------------------------------------------------------------------
    def deliver_hangup(self, ch: Channel, cause: int = 16) -> None:
        """A hangup request reached ``ch``: its owner (bridge, Queue, dialplan) reacts."""
        if ch.gone:
            return
        ch.cause = cause
        handler, ch.hangup_handler = ch.hangup_handler, None
        if handler is not None:
            handler(ch)
        else:
            ch.hangup_requested.set()

    def request_hangup(self, ch: Channel, cause: int = 16) -> None:
        """HangupRequest event and delivery (a peer or the PBX asks ``ch`` to go)."""
        if ch.gone:
            return
        ch.cause = cause
        self.chan_event("HangupRequest", ch, [("Cause", str(cause))])
        self.deliver_hangup(ch, cause)

    def destroy(self, ch: Channel, soft: bool = True, cause: int | None = None) -> None:
        """The channel ends: [SoftHangupRequest], HangupRequest to its Local peer, Hangup."""
        if ch.gone:
            return
        if cause is not None:
            ch.cause = cause
        if soft:
            self.chan_event("SoftHangupRequest", ch, [("Cause", "16")])
        ch.gone = True
        peer = ch.peer
        if peer is not None and not peer.gone:
            peer.cause = ch.cause   # the other half hears the same cause (0 after an absolute timeout)
            self.chan_event("HangupRequest", peer, [("Cause", str(peer.cause))])
        self.hangup_event(ch)
        if peer is not None and not peer.gone:
            self.deliver_hangup(peer, peer.cause)

    def hangup_event(self, ch: Channel) -> None:
        ch.gone = True
        ch.hangup_requested.set()
        self.channels.pop(ch.name, None)
        self.chan_event("Hangup", ch, [("Cause", str(ch.cause)), ("Cause-txt", CAUSE_TXT.get(ch.cause, "Unknown"))])
        call = ch.call
        if call is not None and call.caller.gone and call.pstn.gone:
            if call.outcome is None:
                call.finish("other")
            call.ended.set()

    # -- bridges ------------------------------------------------------------------------------------
    def bridge_create(self) -> Bridge:
        br = Bridge()
        self.emit("BridgeCreate", bridge_fields(br))
        return br

    def bridge_enter(self, br: Bridge, ch: Channel) -> None:
        br.channels.append(ch)
        ch.bridge = br
        if len(br.channels) > 2:
            br.technology = "softmix"
        self.emit("BridgeEnter", bridge_fields(br) + channel_fields(ch))

    def bridge_leave(self, ch: Channel) -> None:
        br = ch.bridge
        if br is None:
            return
        br.channels.remove(ch)
        ch.bridge = None
        self.emit("BridgeLeave", bridge_fields(br) + channel_fields(ch))

    def bridge_destroy(self, br: Bridge) -> None:
        self.emit("BridgeDestroy", bridge_fields(br))

    def set_bridgepeers(self, br: Bridge) -> None:
        for ch in br.channels:
            others = [o.name for o in br.channels if o is not ch]
            self.setvar(ch, "BRIDGEPEER", ",".join(others))

    # -- DTMF ---------------------------------------------------------------------------------------
    async def send_dtmf(self, sender: Channel, digits: str) -> None:
        """SendDTMF on one half of a Local pair: the other half receives each digit."""
        target = sender.peer or sender
        for digit in digits:
            await self.clock.sleep(0.1)
            if target.gone:
                return
            self.chan_event("DTMFBegin", target, [("Digit", digit), ("Direction", "Received")])
            await self.clock.sleep(0.1)
            if target.gone:
                return
            self.receive_dtmf(target, digit, duration_ms=100, begin=False)
            await self.clock.sleep(0.25)

    def receive_dtmf(self, ch: Channel, digit: str, duration_ms: int = 100, begin: bool = False) -> None:
        if begin:
            self.chan_event("DTMFBegin", ch, [("Digit", digit), ("Direction", "Received")])
        self.chan_event("DTMFEnd", ch, [("Digit", digit), ("DurationMs", str(duration_ms)), ("Direction", "Received")])
        if ch.dtmf_sink is not None:
            ch.dtmf_sink(digit)

    # -- calls --------------------------------------------------------------------------------------
    def start_call(self, caller: Channel, pstn: Channel, counted: bool = True) -> InboundCall:
        call = InboundCall(self, caller, pstn, counted)
        self.calls.add(call)
        if counted:
            self.totals.offered += 1
        call.ended_callback = None
        self.spawn(self._reap(call), name=f"reap {pstn.name}")
        return call

    async def _reap(self, call: InboundCall) -> None:
        await call.ended.wait()
        self.calls.discard(call)

    def variable(self, ch: Channel | None, name: str) -> str | None:
        """Channel variable or dialplan function value as GET VARIABLE / Getvar see it."""
        key = name.strip()
        upper = key.upper()
        if ch is not None:
            if upper in ("CALLERID(NUM)", "CALLERID(NUMBER)"):
                return ch.cid_num if ch.cid_num != "<unknown>" else ""
            if upper == "CALLERID(NAME)":
                return ch.cid_name if ch.cid_name != "<unknown>" else ""
            if upper == "CALLERID(ALL)":
                return f'"{ch.cid_name}" <{ch.cid_num}>'
            if upper in ("UNIQUEID", "CHANNEL(UNIQUEID)"):
                return ch.uniqueid
            if upper in ("CHANNEL", "CHANNEL(NAME)"):
                return ch.name
            if upper in ("LINKEDID", "CHANNEL(LINKEDID)"):
                return ch.linkedid
            if upper == "EXTEN":
                return ch.exten
            if upper == "CONTEXT":
                return ch.context
            if upper == "CHANNEL(STATE)":
                return {6: "Up", 5: "Ringing", 4: "Ring"}.get(ch.state, "Down")
            for name in (key, "_" + key, "__" + key):   # inherited variables answer by their bare name
                if name in ch.variables:
                    return ch.variables[name]
        if upper in ("ENTITYID", "SYSTEMNAME"):   # Asterisk's built-in globals (pbx_variables.c)
            return self.config.entity_id if upper == "ENTITYID" else self.config.system_name
        if upper == "EPOCH":                        # the switch's clock, whole seconds
            return str(int(self.clock.now()))
        return self.globals.get(key)
