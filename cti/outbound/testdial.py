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


# What a test call's end state means, as the desk reads it (reasons of cti.outbound.originate).
OUTCOME_TEXT = {
    "no_answer": ("无人接听", "not answered"), "busy": ("占线", "busy"),
    "congestion": ("线路拥塞", "network congested"), "unreachable": ("无法接通(线路不可达)", "unreachable"),
    "invalid_number": ("空号", "number does not exist"), "failed": ("呼叫失败", "call could not be placed"),
}


@dataclass
class TestDialBook:
    service_level: float = 15.0
    alert_after: int = 2
    stats: DepartmentStats = field(init=False)
    streak: dict[str, int] = field(default_factory=dict)      # number -> consecutive failures
    failures: dict[str, dict[str, int]] = field(default_factory=dict)   # number -> {outcome: test calls}

    def __post_init__(self) -> None:
        self.stats = DepartmentStats(self.service_level)

    def add(self, leg: DepartmentLeg) -> TestDialAlert | None:
        """Count the result; return an alert when this failure makes ``alert_after`` in a row."""
        self.stats.add(leg)
        if leg.answer_seconds is not None:
            self.streak[leg.number] = 0
            return None
        kinds = self.failures.setdefault(leg.number, {})
        kinds[leg.outcome] = kinds.get(leg.outcome, 0) + 1
        n = self.streak[leg.number] = self.streak.get(leg.number, 0) + 1
        if n != self.alert_after:
            return None   # once per streak: the desk is told, not flooded
        zh, en = OUTCOME_TEXT.get(leg.outcome, ("未接通", leg.outcome))
        return TestDialAlert(leg.number, leg.owner, n, leg.outcome,
                             f"拨测告警：{leg.owner}热线 {leg.number} 连续{n}次未接通，最近一次：{zh} "
                             f"(department hotline failed {n} test calls in a row, the last one: {en})")

    def as_list(self) -> list[dict]:
        """Per number: DepartmentStats' figures, the current run of failures, and the unanswered test calls
        by what they were (``failures``: no_answer, busy, congestion, unreachable...)."""
        return [f | {"consecutive_failures": self.streak.get(f["number"], 0),
                     "failures": dict(self.failures.get(f["number"], {}))} for f in self.stats.as_list()]
