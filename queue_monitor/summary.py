"""A live one-line summary per queue, from AMI events: waiting, answered, abandoned, 15 s rate.

Pure: feed it events and resync snapshots, read figures. The full stats engine (windows, reports,
denominator presets) replaces it on the wallboard; this is what `cti run` prints meanwhile.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from cti.ami.message import AmiMessage


@dataclass
class QueueTally:
    waiting: int = 0
    offered: int = 0
    answered: int = 0
    answered_in_sl: int = 0
    abandoned: int = 0
    timed_out: int = 0

    @property
    def answer_rate(self) -> float | None:
        """Answered within the service level over answered calls (Asterisk's ServicelevelPerf rule)."""
        return None if self.answered == 0 else self.answered_in_sl / self.answered


@dataclass
class LiveSummary:
    service_level: float = 15.0
    queues: dict[str, QueueTally] = field(default_factory=dict)
    _joined: dict[str, tuple[str, float]] = field(default_factory=dict)   # uniqueid -> (queue, join time)
    _abandoned: dict[str, str] = field(default_factory=dict)   # uniqueid -> queue, until its hangup

    def tally(self, queue: str) -> QueueTally:
        return self.queues.setdefault(queue, QueueTally())

    def on_event(self, event: AmiMessage) -> None:
        name = event.name
        if name == "QueueCallerJoin":
            self._joined[event["Uniqueid"]] = (event["Queue"], event.timestamp or 0.0)
            t = self.tally(event["Queue"])
            t.waiting += 1
            t.offered += 1
        elif name == "VarSet" and event.get("Variable") == "QUEUESTATUS" and event.get("Value") == "TIMEOUT":
            # A queue timeout also emits QueueCallerAbandon; the QUEUESTATUS VarSet after it tells.
            queue = self._abandoned.pop(event.get("Uniqueid", ""), None)
            if queue is not None:
                t = self.tally(queue)
                t.abandoned -= 1
                t.timed_out += 1
        elif name == "QueueCallerAbandon":
            self._abandoned[event["Uniqueid"]] = event["Queue"]
            self.tally(event["Queue"]).abandoned += 1
        elif name == "QueueCallerLeave":
            joined = self._joined.get(event["Uniqueid"])
            if joined is not None:
                self.tally(joined[0]).waiting -= 1
        elif name == "AgentConnect":
            joined = self._joined.pop(event["Uniqueid"], None)
            t = self.tally(event["Queue"])
            t.answered += 1
            wait = (event.timestamp or 0.0) - joined[1] if joined else float(event.get("HoldTime", "0") or 0)
            if wait <= self.service_level:
                t.answered_in_sl += 1
        elif name == "Hangup":
            uid = event.get("Uniqueid", "")
            self._joined.pop(uid, None)
            self._abandoned.pop(uid, None)

    def on_resync(self, queue_status: Iterable[AmiMessage]) -> None:
        """Waiting callers are what Asterisk says now; calls we lost track of are forgotten."""
        entries = [m for m in queue_status if m.name == "QueueEntry"]
        live = {m.get("Uniqueid") for m in entries}
        self._joined = {uid: v for uid, v in self._joined.items() if uid in live}
        for m in queue_status:
            if m.name == "QueueParams":
                self.tally(m["Queue"]).waiting = 0
        for m in entries:
            self.tally(m["Queue"]).waiting += 1

    def line(self) -> str:
        parts = []
        for name in sorted(self.queues):
            t = self.queues[name]
            rate = "-" if t.answer_rate is None else f"{100 * t.answer_rate:.1f}%"
            parts.append(f"{name}: 等待 waiting {t.waiting}, 接通 answered {t.answered}, "
                         f"放弃 abandoned {t.abandoned}, 超时 timeout {t.timed_out}, "
                         f"{self.service_level:g}秒接通率 {rate}")
        return " | ".join(parts) or "no queue activity yet"
