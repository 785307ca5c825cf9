"""Outcome of our own Originates, from AMI events (pure): answered with its ring time, or why not.

A Local channel ``Local/<number>@<context>-XXXX;1`` is created at once and its peer starts ringing;
its ``Newstate`` to Up (6) marks the answer, a Hangup of the ;1 half before that marks the failure, and
its ``Cause`` says which (:func:`reason_of`). ``OriginateResponse`` is no event for us: panoramisk hands it
to the action's ActionID. Channels are matched by their base name.

The cause is the one the shipped dialplan hangs the ;2 half up with after Dial() (extensions_cti.conf
[cti-dial-cause]; Asterisk 22 passes it to the ;1 half unchanged, seen on the real switch): 17 busy,
19 no answer, 34 congested, 66 unreachable (no such channel technology, e.g. "No channel type registered
for 'PJSIP'"), or the network's own Q.850 cause of a CHANUNAVAIL / CONGESTION.
"""

from __future__ import annotations

from dataclasses import dataclass

ANSWERED, NO_ANSWER, BUSY, CONGESTION, UNREACHABLE, INVALID_NUMBER, FAILED = (
    "answered", "no_answer", "busy", "congestion", "unreachable", "invalid_number", "failed")

# Q.850 causes by what they mean for a call we placed (ITU-T Q.850 table 1; Asterisk's causes.h).
_BY_CAUSE = {
    **dict.fromkeys((0, 16, 18, 19, 31), NO_ANSWER),    # nobody picked up (0/16/31: ended without a reason)
    **dict.fromkeys((17, 21), BUSY),                     # user busy, call rejected: the phone was reached
    **dict.fromkeys((34, 41, 42, 44, 47), CONGESTION),   # no circuit, temporary failure, switch congested
    **dict.fromkeys((1, 22, 28), INVALID_NUMBER),        # unallocated, number changed, invalid format
}


def reason_of(cause: str | int | None) -> str:
    """What the Hangup ``Cause`` of an unanswered call of ours means: no_answer | busy | congestion |
    invalid_number | unreachable (every other cause: 66 no such technology, 20 subscriber absent,
    3 no route, 27 destination out of order, 38 network out of order...)."""
    try:
        code = int(cause or 0)
    except ValueError:
        return NO_ANSWER
    return _BY_CAUSE.get(code, UNREACHABLE)


@dataclass
class Pending:
    key: str                         # what the caller of track() wants back
    base: str                        # Local/<number>@<context>
    created_at: float | None = None  # AMI Timestamp of the ;1 Newchannel (ringing starts there)
    answered_at: float | None = None
    channel: str = ""


@dataclass(frozen=True)
class Outcome:
    key: str
    answered: bool
    reason: str                      # answered | no_answer | busy | congestion | unreachable | invalid_number | failed
    ringing_at: float | None
    answer_seconds: float | None
    channel: str = ""
    cause: int | None = None         # the Hangup's Q.850 cause of an unanswered call


def base_of(channel: str) -> str:
    name = channel.rsplit(";", 1)[0]
    head, sep, tail = name.rpartition("-")
    return head if sep and all(c in "0123456789abcdef" for c in tail.lower()) else name


class OriginateTracker:
    def __init__(self) -> None:
        self.pending: dict[str, Pending] = {}

    def track(self, key: str, number: str, context: str) -> None:
        base = f"Local/{number}@{context}"
        self.pending[base] = Pending(key, base)

    def unstarted(self, key: str) -> bool:
        """Still waiting for the call's first channel (so no Hangup will ever report it)."""
        return any(p.key == key and p.created_at is None for p in self.pending.values())

    def forget(self, key: str) -> None:
        for base, p in list(self.pending.items()):
            if p.key == key:
                del self.pending[base]

    def feed(self, msg) -> Outcome | None:
        name = msg.name
        if name == "Newchannel":
            p = self.pending.get(base_of(msg.get("Channel", "")))
            if p is not None and p.created_at is None and msg.get("Channel", "").endswith(";1"):
                # event_time: the Timestamp, or the time of receipt when Asterisk does not stamp events
                p.created_at, p.channel = msg.event_time, msg.get("Channel", "")
            return None
        if name == "Newstate" and msg.get("ChannelState") == "6":
            channel = msg.get("Channel", "")
            p = self.pending.get(base_of(channel))
            if p is None or p.channel != channel:
                return None
            p.answered_at = msg.event_time
            seconds = None if p.created_at is None or p.answered_at is None else max(0.0, p.answered_at - p.created_at)
            del self.pending[p.base]
            return Outcome(p.key, True, ANSWERED, p.created_at, seconds, channel)
        if name == "Hangup":
            channel = msg.get("Channel", "")
            p = self.pending.get(base_of(channel))
            if p is None or p.channel != channel:
                return None
            del self.pending[p.base]
            cause = msg.get("Cause") or ""
            return Outcome(p.key, False, reason_of(cause), p.created_at, None,
                           cause=int(cause) if cause.isdigit() else None)
        return None
