"""Department legs and each department's own 15-second answer rate (pure: legs in, figures out).

A transferred or three-way call stays one call of the 12345 queue (the queue events count it once);
the department's leg is counted here, on its hotline, from the ringing to the answer Timestamps.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

TOPIC_DEPARTMENT_LEG = "calls.department_leg"
SPECIALIST_KIND = "specialist"   # a policy specialist's three-way leg: number is the specialist's id


@dataclass(frozen=True)
class DepartmentLeg:
    call_id: str
    number: str
    owner: str
    kind: str                      # threeway | blind | specialist | test (拨测, cti.outbound)
    emergency: bool
    ringing_at: float              # AMI Timestamp
    answer_seconds: float | None   # None: not answered
    outcome: str                   # the transfer's end state

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class HotlineFigures:
    number: str
    owner: str = ""
    offered: int = 0
    answered: int = 0
    answered_15s: int = 0
    answer_seconds_total: float = 0.0

    @property
    def answer_rate_15s(self) -> float | None:
        return self.answered_15s / self.offered if self.offered else None

    def as_dict(self) -> dict:
        mean = self.answer_seconds_total / self.answered if self.answered else None
        rate = self.answer_rate_15s
        return {"number": self.number, "owner": self.owner, "offered": self.offered, "answered": self.answered,
                "answered_15s": self.answered_15s, "answer_rate_15s": None if rate is None else round(rate, 4),
                "mean_answer_seconds": None if mean is None else round(mean, 3)}


class DepartmentStats:
    """Per hotline: legs offered, answered, answered within ``service_level`` seconds."""

    def __init__(self, service_level: float = 15.0) -> None:
        self.service_level = service_level
        self.hotlines: dict[str, HotlineFigures] = {}

    def add(self, leg: DepartmentLeg) -> None:
        if leg.outcome in ("cancelled", "failed"):
            return   # the agent withdrew before the department had its chance
        f = self.hotlines.setdefault(leg.number, HotlineFigures(leg.number, leg.owner))
        f.offered += 1
        if leg.answer_seconds is not None:
            f.answered += 1
            f.answer_seconds_total += leg.answer_seconds
            if leg.answer_seconds <= self.service_level:
                f.answered_15s += 1

    def as_list(self) -> list[dict]:
        return [f.as_dict() for f in sorted(self.hotlines.values(), key=lambda f: f.number)]
