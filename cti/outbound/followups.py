"""The ``outbound.followup`` message: one finished attempt of a follow-up call (回访), for the monitor."""

from __future__ import annotations

from dataclasses import dataclass

from cti.messages import Rating

TOPIC_FOLLOWUP = "outbound.followup"

# The outcomes of an attempt in which the citizen gave a rating (what became of a "dissatisfied" aside).
SURVEYED, TO_AGENT, FOLLOWUP_TICKET = "surveyed", "to_agent", "followup_ticket"


@dataclass(frozen=True, slots=True)
class FollowupAttempt:
    id: int                           # the follow-up's id (cti.outbound.store)
    # surveyed | to_agent | followup_ticket | no_input | no_answer | busy | congestion | unreachable |
    # invalid_number | failed (cti.outbound.originate)
    outcome: str
    attempts: int                     # calls placed so far, this one included
    state: str                        # done | pending (another attempt later) | exhausted | invalid
    ticket_id: str | None = None      # the followed-up ticket
    rating: Rating | None = None      # given when the citizen rated
    settled: bool | None = None       # "was your request settled?"; None: not answered
