"""Follow-up call figures (回访): outbound follow-up calls placed, answered, surveyed, not answered, follow-ups
whose attempts ran out, and the citizens' ratings (满意/基本满意/不满意, 已解决/未解决), counted per period;
pure, shared by the live wall and the reports.

One record per finished attempt, as ``outbound.followup`` tells it; an attempt counts in the period containing
the moment the monitor heard of it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from cti.messages import Rating
from cti.outbound.followups import FOLLOWUP_TICKET, SURVEYED, TO_AGENT, FollowupAttempt
from queue_monitor.tally import CountBoard, merge_counts

RATED = frozenset({SURVEYED, TO_AGENT, FOLLOWUP_TICKET})   # the outcomes of an attempt with a rating
ANSWERED_UNRATED = frozenset({"no_input"})   # answered, hung up or keyed nothing before rating
RATINGS = {int(r): r.label for r in Rating}
FIGURES = ("placed", "answered", "surveyed", "no_answer", "exhausted",
           "satisfied", "basically_satisfied", "dissatisfied", "settled_yes", "settled_no")
LABELS = {"placed": "回访外呼 calls placed", "answered": "接听 answered", "surveyed": "完成回访 surveyed",
          "no_answer": "未接通 not answered", "exhausted": "多次未接通 attempts exhausted",
          "satisfied": "满意 satisfied", "basically_satisfied": "基本满意 basically satisfied",
          "dissatisfied": "不满意 dissatisfied", "settled_yes": "已解决 settled", "settled_no": "未解决 not settled"}


@dataclass(frozen=True, slots=True)
class FollowupRecord:
    followup_id: str
    attempt: int          # which attempt of the follow-up ended (1, 2, ...); 0 when not told
    outcome: str          # surveyed | to_agent | followup_ticket | no_input | no_answer | busy | failed ...
    exhausted: bool       # this attempt was the last one allowed and nobody answered
    rating: int | None    # 1 satisfied, 2 basically satisfied, 3 dissatisfied
    settled: bool | None
    at: float             # Asterisk clock


def record_from(attempt: FollowupAttempt, at: float) -> FollowupRecord | None:
    """The record of an ``outbound.followup`` message, None when it has no outcome."""
    if not attempt.outcome:
        return None
    return FollowupRecord(str(attempt.id), attempt.attempts, attempt.outcome, attempt.state == "exhausted",
                          None if attempt.rating is None else int(attempt.rating), attempt.settled, at)


def counts(records: Iterable[FollowupRecord], start: float, end: float) -> dict[str, int]:
    out = dict.fromkeys(FIGURES, 0)
    for r in records:
        if not start <= r.at < end:
            continue
        out["placed"] += 1
        rated = r.outcome in RATED and r.rating is not None
        if rated or r.outcome in ANSWERED_UNRATED:
            out["answered"] += 1
        else:
            out["no_answer"] += 1
        out["exhausted"] += r.exhausted
        if rated:
            out["surveyed"] += 1
            out[RATINGS[r.rating]] += 1
            if r.settled is not None:
                out["settled_yes" if r.settled else "settled_no"] += 1
    return out


def report_section(records: Iterable[FollowupRecord], start: float, end: float) -> dict:
    return {"followups": counts(records, start, end) | {"labels": dict(LABELS)}}


class FollowupBoard(CountBoard):
    """The live follow-up counts per window and since local midnight; an attempt heard twice counts once."""

    def __init__(self, windows: dict[str, float], timezone: str = "Asia/Shanghai") -> None:
        super().__init__(windows, timezone, key=lambda r: (r.followup_id, r.attempt) if r.attempt else None,
                         count=counts, labels=LABELS)


def merge_followups(snaps: Iterable[dict | None]) -> dict:
    """Several instances' follow-up counts summed per window."""
    return merge_counts(snaps, FIGURES, LABELS)
