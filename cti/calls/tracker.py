"""Calls and transfers from AMI events: a pure consumer (events in, notices out, no I/O, no clock).

A *call* here is a citizen connected to an agent by a queue; its id is the Uniqueid of the citizen's
queue channel (the same id the IVR session and the queue_log carry). The tracker routes each AMI
event to the call's transfer state machine and says what the controller must do or tell.

A party is who is in the bridge, not a channel name: when Asterisk optimises a Local pair away
(core_local.c: LocalOptimizationBegin names the ;1 half and the channel that takes its place, which
then enters the bridge) or renames a channel (Rename), the party follows to the new channel, and the
old channel's hang-up (cause 16) is not the party's.

What the call is (its hotline and tags) comes from what the dialplan tells every consumer, for calls
that went through the IVR and for those that skip it (the 110 hand-over of [cti-inbound]): the VarSets
of CTI_HOTLINE / CTI_TAGS on the citizen's channel (ivr_flows/variables.py; ``Set(__CTI_HOTLINE=110)``)
and the ``Tag`` / ``Source`` of ``UserEvent(CTILinkage)``. They arrive before AgentConnect, so they are
kept per channel Uniqueid until the call exists.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from cti.calls import transfer as tx
from cti.calls.transfer import Transfer, leg_base

IVR_KEEP = 20_000   # IVR session records kept for screen pops (one per recent call)
HOTLINE_VARIABLE, TAGS_VARIABLE = "CTI_HOTLINE", "CTI_TAGS"   # VarSet names, inheritance underscores stripped
LINKAGE_EVENT = "CTILinkage"   # UserEvent of the 110 hand-over DID (extensions_cti.conf)
QUEUE_OUTGOING = "AppQueue"    # CoreShowChannel Application of the leg Queue() dialled to an agent (app_queue.c)


def agent_of(interface: str) -> str:
    """``Local/6002@agents/n`` or ``PJSIP/6002`` -> ``6002``."""
    rest = interface.split("/", 1)[-1]
    return rest.split("@", 1)[0].split("/", 1)[0]


def agent_of_channel(channel: str) -> str:
    """The agent id AgentConnect's Interface would give, from the agent's channel name:
    ``Local/6002@agents-0000000a;1`` (the shipped ``Local/<agent>@agents/n`` member) or
    ``PJSIP/6002-0000000a`` (a phone as member: Asterisk appends ``-<8 hex digits>``) -> ``6002``."""
    agent = agent_of(channel.rsplit(";", 1)[0])
    head, _, tail = agent.rpartition("-")
    return head if head and len(tail) == 8 and all(ch in "0123456789abcdef" for ch in tail.lower()) else agent


def duration_seconds(text: str) -> float | None:
    """CoreShowChannel ``Duration`` (``HH:MM:SS``, whole seconds) -> seconds; None when unreadable."""
    try:
        hours, minutes, seconds = (int(x) for x in text.split(":"))
    except ValueError:
        return None
    return float(hours * 3600 + minutes * 60 + seconds) if min(hours, minutes, seconds) >= 0 else None


@dataclass
class Call:
    id: str
    citizen: str                 # channel of the citizen's queue leg
    linkedid: str
    caller: str
    caller_name: str = ""
    queue: str = ""
    agent: str = ""
    agent_channel: str = ""
    joined_at: float | None = None
    connected_at: float | None = None
    hold_seconds: float = 0.0
    ended: bool = False
    transfer: Transfer | None = None
    transfers: list[Transfer] = field(default_factory=list)
    tickets: list[str] = field(default_factory=list)     # tickets made for this call (after hours)
    hotline: str = ""            # the number dialled, as the dialplan said (CTI_HOTLINE); "" not told
    tags: tuple[str, ...] = ()   # CTI_TAGS and the CTILinkage Tag, in the order heard

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "caller": self.caller, "caller_name": self.caller_name, "queue": self.queue,
                "hotline": self.hotline, "tags": list(self.tags),
                "agent": self.agent, "agent_channel": self.agent_channel, "citizen_channel": self.citizen,
                "wait_seconds": round(self.hold_seconds, 3), "ended": self.ended,
                "transfer": self.transfer.as_dict() if self.transfer else None}


@dataclass
class _Facts:
    """What the dialplan said about one channel's call: the hotline dialled and the tags, in order."""

    hotline: str = ""            # from CTI_HOTLINE (the last value set wins)
    fallback_hotline: str = ""   # from a CTILinkage Source: used when no CTI_HOTLINE was heard
    tags: list[str] = field(default_factory=list)

    def hear(self, hotline: str, tags: str, fallback_hotline: str) -> None:
        self.hotline = hotline.strip() or self.hotline
        self.fallback_hotline = fallback_hotline.strip() or self.fallback_hotline
        # CTI_TAGS is the call's whole comma-separated list each time it is set: union, first heard first
        for tag in (t.strip() for t in tags.split(",")):
            if tag and tag not in self.tags:
                self.tags.append(tag)

    def apply(self, call: Call) -> None:
        call.hotline = self.hotline or self.fallback_hotline or call.hotline
        call.tags = tuple(self.tags)


@dataclass(frozen=True)
class Notice:
    """What the tracker tells the controller: kind is connect, transfer or ended."""

    kind: str
    call: Call
    transfer: Transfer | None = None
    effects: tuple[str, ...] = ()


class CallTracker:
    def __init__(self, department_context: str = "departments") -> None:
        self.department_context = department_context
        self.calls: dict[str, Call] = {}
        self.by_channel: dict[str, str] = {}          # citizen or agent channel -> call id
        self._successor: dict[str, str] = {}          # Local ;1 half being optimised away -> its replacement
        self._joined: OrderedDict[str, float] = OrderedDict()
        self._facts: OrderedDict[str, _Facts] = OrderedDict()   # channel uniqueid -> hotline/tags heard
        self._gone: OrderedDict[str, None] = OrderedDict()       # uniqueids whose Hangup was seen
        self.now = 0.0               # the latest event time (epoch seconds): for an event with no time

    # -- lookups ----------------------------------------------------------------------------------------
    def get(self, call_id: str) -> Call | None:
        return self.calls.get(call_id)

    def call_of_agent(self, agent: str) -> Call | None:
        return next((c for c in self.calls.values() if c.agent == agent and c.agent_channel), None)

    def _by(self, channel: str) -> Call | None:
        cid = self.by_channel.get(channel)
        return self.calls.get(cid) if cid else None

    def _by_recipient(self, channel: str) -> Call | None:
        base = leg_base(channel)
        for call in self.calls.values():
            t = call.transfer
            if t is not None and t.recipient and leg_base(t.recipient) == base:
                return call
        return None

    # -- transfers ---------------------------------------------------------------------------------------
    def start_transfer(self, t: Transfer) -> None:
        call = self.calls[t.call_id]
        call.transfer = t
        call.transfers.append(t)

    # -- events ------------------------------------------------------------------------------------------
    def feed(self, msg) -> list[Notice]:
        """Route one AMI event. Its time is ``msg.event_time``: Asterisk's Timestamp, else the time of
        receipt (manager.conf ``timestampevents = no``), else the latest time seen (never 1970 once any
        event was timed)."""
        name = msg.name
        handler = getattr(self, f"_on_{name.lower()}", None)
        if handler is None:
            return []
        ts = msg.event_time
        if ts is None:
            ts = self.now
        elif ts > self.now:
            self.now = ts
        return handler(msg, ts)

    def _notice(self, call: Call, effects: list[str]) -> list[Notice]:
        return [Notice("transfer", call, call.transfer, tuple(effects))]

    def _on_queuecallerjoin(self, m, ts: float) -> list[Notice]:
        self._joined[m.get("Uniqueid", "")] = ts
        while len(self._joined) > IVR_KEEP:
            self._joined.popitem(last=False)
        call = self._by(m.get("Channel", ""))
        t = call.transfer if call else None
        if t is not None and t.kind == tx.BLIND and not t.done:
            t.on_dial_failed("NOANSWER", ts)   # back in the 12345 queue: the transfer did not happen
            return self._notice(call, [])
        return []

    def _on_agentconnect(self, m, ts: float) -> list[Notice]:
        cid = m.get("Uniqueid", "")
        if cid in self._gone:
            return []   # the citizen hung up before this (late or repeated) event: no call to pop
        call = self.calls.get(cid)
        if call is None:
            call = Call(cid, m.get("Channel", ""), m.get("Linkedid", cid), m.get("CallerIDNum", ""),
                        m.get("CallerIDName", ""))
            self.calls[cid] = call
        elif call.agent_channel:
            self.by_channel.pop(call.agent_channel, None)
        joined = self._joined.pop(cid, None)
        try:
            hold = float(m.get("HoldTime", "0") or 0)
        except ValueError:
            hold = 0.0
        if not (0.0 <= hold < float("inf")):   # 'nan', '-3', 'inf': no wait said
            hold = 0.0
        call.queue, call.agent = m.get("Queue", ""), agent_of(m.get("Interface", ""))
        # an agent channel already hung up (a late or repeated event) is no party of the call
        agent_channel = "" if m.get("DestUniqueid", "") in self._gone else m.get("DestChannel", "")
        call.agent_channel, call.connected_at, call.joined_at = agent_channel, ts, joined
        # Stamped events measure the wait; receipt times (timestampevents = no) bunch up: HoldTime says it
        call.hold_seconds = max(0.0, ts - joined) if joined is not None and m.stamped else hold
        call.citizen = m.get("Channel", call.citizen)
        facts = self._facts.get(cid)
        if facts is not None:
            facts.apply(call)
        self.by_channel[call.citizen] = cid
        if call.agent_channel:
            self.by_channel[call.agent_channel] = cid
        return [Notice("connect", call, call.transfer)]

    def _learn(self, uniqueid: str) -> _Facts:
        facts = self._facts.get(uniqueid)
        if facts is None:
            facts = self._facts[uniqueid] = _Facts()
            while len(self._facts) > IVR_KEEP:
                self._facts.popitem(last=False)
        return facts

    def _told(self, uniqueid: str, hotline: str = "", tags: str = "", fallback_hotline: str = "") -> None:
        """The dialplan said something about the call on channel ``uniqueid``: keep it, update a live call."""
        facts = self._learn(uniqueid)
        facts.hear(hotline, tags, fallback_hotline)
        call = self.calls.get(uniqueid)
        if call is not None:
            facts.apply(call)

    def _on_varset(self, m, ts: float) -> list[Notice]:
        variable = m.get("Variable", "").lstrip("_")
        if variable == HOTLINE_VARIABLE:
            self._told(m.get("Uniqueid", ""), hotline=m.get("Value", ""))
            return []
        if variable == TAGS_VARIABLE:
            self._told(m.get("Uniqueid", ""), tags=m.get("Value", ""))
            return []
        if m.get("Variable") != "TRANSFERERNAME":
            return []
        call = self._by(m.get("Value", ""))
        if call is None or call.transfer is None or call.transfer.kind != tx.THREEWAY:
            return []
        channel = m.get("Channel", "")
        if call.transfer.recipient or not channel.endswith(";1"):
            return []
        return self._notice(call, call.transfer.on_recipient(channel, ts))

    def _on_localoptimizationbegin(self, m, ts: float) -> list[Notice]:
        one, source = m.get("LocalOneChannel", ""), m.get("SourceChannel", "")
        if one and source:
            self._successor[one] = source
        return []

    def _on_localoptimizationend(self, m, ts: float) -> list[Notice]:
        # Success: the replacement is in the bridge even when its BridgeEnter was not seen; failure: stale
        one = m.get("LocalOneChannel", "")
        new = self._successor.pop(one, None)
        if new is not None and m.get("Success", "").lower() == "yes":
            self._follow(one, new)
        return []

    def _on_bridgeenter(self, m, ts: float) -> list[Notice]:
        # The replacement of an optimised Local half is a party once it is in the bridge.
        channel = m.get("Channel", "")
        old = next((o for o, new in self._successor.items() if new == channel), None)
        if old is not None:
            del self._successor[old]
            self._follow(old, channel)
        return []

    def _on_rename(self, m, ts: float) -> list[Notice]:
        old, new = m.get("Channel", ""), m.get("Newname", "")
        if old and new:
            self._follow(old, new)
        return []

    def _follow(self, old: str, new: str) -> None:
        """The party on channel ``old`` is now on ``new``: move every reference."""
        cid = self.by_channel.pop(old, None)
        if cid is not None:
            self.by_channel[new] = cid
        for call in self.calls.values():
            if call.citizen == old:
                call.citizen = new
            if call.agent_channel == old:
                call.agent_channel = new
            t = call.transfer
            if t is not None:
                t.follow(old, new)

    def _on_dialbegin(self, m, ts: float) -> list[Notice]:
        call = self._by(m.get("Channel", ""))   # blind transfer: the citizen dials the department
        t = call.transfer if call else None
        if t is None or t.kind != tx.BLIND or call.citizen != m.get("Channel"):
            return []
        return self._notice(call, t.on_recipient(m.get("DestChannel", ""), ts))

    def _on_dialend(self, m, ts: float) -> list[Notice]:
        status, dest = m.get("DialStatus", ""), m.get("DestChannel", "")
        call = self._by_recipient(dest)
        if call is None:
            return []
        t = call.transfer
        if status == "ANSWER":
            return self._notice(call, t.on_answer(ts))
        return self._notice(call, t.on_dial_failed(status, ts))

    def _on_userevent(self, m, ts: float) -> list[Notice]:
        if m.get("UserEvent") == LINKAGE_EVENT:
            # the 110 hand-over skips the IVR: its tag (and its source as the hotline) travel here too
            self._told(m.get("Uniqueid", ""), tags=m.get("Tag", ""), fallback_hotline=m.get("Source", ""))
            return []
        # the shipped [cti-transfer] raises it when the department did not answer
        if m.get("UserEvent") != "CTITransferFailed":
            return []
        call = self.calls.get(m.get("Uniqueid", ""))
        if call is None or call.transfer is None:
            return []
        return self._notice(call, call.transfer.on_dial_failed(m.get("DialStatus", "NOANSWER"), ts))

    def _on_attendedtransfer(self, m, ts: float) -> list[Notice]:
        call = self._by_recipient(m.get("TransferTargetChannel", "")) or self._by(m.get("OrigTransfererChannel", ""))
        if call is None or call.transfer is None:
            return []
        if m.get("DestType") == "Threeway":
            return self._notice(call, call.transfer.on_threeway(ts))
        return self._notice(call, call.transfer.on_bridged(ts))

    def _on_unhold(self, m, ts: float) -> list[Notice]:
        call = self._by(m.get("Channel", ""))
        if call is None or call.transfer is None or m.get("Channel") != call.agent_channel:
            return []
        return self._notice(call, call.transfer.on_agent_back(ts))

    def _on_hanguprequest(self, m, ts: float) -> list[Notice]:
        call = self._by_recipient(m.get("Channel", ""))
        if call is not None and m.get("Cause") == "17":
            call.transfer.busy_seen = True
        return []

    def _on_hangup(self, m, ts: float) -> list[Notice]:
        channel, cause = m.get("Channel", ""), m.get("Cause", "")
        if m.get("Uniqueid"):   # uniqueids, not names: a channel name comes back after an Asterisk restart
            self._gone[m.get("Uniqueid")] = None
        while len(self._gone) > IVR_KEEP:
            self._gone.popitem(last=False)
        self._successor.pop(channel, None)   # optimisation never completed: the entry is stale
        call = self._by_recipient(channel)
        if call is not None and call.transfer is not None:
            # the department's own channel (or the busy far half of its Local pair)
            if cause == "17" or channel == call.transfer.recipient:
                return self._notice(call, call.transfer.on_recipient_hangup(cause, ts))
            return []
        call = self._by(channel)
        if call is None:
            return []
        out: list[Notice] = []
        t = call.transfer
        if channel == call.agent_channel:
            self.by_channel.pop(channel, None)
            call.agent_channel = ""
            if t is not None:
                out += self._notice(call, t.on_agent_hangup(ts))
        elif channel == call.citizen:
            if t is not None:
                out += self._notice(call, t.on_citizen_hangup(ts))
            out.append(self._end(call))
        return out

    def _end(self, call: Call) -> Notice:
        call.ended = True
        self.calls.pop(call.id, None)
        for ch in (call.citizen, call.agent_channel):
            if self.by_channel.get(ch) == call.id:
                self.by_channel.pop(ch, None)
        return Notice("ended", call, call.transfer)

    def tell(self, call_id: str, hotline: str = "", tags: str = "") -> None:
        """What the dialplan had told before we listened (read back from the channel: CTI_HOTLINE, CTI_TAGS)."""
        self._told(call_id, hotline=hotline, tags=tags)

    # -- reconnect ---------------------------------------------------------------------------------------
    def reconcile(self, channels, ts: float) -> list[Notice]:
        """Rebuild from a CoreShowChannels snapshot: drop gone calls, settle transfers whose events were lost,
        adopt the calls connected before we listened (``_adopt``)."""
        present = {c.get("Channel", ""): c for c in channels}
        out: list[Notice] = []
        for call in list(self.calls.values()):
            t = call.transfer
            if call.citizen not in present:
                if t is not None and not t.done:
                    effects = t.on_citizen_hangup(ts)
                    if t.recipient and leg_base(t.recipient) + ";1" not in present:
                        effects = []
                    out += self._notice(call, effects)
                out.append(self._end(call))
                continue
            if call.agent_channel and call.agent_channel not in present:
                self.by_channel.pop(call.agent_channel, None)
                call.agent_channel = ""
            if t is None or t.done:
                continue
            out += self._reconcile_transfer(call, t, present, ts)
        return out + self._adopt(present, ts)

    def _adopt(self, present: dict, ts: float) -> list[Notice]:
        """Calls connected before this layer listened (a restart, an upgrade, a host back): each citizen
        channel in Queue() that shares its bridge with exactly one other channel, the agent's. Notice kind
        ``adopted``; the controller reads the hotline and tags back from the channel (``tell``).

        Estimates, said as such: ``connected_at`` is ``ts`` minus the agent channel's Duration (whole
        seconds: the agent's leg is created when the queue rings it, so this is up to the ring time early);
        the wait is unknown (0). Not adopted: a transfer in progress at the restart (a three-way leaves the
        citizen alone in its bridge or with two others; a one-key transfer takes the citizen out of Queue()),
        a citizen left with a department (a three-way the agent dropped off: that leg is no AppQueue), and
        channels whose Hangup was already heard."""
        bridges: dict[str, list[dict]] = {}
        for c in present.values():
            if c.get("BridgeId"):
                bridges.setdefault(c["BridgeId"], []).append(c)
        out: list[Notice] = []
        for name, c in present.items():
            cid = c.get("Uniqueid", "")
            if c.get("Application", "").lower() != "queue" or not cid or cid in self.calls or cid in self._gone:
                continue
            others = [o for o in bridges.get(c.get("BridgeId", ""), ()) if o is not c]
            # the agent's leg is the queue's outgoing line (AppQueue, seen on the real switch); a department
            # left alone with the citizen (a three-way handed off) is no agent
            if len(others) != 1 or others[0].get("Application", "") != QUEUE_OUTGOING or \
                    others[0].get("Uniqueid", "") in self._gone:
                continue
            agent = others[0]
            duration = duration_seconds(agent.get("Duration", ""))
            call = Call(cid, name, c.get("Linkedid", "") or cid, c.get("CallerIDNum", ""), c.get("CallerIDName", ""),
                        queue=c.get("ApplicationData", "").split(",", 1)[0].strip(),
                        agent=agent_of_channel(agent.get("Channel", "")), agent_channel=agent.get("Channel", ""),
                        connected_at=ts - duration if duration is not None else None)
            facts = self._facts.get(cid)
            if facts is not None:
                facts.apply(call)
            self.calls[cid] = call
            self.by_channel[call.citizen] = cid
            self.by_channel[call.agent_channel] = cid
            out.append(Notice("adopted", call))
        return out

    def _reconcile_transfer(self, call: Call, t: Transfer, present: dict, ts: float) -> list[Notice]:
        if not t.recipient:
            for name, c in present.items():
                if (name.endswith(";1") and c.get("Linkedid") == call.linkedid and c.get("Exten") == t.number
                        and c.get("Context") == self.department_context):
                    t.on_recipient(name, ts)
                    break
        citizen = present[call.citizen]
        if t.kind == tx.BLIND:
            if citizen.get("Application", "").lower() == "queue":
                t.on_dial_failed("NOANSWER", ts)
            elif t.recipient and t.recipient in present and present[t.recipient].get("BridgeId") and \
                    present[t.recipient].get("BridgeId") == citizen.get("BridgeId"):
                t.on_answer(ts)
            return self._notice(call, [])
        if not t.recipient:
            return []
        leg = present.get(t.recipient)
        if leg is None:   # the department leg vanished while we were away: the agent is back
            if call.agent_channel:
                t.on_agent_back(ts)
            else:
                t.end(tx.ENDED, ts, "重连后发现转接已结束 (found ended after an AMI reconnect)")
            return self._notice(call, [])
        bridge = leg.get("BridgeId", "")
        if bridge and bridge == citizen.get("BridgeId"):
            effects = t.on_threeway(ts) if call.agent_channel else []
            if not call.agent_channel:
                t.end(tx.HANDED_OFF, ts, "坐席已退出 (the agent dropped off)")
            return self._notice(call, effects)
        far = present.get(leg_base(t.recipient) + ";2")
        if far is not None and far.get("ChannelState") == "6" and t.state in (tx.REQUESTED, tx.RINGING):
            return self._notice(call, t.on_answer(ts))   # answered while we were away: play the code now
        return self._notice(call, [])
