"""Outcome of our own Originates, from AMI events (pure): answered with its ring time, or why not.

A Local channel ``Local/<number>@<context>-XXXX;1`` is created at once and its peer starts ringing;
its ``Newstate`` to Up (6) marks the answer, a Hangup of the ;1 half before that marks the failure (cause
17: busy). ``OriginateResponse`` is no event for us: panoramisk hands it to the action's ActionID.
Channels are matched by their base name.
"""

from __future__ import annotations

from dataclasses import dataclass


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
    reason: str                      # answered | no_answer | busy | congestion | failed
    ringing_at: float | None
    answer_seconds: float | None
    channel: str = ""


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
                p.created_at, p.channel = msg.timestamp, msg.get("Channel", "")
            return None
        if name == "Newstate" and msg.get("ChannelState") == "6":
            channel = msg.get("Channel", "")
            p = self.pending.get(base_of(channel))
            if p is None or p.channel != channel:
                return None
            p.answered_at = msg.timestamp
            seconds = None if p.created_at is None or p.answered_at is None else max(0.0, p.answered_at - p.created_at)
            del self.pending[p.base]
            return Outcome(p.key, True, "answered", p.created_at, seconds, channel)
        if name == "Hangup":
            channel = msg.get("Channel", "")
            p = self.pending.get(base_of(channel))
            if p is None or p.channel != channel:
                return None
            del self.pending[p.base]
            reason = "busy" if msg.get("Cause") == "17" else "no_answer"
            return Outcome(p.key, False, reason, p.created_at, None)
        return None
