"""Event streams of the layer's AMI user, normalised so the real Asterisk's and the simulator's compare.

A stream is cut into parties (who an event is about): the citizen's channel, the citizen's phone (the
``;1`` half of the Originate), each agent's queue leg and phone, each department leg, each queue member
(by Interface). Per party it keeps, in order, the event name and the key fields (Queue, Interface,
Variable/Value, UserEvent fields, DestType, Cause, DialStatus, QueueStatus) and the event's time in
seconds from the scenario's first event. ``compare`` returns a readable diff (scenario, party, expected
from the real switch, got from the simulator), empty when they agree.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

KEY_FIELDS = ("Queue", "Interface", "Variable", "Value", "DestType", "Cause", "DialStatus")
# Items of a list answer (QueueStatus, CoreShowChannels after a reconnect): what the layer rebuilds from
LIST_FIELDS = ("Queue", "Application", "ChannelState", "Position", "Calls", "Status", "InCall", "Paused")
# A channel snapshot's fields: not compared (names, ids and states differ by construction)
SNAPSHOT = re.compile(r"^(Dest|Transferer|Transferee|SecondTransferer|LocalOne|LocalTwo|Source|Orig|Target)?"
                      r"(Channel|ChannelState|ChannelStateDesc|CallerIDNum|CallerIDName|ConnectedLineNum|"
                      r"ConnectedLineName|Language|AccountCode|Context|Exten|Priority|Uniqueid|Linkedid)$")
LOCAL = re.compile(r"^Local/(?P<exten>[^@]+)@(?P<ctx>.+)-[0-9a-f]{8};(?P<half>[12])$")
CITIZEN_CONTEXTS = ("cti-inbound", "test-queue", "test-queue-named")
MARKER = "ParityMark"
# Events Asterisk publishes on a topic of their own, so their place among a channel's other events varies
# from run to run on the real switch (AgentComplete: app_queue's topic, seen before, between or after the
# BridgeLeave/VarSet/UserEvent; OriginateResponse: the originating thread, before or after DialEnd). Each
# is compared in a lane of its own beside its party.
OWN_LANE = {"AgentComplete": "queue topic", "OriginateResponse": "originate thread"}
# seconds: the same event on both may differ by scheduling (the simulator shares the test's event loop, which
# a loaded CI machine stalls), not by a rule; the rules the scenarios check differ by 3 s or more
TIME_TOLERANCE = 1.5


@dataclass(frozen=True)
class Step:
    name: str
    fields: tuple[tuple[str, str], ...]
    at: float

    def text(self) -> str:
        return self.name + "".join(f" {k}={v}" for k, v in self.fields)


def role(channel: str) -> str:
    """The party a channel name stands for, without its per-call sequence number."""
    m = LOCAL.match(channel)
    if not m:
        return channel
    exten, ctx, half = m["exten"], m["ctx"], m["half"]
    if ctx in CITIZEN_CONTEXTS:
        return "citizen" if half == "2" else "citizen phone"
    if ctx == "agents":
        return f"agent {exten} queue leg" if half == "1" else f"agent {exten} phone"
    if ctx == "test-dept":
        return f"department {exten} phone ;{half}"
    return f"{ctx} {exten} ;{half}"


def normalise(frames: list[list[tuple[str, str]]]) -> dict[str, list[Step]]:
    """Per party, the events of ``frames`` (a scenario's slice of the layer user's stream)."""
    pairs_of = {}
    events = []
    for f in frames:
        if f and f[0][0] == "Event":
            e = dict(f)
            if not (e["Event"] == "UserEvent" and e.get("UserEvent") == MARKER):
                pairs_of[id(e)] = f
                events.append(e)
    if not events:
        return {}
    # Which half of an optimised Local pair gets a HangupRequest varies from run to run on the real switch
    # (seen: the ;2 half once, the ;1 half another time): those are not compared.
    optimised = {e.get(k) for e in events if e["Event"] == "LocalOptimizationBegin"
                 for k in ("LocalOneChannel", "LocalTwoChannel")}
    events = [e for e in events if not (e["Event"] == "HangupRequest" and e.get("Channel") in optimised)]
    # At a restart every channel is hung up at once: which half of a Local pair shows a HangupRequest (cause 0)
    # varies from run to run on the real switch. Not compared when the stream holds a Shutdown.
    if any(e["Event"] == "Shutdown" for e in events):
        events = [e for e in events if not (e["Event"] == "HangupRequest" and e.get("Cause") == "0")]
    # A phone's Busy() sets state Busy (7) while the dialler, told busy, already hangs it up: the Newstate comes
    # before or after that HangupRequest from run to run on the real switch. Not compared.
    events = [e for e in events if not (e["Event"] == "Newstate" and e.get("ChannelState") == "7")]
    start = min(float(e["Timestamp"]) for e in events if e.get("Timestamp")) if any(
        e.get("Timestamp") for e in events) else 0.0
    names: dict[str, str] = {}        # channel name -> party (role#n in order of appearance)
    counts: dict[str, int] = {}
    by_uid: dict[str, str] = {}

    caller_of: dict[str, str] = {}    # a citizen's channels are told apart by the caller's number
    for e in events:
        for prefix in ("", "Dest"):
            ch, num = e.get(prefix + "Channel"), e.get(prefix + "CallerIDNum", "<unknown>")
            if ch and num != "<unknown>" and ch not in caller_of:
                caller_of[ch] = num

    def party(channel: str) -> str:
        if channel not in names:
            r = role(channel)
            if r.startswith("citizen") and channel in caller_of:
                r = f"{r} {caller_of[channel]}"
            counts[r] = counts.get(r, 0) + 1
            names[channel] = f"{r}#{counts[r]}"
        return names[channel]

    for e in events:   # name every channel in order of first appearance, and map uniqueids to parties
        for prefix in ("", "Dest"):
            ch = e.get(prefix + "Channel")
            if ch:
                p = party(ch)
                if e.get(prefix + "Uniqueid"):
                    by_uid[e[prefix + "Uniqueid"]] = p
    out: dict[str, list[Step]] = {}
    for e in events:
        name = e["Event"]
        if e.get("Channel"):
            who = names[e["Channel"]]
        elif e.get("DestChannel"):
            who = names[e["DestChannel"]]
        elif e.get("Interface"):
            who = f"member {e['Interface']}"
        else:
            who = "switch"
        if name == "UserEvent":   # the dialplan's own fields follow the channel snapshot, from UserEvent on
            pairs = pairs_of[id(e)]
            first = next(i for i, (k, _) in enumerate(pairs) if k == "UserEvent")
            fields = [(k, by_uid.get(v, v) if k == "Uniqueid" else v) for k, v in pairs[first:]]
        elif "ActionID" in e:   # an item of a list answer
            fields = [(k, e[k]) for k in LIST_FIELDS if k in e]
        else:   # a value naming a channel (TRANSFERERNAME) names its party: sequence numbers differ
            fields = [(k, names.get(e[k], e[k]) if k == "Value" else e[k]) for k in KEY_FIELDS if k in e]
        if name == "AgentComplete":   # it may lack the caller's fields (once the caller is gone): by member
            who = f"member {e.get('Interface', '')} [{OWN_LANE[name]}]"
        elif name in OWN_LANE:
            who = f"{who} [{OWN_LANE[name]}]"
        at = float(e.get("Timestamp", start) or start) - start
        out.setdefault(who, []).append(Step(name, tuple(fields), round(at, 3)))
    return out


def compare(scenario: str, expected: dict[str, list[Step]], got: dict[str, list[Step]],
            tolerance: float = TIME_TOLERANCE) -> str:
    """A readable report of every difference, empty when none: per party the event lines (name and key
    fields) must be equal and in the same order, and each pair's times within ``tolerance`` seconds."""
    report = []
    for who in sorted(set(expected) | set(got)):
        want, have = expected.get(who, []), got.get(who, [])
        a, b = [s.text() for s in want], [s.text() for s in have]
        if a != b:
            diff = "\n".join(difflib.unified_diff(a, b, "real Asterisk", "simulator", lineterm="", n=20))
            report.append(f"scenario {scenario}, party {who}:\n  expected (real): {a}\n  got (simulator): {b}\n"
                          f"{diff}")
            continue
        late = [f"{x.text()}: real {x.at:.2f} s, simulator {y.at:.2f} s" for x, y in zip(want, have, strict=True)
                if abs(x.at - y.at) > tolerance]
        if late:
            report.append(f"scenario {scenario}, party {who}: times differ by more than {tolerance} s:\n  "
                          + "\n  ".join(late))
    return "\n\n".join(report)


def render(streams: dict[str, list[Step]]) -> str:
    """One party per block, one event per line with its time: for a failure message or a look by eye."""
    return "\n".join(f"{who}:\n" + "\n".join(f"  {s.at:7.2f} {s.text()}" for s in steps)
                     for who, steps in sorted(streams.items()))
