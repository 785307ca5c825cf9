"""The queue stats engine: AMI events in, figures out. Pure (no I/O, no clock: time comes from events).

Event time is the event's ``Timestamp`` when Asterisk stamps events (manager.conf ``timestampevents =
yes``), else its time of receipt (``AmiMessage.event_time``), and then waits and talk times are
Asterisk's own whole-second ``HoldTime`` / ``TalkTime``: receipt times bunch up when events arrive
late or together, so their gaps are not the wait. An event with no time at all before any timed event
is refused (logged), never dated 1970.

Each event costs O(1); memory holds the calls in progress, the agents, and the windows' buckets.
A *leg* is one stay of a caller's channel in one queue (per-queue figures count legs); a *call* is
everything sharing a Linkedid (the centre and hotline figures count a call once, however many
queues it went through). Finished legs are returned as :class:`QueueCall` rows for persistence.
"""

from __future__ import annotations

import logging
import math
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field

from cti.ami.message import AmiMessage
from cti.ami.needs import local_interface_problem
from queue_monitor.figures import AgentCounts, Definitions, Tally, count
from queue_monitor.windows import DayClock, ScopeWindows

log = logging.getLogger(__name__)

CENTRE = ("centre", "全中心")
# QUEUESTATUS values by which Queue() itself let the caller go: counted as timeouts, not abandons.
TIMEOUT_STATUSES = frozenset({"TIMEOUT", "LEAVEEMPTY", "LEAVEUNAVAIL"})
# Device states as QueueMember / QueueMemberStatus report them (include/asterisk/devicestate.h
# enum ast_device_state): 0 UNKNOWN, 1 NOT_INUSE, 2 INUSE, 3 BUSY, 4 INVALID, 5 UNAVAILABLE, 6 RINGING,
# 7 RINGINUSE, 8 ONHOLD. Only NOT_INUSE can be available; a code not listed here is "unknown".
NOT_INUSE = 1
OFFLINE = frozenset({4, 5})                 # INVALID, UNAVAILABLE: not logged in for the wall
RINGING = frozenset({6})                    # RINGING
BUSY = frozenset({2, 3, 7, 8})              # INUSE, BUSY, RINGINUSE (a call already up), ONHOLD
UNKNOWN_STATE = -1                          # a Status that is missing or not a number
NO_NAME = ()
# Events that place something in time: refused when they carry no time and none was seen before.
TIMED_EVENTS = frozenset({"QueueCallerJoin", "AgentConnect", "QueueCallerAbandon", "QueueCallerLeave",
                          "Hangup", "AgentComplete"})
GONE_KEEP = 20_000   # hung-up channels remembered, so a late or repeated event cannot bring one back


@dataclass(frozen=True, slots=True)
class QueueCall:
    """One finished stay in one queue: what is written to the database."""

    uniqueid: str
    linkedid: str
    queue: str
    hotline: str
    joined_at: float
    left_at: float
    outcome: str                    # answered | abandoned | timeout
    connected_at: float | None = None
    ended_at: float | None = None   # end of talk (answered calls)
    agent: str = ""
    tags: str = ""


@dataclass(slots=True)
class _Leg:
    uniqueid: str
    linkedid: str
    queue: str
    join: float
    left: float | None = None
    connect: float | None = None
    outcome: str = ""               # '' waiting | pending (left, outcome not known yet) | answered | abandoned | timeout
    agent: str = ""
    interface: str = ""
    agent_uid: str = ""


@dataclass(slots=True)
class _Call:
    linkedid: str
    first_join: float
    hotline: str
    tags: str = ""
    answered_leg: _Leg | None = None
    counted: bool = False           # the centre already counted this call's outcome
    open_legs: int = 0
    origin_gone: bool = False
    last_leg: _Leg | None = None


@dataclass(slots=True)
class _Member:
    name: str = ""
    status: int = 0                 # UNKNOWN until Asterisk says: never available by default
    paused: bool = False
    reason: str = ""
    in_call: bool = False
    wrapuptime: float | None = None
    wrapup_until: float = 0.0


@dataclass
class EngineConfig:
    definitions: Definitions = field(default_factory=Definitions)
    windows: dict[str, float] = field(default_factory=lambda: {"15m": 900.0, "1h": 3600.0})
    bucket_seconds: float = 10.0
    sparkline_slot_seconds: float = 900.0
    timezone: str = "Asia/Shanghai"
    default_hotline: str = "12345"
    wrapup_seconds: float = 0.0     # used when Asterisk does not say the member's Wrapuptime


class QueueEngine:
    def __init__(self, config: EngineConfig | None = None) -> None:
        self.config = c = config or EngineConfig()
        self.defs = c.definitions
        self.day = DayClock(c.timezone)
        self.now = 0.0
        self.legs: dict[str, _Leg] = {}
        self.by_agent_channel: dict[str, _Leg] = {}
        # Local ;1 half being optimised away -> the channel that takes its place (core_local.c): the agent
        # is on that channel from then on, and the ;1 half's hang-up does not end the talk.
        self._successor: dict[str, str] = {}
        self.calls: dict[str, _Call] = {}
        self.call_vars: dict[str, dict[str, str]] = {}
        self.scopes: dict[tuple[str, str], ScopeWindows] = {}
        self.members: dict[str, dict[str, _Member]] = {}
        self.queue_names: set[str] = set()
        self.dirty: set[tuple[str, str]] = set()
        self.events = 0
        self.lost_track = 0          # waiting legs forgotten at a resync (outcome unknown, not counted)
        self.event_time = "unknown"  # stamped | unstamped (manager.conf timestampevents = no) | unknown
        self.untimed = 0             # events refused: no Timestamp, no time of receipt, no earlier event
        self._gone: OrderedDict[str, None] = OrderedDict()   # uniqueids whose Hangup was seen
        self.warned_interfaces: set[str] = set()   # Local members without /n already logged
        self._handlers = {
            "QueueCallerJoin": self._join, "AgentConnect": self._connect,
            "QueueCallerAbandon": self._abandon, "QueueCallerLeave": self._leave,
            "VarSet": self._varset, "UserEvent": self._userevent, "Hangup": self._hangup,
            "LocalOptimizationBegin": self._local_optimization,
            "AgentComplete": self._complete, "QueueMemberStatus": self._member,
            "QueueMemberAdded": self._member, "QueueMemberPause": self._member,
            "QueueMemberPaused": self._member, "QueueMemberRemoved": self._member_removed,
        }

    # -- input ----------------------------------------------------------------------------------------
    def on_event(self, ev: AmiMessage) -> list[QueueCall]:
        handler = self._handlers.get(ev.name)
        if handler is None:
            return []
        ts = ev.event_time
        if ev.stamped:
            self.event_time = "stamped"
        elif ts is not None:
            self.event_time = "unstamped"
        if ts is None:
            if self.now == 0.0 and ev.name in TIMED_EVENTS:
                self.untimed += 1
                if self.untimed == 1 or self.untimed % 1000 == 0:
                    log.warning("queue monitor: %s without Timestamp nor time of receipt refused (%d so far): "
                                "no figure is computed from a missing time", ev.name, self.untimed)
                return []
            ts = self.now
        elif ts > self.now:
            self.now = ts
        self.events += 1
        try:
            return handler(ev, ts) or []
        except KeyError as exc:  # a malformed event is logged and skipped, never stops the figures
            log.warning("queue monitor: %s without %s ignored", ev.name, exc)
            return []

    def _scope(self, key: tuple[str, str]) -> ScopeWindows:
        s = self.scopes.get(key)
        if s is None:
            c = self.config
            s = self.scopes[key] = ScopeWindows(c.windows, c.bucket_seconds, c.sparkline_slot_seconds, self.day)
            if key[0] == "queue":
                self.queue_names.add(key[1])
        return s

    def _tallies(self, key: tuple[str, str], ts: float) -> list[Tally]:
        self.dirty.add(key)
        return self._scope(key).tallies_at(ts, self.now)

    def _call_keys(self, call: _Call) -> tuple[tuple[str, str], ...]:
        return (CENTRE, ("hotline", call.hotline))

    def _join(self, ev: AmiMessage, ts: float) -> list[QueueCall]:
        uid, queue = ev["Uniqueid"], ev["Queue"]
        if uid in self._gone:
            return []   # a late or repeated join of a channel already hung up: it cannot wait any more
        out = []
        old = self.legs.get(uid)
        if old is not None and old.queue == queue and old.outcome == "" and old.left is None:
            return []   # the same join again (a repeated event): still the same wait
        if (old is not None and old.queue == queue and old.connect is not None and ev.name == "QueueCallerJoin"
                and ev.stamped and ts <= old.connect):
            return []   # stamped before its own answer: this stay's join arriving late, not a new stay
        if old is not None:  # left one queue for another without a hangup
            out += self._settle(old, "timeout", ts) if old.outcome in ("", "pending") else self._end_talk(old, ts)
            self._drop(old, count=False)
        linkedid = ev.get("Linkedid") or uid
        leg = self.legs[uid] = _Leg(uid, linkedid, queue, ts)
        call = self.calls.get(linkedid)
        if call is None:
            v = self.call_vars.get(linkedid, {})
            call = self.calls[linkedid] = _Call(linkedid, ts, v.get("hotline", self.config.default_hotline),
                                                v.get("tags", ""))
        call.open_legs += 1
        call.last_leg = leg
        self._scope(("queue", queue))
        self.dirty.add(("queue", queue))
        self.dirty.add(CENTRE)
        return out

    def _connect(self, ev: AmiMessage, ts: float) -> list[QueueCall]:
        uid, queue = ev["Uniqueid"], ev["Queue"]
        if uid in self._gone:
            return []   # the caller hung up before this (late or repeated) event: nothing to connect
        hold = _seconds(ev.get("HoldTime"))
        leg = self.legs.get(uid)
        agent_uid = ev.get("DestUniqueid", "")
        if leg is not None and leg.connect is not None and leg.queue == queue and leg.agent_uid == agent_uid:
            return []   # the same AgentConnect again (a repeated event): counted once
        if leg is None or leg.connect is not None:
            # Joined before we were watching: Asterisk's whole-second HoldTime is all we have.
            self._join(AmiMessage(tuple(ev.fields)), ts - (hold or 0.0))
            leg = self.legs.get(uid)
            if leg is None:
                return []
        elif not ev.stamped and hold is not None:
            self._rejoin(leg, ts - hold)
        leg.connect = ts = max(ts, leg.join)   # events out of order never make a negative wait
        leg.left = leg.left or ts
        leg.outcome = "answered"
        leg.agent = ev.get("MemberName") or ev.get("Interface", "")
        leg.interface = ev.get("Interface", "")
        leg.agent_uid = agent_uid if agent_uid not in self._gone else ""
        if leg.agent_uid:
            self.by_agent_channel[leg.agent_uid] = leg
        for t in self._tallies(("queue", queue), ts):
            t.add_answered(self.defs, leg.join, ts)
        call = self.calls.get(leg.linkedid)
        if call is not None and call.answered_leg is None and not call.counted:
            call.answered_leg = leg
            call.counted = True
            for key in self._call_keys(call):
                for t in self._tallies(key, ts):
                    t.add_answered(self.defs, call.first_join, ts)
        return []

    def _abandon(self, ev: AmiMessage, ts: float) -> list[QueueCall]:
        # A timeout emits this too: the outcome waits for QUEUESTATUS, the QueueResult UserEvent or the hangup.
        leg = self.legs.get(ev["Uniqueid"])
        if leg is not None and leg.outcome == "":
            hold = _seconds(ev.get("HoldTime"))
            if not ev.stamped and hold is not None:
                self._rejoin(leg, ts - hold)
            leg.left = max(ts, leg.join)
            leg.outcome = "pending"
            self.dirty.add(("queue", leg.queue))
        return []

    def _leave(self, ev: AmiMessage, ts: float) -> list[QueueCall]:
        leg = self.legs.get(ev["Uniqueid"])
        if leg is not None and leg.left is None:
            leg.left = max(ts, leg.join)
            self.dirty.add(("queue", leg.queue))
        return []

    def _varset(self, ev: AmiMessage, ts: float) -> list[QueueCall]:
        var = ev.get("Variable", "").lstrip("_")
        if var == "QUEUESTATUS":
            leg = self.legs.get(ev.get("Uniqueid", ""))
            if leg is not None and leg.outcome == "pending":
                return self._settle(leg, "timeout" if ev.get("Value") in TIMEOUT_STATUSES else "abandoned", leg.left)
        elif var in ("CTI_HOTLINE", "CTI_TAGS"):
            linkedid = ev.get("Linkedid") or ev.get("Uniqueid", "")
            key = "hotline" if var == "CTI_HOTLINE" else "tags"
            self.call_vars.setdefault(linkedid, {})[key] = ev.get("Value", "")
            call = self.calls.get(linkedid)
            if call is not None and not call.counted:
                setattr(call, key, ev.get("Value", ""))
        return []

    def _userevent(self, ev: AmiMessage, ts: float) -> list[QueueCall]:
        if ev.get("UserEvent") != "QueueResult":
            return []
        leg = self.legs.get(ev.get("Uniqueid", ""))
        if leg is not None and leg.outcome == "pending":
            status = ev.get("QueueStatus", "")
            return self._settle(leg, "timeout" if status in TIMEOUT_STATUSES else "abandoned", leg.left)
        return []

    def _local_optimization(self, ev: AmiMessage, ts: float) -> list[QueueCall]:
        one, source = ev.get("LocalOneUniqueid", ""), ev.get("SourceUniqueid", "")
        if one in self.by_agent_channel and source:
            self._successor[one] = source
        return []

    def _hangup(self, ev: AmiMessage, ts: float) -> list[QueueCall]:
        uid = ev.get("Uniqueid", "")
        out: list[QueueCall] = []
        if uid:
            self._gone[uid] = None
            while len(self._gone) > GONE_KEEP:
                self._gone.popitem(last=False)
        agent_leg = self.by_agent_channel.get(uid)
        successor = self._successor.pop(uid, None)
        if agent_leg is not None and successor is not None:
            # an optimised-away Local half (cause 16): the agent talks on from the channel that replaced it
            del self.by_agent_channel[uid]
            agent_leg.agent_uid = successor
            self.by_agent_channel[successor] = agent_leg
            agent_leg = None
        if agent_leg is not None:  # the agent left (hung up, or handed over in a three-way call)
            out += self._end_talk(agent_leg, ts)
        leg = self.legs.get(uid)
        if leg is not None:
            if leg.outcome in ("", "pending"):
                out += self._settle(leg, "abandoned", leg.left or ts)
            elif leg.outcome == "answered":
                out += self._end_talk(leg, ts)
            self._close_leg(leg)
        linkedid = ev.get("Linkedid", "")
        call = self.calls.get(linkedid)
        if call is not None:
            # The call ends with its first channel, or with the channel that was in the queue.
            if uid == linkedid or (call.last_leg is not None and call.last_leg.uniqueid == uid):
                call.origin_gone = True
                self._maybe_forget(call)
        elif uid and uid == linkedid:
            self.call_vars.pop(linkedid, None)
        return out

    def _complete(self, ev: AmiMessage, ts: float) -> list[QueueCall]:
        # Asterisk 22 leaves the caller's fields out when the caller's channel is already gone: the agent's
        # channel (DestUniqueid) still names the leg.
        leg = self.legs.get(ev.get("Uniqueid", "")) or self.by_agent_channel.get(ev.get("DestUniqueid", ""))
        member = self.members.get(ev.get("Queue", ""), {}).get(ev.get("Interface", ""))
        if member is not None:
            wrap = member.wrapuptime if member.wrapuptime is not None else self.config.wrapup_seconds
            member.wrapup_until = ts + wrap
        if leg is not None and leg.outcome == "answered":
            # unstamped, receipt times bunch up: Asterisk's TalkTime is the talk (its whole seconds)
            talk = None if ev.stamped else _seconds(ev.get("TalkTime"))
            return self._end_talk(leg, ts, talk)
        return []

    # -- leg lifecycle --------------------------------------------------------------------------------
    def _rejoin(self, leg: _Leg, join: float) -> None:
        """Unstamped events: the wait is Asterisk's HoldTime, so the leg (and its call, if this leg began
        it) joined ``join``, HoldTime before the event's receipt."""
        call = self.calls.get(leg.linkedid)
        if call is not None and call.first_join == leg.join:
            call.first_join = join
        leg.join = join
        if leg.left is not None and leg.left < join:
            leg.left = join   # its Leave was received earlier than HoldTime places the join: no negative stay

    def _settle(self, leg: _Leg, outcome: str, left: float) -> list[QueueCall]:
        """An unanswered leg's outcome is known: count it for its queue, and write it."""
        leg.outcome = outcome
        leg.left = left = max(left, leg.join)   # events out of order never make a negative wait
        for t in self._tallies(("queue", leg.queue), left):
            t.add_unanswered(self.defs, outcome, leg.join, left)
        call = self.calls.get(leg.linkedid)
        return [QueueCall(leg.uniqueid, leg.linkedid, leg.queue, call.hotline if call else self.config.default_hotline,
                          leg.join, left, outcome, tags=call.tags if call else "")]

    def _end_talk(self, leg: _Leg, ts: float, talk: float | None = None) -> list[QueueCall]:
        """The talk of an answered leg is over at ``ts``; ``talk`` (seconds) when Asterisk said it
        (AgentComplete TalkTime of unstamped events), else measured from the connect."""
        if leg.outcome != "answered" or leg.connect is None:
            return []
        leg.outcome = "done"
        if talk is None:
            talk = max(0.0, ts - leg.connect)
        ended = leg.connect + talk
        for t in self._tallies(("queue", leg.queue), leg.connect):
            t.add_talk(talk)
        call = self.calls.get(leg.linkedid)
        if call is not None and call.answered_leg is leg:
            for key in self._call_keys(call):
                for t in self._tallies(key, leg.connect):
                    t.add_talk(talk)
        if leg.agent_uid:
            self.by_agent_channel.pop(leg.agent_uid, None)
            self._successor.pop(leg.agent_uid, None)
        self._close_leg(leg)
        return [QueueCall(leg.uniqueid, leg.linkedid, leg.queue, call.hotline if call else self.config.default_hotline,
                          leg.join, leg.left or leg.connect, "answered", leg.connect, ended, leg.agent,
                          call.tags if call else "")]

    def _close_leg(self, leg: _Leg) -> None:
        """Forget the leg once its channel is gone (or its talk is over); count the call if it was its last."""
        if leg.outcome in ("", "pending", "answered"):
            return  # still waiting, or still talking
        if self.legs.get(leg.uniqueid) is leg:
            del self.legs[leg.uniqueid]
            call = self.calls.get(leg.linkedid)
            if call is not None:
                call.open_legs -= 1
                if call.open_legs <= 0 and not call.counted and call.last_leg is leg:
                    self._count_unanswered_call(call, leg)
                self._maybe_forget(call)

    def _count_unanswered_call(self, call: _Call, leg: _Leg) -> None:
        # Counted when its last queue leg is over: a caller moved on to another queue is not lost yet.
        call.counted = True
        for key in self._call_keys(call):
            for t in self._tallies(key, leg.left):
                t.add_unanswered(self.defs, leg.outcome, call.first_join, leg.left)

    def _maybe_forget(self, call: _Call) -> None:
        if call.origin_gone and call.open_legs <= 0:
            self.calls.pop(call.linkedid, None)
            self.call_vars.pop(call.linkedid, None)

    # -- restart --------------------------------------------------------------------------------------
    def restore(self, contributions: Iterable[tuple[tuple[str, str], float, str, tuple]], now: float,
                since: float) -> int:
        """Put the stored calls' counter changes (queue_monitor.reports.contributions) decided at or after
        ``since`` back into the windows, as of ``now`` (epoch s, the newest stored moment, so the windows
        never run ahead of Asterisk's clock): today and the rolling windows survive a restart of the layer.
        Called once at start, before any event. Returns the number of changes applied."""
        applied = 0
        for key, at, kind, args in contributions:
            if at is None or at < since:
                continue
            for t in self._scope(key).tallies_at(at, now):
                count(t, self.defs, kind, args)
            self.dirty.add(key)
            applied += 1
        return applied

    def talks_in_progress(self) -> list[QueueCall]:
        """Answered legs whose talk is still on, as rows without an end: written when the layer stops, so
        a restarted layer (which never hears of them again) and the reports count them once, answered."""
        out = []
        for leg in self.legs.values():
            if leg.outcome == "answered" and leg.connect is not None:
                call = self.calls.get(leg.linkedid)
                out.append(QueueCall(leg.uniqueid, leg.linkedid, leg.queue,
                                     call.hotline if call else self.config.default_hotline, leg.join,
                                     leg.left or leg.connect, "answered", leg.connect, None, leg.agent,
                                     call.tags if call else ""))
        return out

    # -- agents ---------------------------------------------------------------------------------------
    def _member(self, ev: AmiMessage, ts: float) -> list[QueueCall]:
        queue = ev["Queue"]
        interface = ev.get("Interface") or ev.get("Location") or ev.get("StateInterface", "")
        if interface not in self.warned_interfaces and len(self.warned_interfaces) < 1000:
            problem = local_interface_problem(interface)
            if problem:   # a static member of queues.conf, or added by someone else: name it once
                self.warned_interfaces.add(interface)
                log.warning("queue monitor: Asterisk queue %r: %s", queue, problem)
        m = self.members.setdefault(queue, {}).setdefault(interface, _Member())
        m.name = ev.get("MemberName") or ev.get("Name") or m.name or interface
        if "Status" in ev:
            m.status = _int(ev["Status"], UNKNOWN_STATE)
        if "Paused" in ev:
            m.paused = ev["Paused"] == "1"
            m.reason = ev.get("PausedReason", "") if m.paused else ""
        if "InCall" in ev:
            m.in_call = ev["InCall"] == "1"
        if ev.get("Wrapuptime"):
            m.wrapuptime = float(_int(ev["Wrapuptime"], 0))
        self._scope(("queue", queue))
        self.dirty.add(("queue", queue))
        self.dirty.add(CENTRE)
        return []

    def _member_removed(self, ev: AmiMessage, ts: float) -> list[QueueCall]:
        self.members.get(ev["Queue"], {}).pop(ev.get("Interface") or ev.get("Location", ""), None)
        self.dirty.add(("queue", ev["Queue"]))
        return []

    # -- resync ---------------------------------------------------------------------------------------
    def on_resync(self, queue_status: Iterable[AmiMessage], channels: Iterable[AmiMessage],
                  now: float | None = None) -> list[QueueCall]:
        """Rebuild live state from Asterisk's QueueStatus and CoreShowChannels answers.

        Waiting callers and agents are what Asterisk says now; talks whose channels are gone end at
        the last event seen; waiting legs Asterisk no longer shows are forgotten, not guessed.
        """
        last_seen = self.now
        now = self.now if now is None else now
        self.now = max(self.now, now)
        queue_status, channels = list(queue_status), list(channels)
        live = {c.get("Uniqueid") for c in channels}
        live_linked = {c.get("Linkedid") for c in channels} | live
        entries = {m.get("Uniqueid"): m for m in queue_status if m.name == "QueueEntry"}
        out: list[QueueCall] = []
        for leg in list(self.legs.values()):
            entry = entries.get(leg.uniqueid)
            if leg.outcome == "" and entry is not None and entry.get("Queue") == leg.queue:
                continue
            if leg.outcome == "":
                self.lost_track += 1
                leg.outcome = "lost"
                self._drop(leg)
            elif leg.outcome == "pending":
                if leg.uniqueid not in live:
                    out += self._settle(leg, "abandoned", leg.left or now)
                    self._close_leg(leg)
            elif leg.outcome in ("abandoned", "timeout"):
                if leg.uniqueid not in live:
                    self._close_leg(leg)
            elif leg.outcome == "answered":
                if leg.uniqueid not in live or (leg.agent_uid and leg.agent_uid not in live):
                    out += self._end_talk(leg, last_seen)
        for uid, entry in entries.items():
            if uid in self.legs:
                continue
            wait = float(_int(entry.get("Wait", "0"), 0))
            fields = [("Uniqueid", uid), ("Queue", entry.get("Queue", "")),
                      ("Linkedid", entry.get("Linkedid") or uid)]
            self._join(AmiMessage(fields), now - wait)
        for call in list(self.calls.values()):
            if call.open_legs <= 0 and call.linkedid not in live_linked:
                call.origin_gone = True
                self._maybe_forget(call)
        for linkedid in [k for k in self.call_vars if k not in live_linked and k not in self.calls]:
            del self.call_vars[linkedid]
        queues = {m.get("Queue") for m in queue_status if m.name == "QueueParams"}
        for q in queues:
            self.members[q] = {}
            self._scope(("queue", q))
            self.dirty.add(("queue", q))
        for m in queue_status:
            if m.name == "QueueMember":
                self._member(m, now)
        self.dirty.add(CENTRE)
        return out

    def _drop(self, leg: _Leg, count: bool = True) -> None:
        """Forget a leg without counting its call (it moved to another queue, or we lost track of it)."""
        if self.legs.get(leg.uniqueid) is leg:
            del self.legs[leg.uniqueid]
        call = self.calls.get(leg.linkedid)
        if call is not None:
            call.open_legs -= 1
            if count and call.last_leg is leg:
                call.counted = True  # never counted: we do not know how it ended
            self._maybe_forget(call)

    # -- output ---------------------------------------------------------------------------------------
    def waiting(self, queues: Iterable[str]) -> int:
        """Callers waiting now in any of ``queues`` (legs in a queue, not yet answered nor gone): the
        snapshot's ``waiting``, without computing the windows."""
        names = set(queues)
        return sum(1 for leg in self.legs.values() if leg.queue in names and leg.outcome == "" and leg.left is None)

    def agents(self, queue: str | None, now: float) -> AgentCounts:
        """Agent states of one queue, or of the centre (each interface once) when ``queue`` is None.

        Each logged-in member is in exactly one state, first match wins: talking (a call of ours on
        the interface, or Asterisk's InCall), paused, wrap-up (after AgentComplete, for the member's
        Wrapuptime), ringing (6 RINGING), busy (2 INUSE, 3 BUSY, 7 RINGINUSE, 8 ONHOLD: on the phone,
        not with a queue call we follow), available (1 NOT_INUSE only), unknown (0 UNKNOWN and any code
        Asterisk does not document: never available). 4 INVALID and 5 UNAVAILABLE are not logged in.
        """
        talking = {leg.interface for leg in self.by_agent_channel.values()}
        talking |= {leg.interface for leg in self.legs.values() if leg.outcome == "answered"}
        seen: dict[str, _Member] = {}
        for q, members in self.members.items():
            if queue is not None and q != queue:
                continue
            for iface, m in members.items():
                seen.setdefault(iface, m)
        out = AgentCounts()
        for iface, m in seen.items():
            if m.status in OFFLINE:
                continue
            out.logged_in += 1
            if iface in talking or m.in_call:
                out.talking += 1
            elif m.paused:
                out.paused += 1
                reason = m.reason or "未说明 unspecified"
                out.pause_reasons[reason] = out.pause_reasons.get(reason, 0) + 1
            elif now < m.wrapup_until:
                out.wrapup += 1
            elif m.status in RINGING:
                out.ringing += 1
            elif m.status in BUSY:
                out.busy += 1
            elif m.status == NOT_INUSE:
                out.available += 1
            else:
                out.unknown += 1
        return out

    def snapshot(self, now: float | None = None, scopes: Iterable[tuple[str, str]] | None = None) -> dict:
        """The figures of every scope (or of the given ones), JSON-ready."""
        now = self.now if now is None else max(now, self.now)
        live: dict[tuple[str, str], dict] = {}

        def bump(key, waiting_since=None, talking_since=None):
            d = live.setdefault(key, {"waiting": 0, "longest_wait": 0.0, "talking": 0, "longest_talk_now": 0.0})
            if waiting_since is not None:
                d["waiting"] += 1
                d["longest_wait"] = max(d["longest_wait"], now - waiting_since)
            if talking_since is not None:
                d["talking"] += 1
                d["longest_talk_now"] = max(d["longest_talk_now"], now - talking_since)

        for leg in self.legs.values():
            call = self.calls.get(leg.linkedid)
            if leg.outcome == "" and leg.left is None:
                bump(("queue", leg.queue), waiting_since=leg.join)
                if call is not None:
                    for key in self._call_keys(call):
                        bump(key, waiting_since=call.first_join)
            elif leg.outcome == "answered":
                bump(("queue", leg.queue), talking_since=leg.connect)
                if call is not None and call.answered_leg is leg:
                    for key in self._call_keys(call):
                        bump(key, talking_since=leg.connect)
        keys = list(self.scopes) if scopes is None else list(scopes)
        if CENTRE not in self.scopes:
            self._scope(CENTRE)
            keys.append(CENTRE) if scopes is None else None
        out: dict = {"now": now, "definitions": self.defs.describe(), "centre": None, "queues": {}, "hotlines": {},
                     "event_time": self.event_time}
        for key in keys:
            sw = self._scope(key)
            lv = live.get(key, {"waiting": 0, "longest_wait": 0.0, "talking": 0, "longest_talk_now": 0.0})
            windows = {}
            for name in [*self.config.windows, "today", "total"]:
                tally = sw.window(name, now)
                fig = tally.figures(self.defs)
                fig["longest_talk"] = max(fig["longest_talk"], lv["longest_talk_now"])
                fig["counters"] = asdict(tally)
                windows[name] = fig
            agents = self.agents(key[1] if key[0] == "queue" else None, now)
            spark = [{"slot": s["slot"], "answer_rate_15s": s["tally"].answer_rate(self.defs, "15s"),
                      "counters": asdict(s["tally"])} for s in sw.sparkline(now)]
            fig = {"scope": key[0], "name": key[1], **lv, "agents": vars(agents), "windows": windows,
                   "sparkline": spark, "sparkline_slot_seconds": self.config.sparkline_slot_seconds}
            if key == CENTRE:
                out["centre"] = fig
            elif key[0] == "queue":
                out["queues"][key[1]] = fig
            else:
                out["hotlines"][key[1]] = fig
        return out


def _int(raw: str, default: int) -> int:
    try:
        return int(raw)
    except (TypeError, ValueError):
        return default


def _seconds(raw: str | None) -> float | None:
    """A duration header (HoldTime, TalkTime: whole seconds) as seconds; ``None`` when absent or not a
    finite number >= 0."""
    try:
        value = float(raw) if raw else None
    except ValueError:
        return None
    return value if value is not None and math.isfinite(value) and value >= 0 else None
