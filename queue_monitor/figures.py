"""Counters of queue calls and the figures derived from them (rates, averages), under explicit definitions.

Pure and shared by the live engine and the reports, so a live figure and a report figure computed
from the same calls are the same number.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Literal

Denominator = Literal["answered", "offered", "offered_minus_short_abandons", "asterisk_sl2"]
Rounding = Literal["exact", "asterisk"]

DENOMINATOR_LABELS = {
    "answered": "接通量 answered (Asterisk ServicelevelPerf)",
    "offered": "呼入量 offered = answered + abandoned + timed out",
    "offered_minus_short_abandons": "呼入量减短时放弃 offered minus short abandons",
    "asterisk_sl2": "Asterisk ServicelevelPerf2 (abandons within the level count as met)",
}
ROUNDING_LABELS = {   # {n}: the service level (15), {m}: the short one (10), in seconds
    "exact": "精确 exact: 等待 wait <= {n:.1f} s / {m:.1f} s, from the event Timestamps",
    "asterisk": "Asterisk 整秒 whole seconds: int(answer) - int(join) <= {n:g} / {m:g}",
}


@dataclass(frozen=True)
class Definitions:
    """What a figure means; every report and the wallboard states these."""

    service_level: float = 15.0          # seconds: the headline 15-second answer rate
    short_service_level: float = 10.0    # seconds: the 10-second answer rate
    short_abandon: float = 5.0           # seconds: an abandon shorter than this is a short abandon
    denominator: Denominator = "offered_minus_short_abandons"
    rounding: Rounding = "exact"

    def waited(self, start: float, end: float) -> float:
        """The wait compared against the thresholds, under the rounding rule."""
        if self.rounding == "asterisk":
            return float(int(end) - int(start))  # Asterisk compares time_t seconds
        return end - start

    def describe(self) -> dict:
        return {"service_level": self.service_level, "short_service_level": self.short_service_level,
                "short_abandon": self.short_abandon, "denominator": self.denominator,
                "denominator_label": DENOMINATOR_LABELS[self.denominator], "rounding": self.rounding,
                "rounding_label": ROUNDING_LABELS[self.rounding].format(n=self.service_level, m=self.short_service_level)}


@dataclass(slots=True)
class Tally:
    """Counters of finished queue waits over some period; merging two tallies adds them."""

    answered: int = 0
    answered_15s: int = 0        # within Definitions.service_level
    answered_10s: int = 0        # within Definitions.short_service_level
    abandoned: int = 0
    short_abandoned: int = 0
    timed_out: int = 0
    unanswered_15s: int = 0      # abandons and timeouts within the service level (ServicelevelPerf2)
    unanswered_10s: int = 0
    wait_sum: float = 0.0        # exact waits of answered calls
    wait_max: float = 0.0
    talk_count: int = 0
    talk_sum: float = 0.0
    talk_max: float = 0.0

    def add_answered(self, defs: Definitions, join: float, connect: float) -> None:
        waited = defs.waited(join, connect)
        self.answered += 1
        self.answered_15s += waited <= defs.service_level
        self.answered_10s += waited <= defs.short_service_level
        wait = connect - join
        self.wait_sum += wait
        if wait > self.wait_max:
            self.wait_max = wait

    def add_unanswered(self, defs: Definitions, outcome: str, join: float, left: float) -> None:
        waited = defs.waited(join, left)
        if outcome == "timeout":
            self.timed_out += 1
        else:
            self.abandoned += 1
            self.short_abandoned += waited < defs.short_abandon
        self.unanswered_15s += waited <= defs.service_level
        self.unanswered_10s += waited <= defs.short_service_level

    def add_talk(self, seconds: float) -> None:
        self.talk_count += 1
        self.talk_sum += seconds
        if seconds > self.talk_max:
            self.talk_max = seconds

    def merge(self, other: Tally) -> Tally:
        for f in _NUMERIC:
            if f in ("wait_max", "talk_max"):
                setattr(self, f, max(getattr(self, f), getattr(other, f)))
            else:
                setattr(self, f, getattr(self, f) + getattr(other, f))
        return self

    @property
    def offered(self) -> int:
        return self.answered + self.abandoned + self.timed_out

    def answer_rate(self, defs: Definitions, within: Literal["15s", "10s"] = "15s") -> float | None:
        met = self.answered_15s if within == "15s" else self.answered_10s
        if defs.denominator == "answered":
            den = self.answered
        elif defs.denominator == "offered":
            den = self.offered
        elif defs.denominator == "offered_minus_short_abandons":
            den = self.offered - self.short_abandoned
        else:  # asterisk_sl2
            met += self.unanswered_15s if within == "15s" else self.unanswered_10s
            den = self.offered
        return None if den <= 0 else met / den

    def figures(self, defs: Definitions) -> dict:
        """The published figures of this tally (rates as fractions, times in seconds)."""
        return {
            "offered": self.offered, "answered": self.answered,
            "answered_15s": self.answered_15s, "answered_10s": self.answered_10s,
            "abandoned": self.abandoned, "short_abandoned": self.short_abandoned, "timed_out": self.timed_out,
            "answer_rate_15s": self.answer_rate(defs, "15s"), "answer_rate_10s": self.answer_rate(defs, "10s"),
            "average_wait": self.wait_sum / self.answered if self.answered else None,
            "longest_answered_wait": self.wait_max,
            "average_talk": self.talk_sum / self.talk_count if self.talk_count else None,
            "longest_talk": self.talk_max, "talk_count": self.talk_count,
        }


_NUMERIC = [f.name for f in fields(Tally)]


def count(tally: Tally, defs: Definitions, kind: str, args: tuple) -> None:
    """Apply one counter change (``answered`` / ``unanswered`` / ``talk``, the arguments of Tally's
    add_* method) to ``tally``: what queue_monitor.reports.contributions yields."""
    if kind == "answered":
        tally.add_answered(defs, *args)
    elif kind == "talk":
        tally.add_talk(*args)
    else:
        tally.add_unanswered(defs, *args)


@dataclass
class AgentCounts:
    logged_in: int = 0
    available: int = 0
    talking: int = 0
    ringing: int = 0
    paused: int = 0
    wrapup: int = 0
    busy: int = 0          # the phone is in use, busy or on hold, not with a queue call we follow
    unknown: int = 0       # device state unknown (0) or undocumented: not available
    pause_reasons: dict[str, int] = field(default_factory=dict)
