"""What the dispositions part publishes on the bus: each answered call's outcome, for the figures."""

from __future__ import annotations

from dataclasses import dataclass

TOPIC_OUTCOME = "dispositions.outcome"
RECORDED, NOT_RECORDED = "recorded", "not_recorded"


@dataclass(frozen=True, slots=True)
class DispositionOutcome:
    """A call's disposition was recorded, or its wrap-up window passed without one (never guessed)."""

    call_id: str
    agent: str
    queue: str
    line: str                          # cti/specialists.py line id ("public" when on no special line)
    line_name: str
    status: str                        # recorded | not_recorded
    code: str | None = None            # dispositions.choices code when recorded
    name: str | None = None
    online: bool | None = None         # counts as answered online (在线解答)
    request: bool | None = None        # counts as a request (诉求); False: 无效来电
    ended_at: float | None = None      # epoch seconds, the layer's clock; None: recorded during the call
    wrapup_seconds: float | None = None   # call end to disposition (after-call work), seconds
