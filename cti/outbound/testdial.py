"""Test dialing (拨测) of the parallel-merged department hotlines (pure core: results in, figures and alerts out).

Each result is a :class:`cti.calls.stats.DepartmentLeg` with ``kind="test"`` (that record has no
test-call flag), published on ``outbound.test_dial`` so the monitor can show the department's 15-second
answer rate with and without test calls; two failures in a row publish ``outbound.alert``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cti.calls.stats import DepartmentLeg, DepartmentStats

TOPIC_TEST_DIAL = "outbound.test_dial"
TOPIC_ALERT = "outbound.alert"
TEST_KIND = "test"


@dataclass(frozen=True, slots=True)
class TestDialAlert:
    """A department hotline failed ``failures`` test calls in a row (拨测告警)."""

    number: str
    owner: str
    failures: int
    last_outcome: str      # the last test call's end state (no_answer, busy, failed...)
    text: str              # the alert as the desk reads it, Chinese and English


@dataclass
class TestDialBook:
    service_level: float = 15.0
    alert_after: int = 2
    stats: DepartmentStats = field(init=False)
    streak: dict[str, int] = field(default_factory=dict)      # number -> consecutive failures

    def __post_init__(self) -> None:
        self.stats = DepartmentStats(self.service_level)

    def add(self, leg: DepartmentLeg) -> TestDialAlert | None:
        """Count the result; return an alert when this failure makes ``alert_after`` in a row."""
        self.stats.add(leg)
        if leg.answer_seconds is not None:
            self.streak[leg.number] = 0
            return None
        n = self.streak[leg.number] = self.streak.get(leg.number, 0) + 1
        if n != self.alert_after:
            return None   # once per streak: the desk is told, not flooded
        return TestDialAlert(leg.number, leg.owner, n, leg.outcome,
                             f"拨测告警：{leg.owner}热线 {leg.number} 连续{n}次未接通 "
                             f"(department hotline failed to answer {n} test calls in a row)")

    def as_list(self) -> list[dict]:
        return [f | {"consecutive_failures": self.streak.get(f["number"], 0)} for f in self.stats.as_list()]
