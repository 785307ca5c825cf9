"""110 linkage counts (pure): 110->12345 hand-overs from the dialplan's UserEvent, 12345->110 from cti.calls.

``UserEvent(CTILinkage,Source: 110,...)`` is raised by the 110 hand-over DID of extensions_cti.conf; an
agent's emergency transfer to 110 is a ``calls.transfer`` message with ``emergency`` true. Each hand-over,
counted once, goes out as a :class:`Handover` on ``outbound.linkage``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cti.calls.messages import TransferUpdate

TOPIC_LINKAGE = "outbound.linkage"
FROM_110 = "from_110"
TO_110 = "to_110"


@dataclass(frozen=True)
class Handover:
    direction: str       # from_110 | to_110
    call_id: str         # the citizen's AMI uniqueid
    at: float            # epoch seconds (the AMI Timestamp for from_110)
    outcome: str = ""    # queued (from_110) or the transfer's state when asked (to_110)


@dataclass
class LinkageCounter:
    numbers: frozenset[str] = frozenset({"110"})
    from_110: int = 0
    to_110: int = 0
    _seen: set[str] = field(default_factory=set)

    def on_ami_event(self, msg) -> Handover | None:
        if msg.name != "UserEvent" or msg.get("UserEvent") != "CTILinkage" or msg.get("Source") != "110":
            return None
        uid = msg.get("Uniqueid", "")
        if f"in:{uid}" in self._seen:
            return None
        self._seen.add(f"in:{uid}")
        self.from_110 += 1
        return Handover(FROM_110, uid, msg.event_time or 0.0, "queued")   # Timestamp, else time of receipt

    def on_transfer(self, update: TransferUpdate, now: float) -> Handover | None:
        """Counted once per transfer, when the agent asks for it (the state machine publishes each state)."""
        if not update.emergency or update.number not in self.numbers:
            return None
        key = f"out:{update.id}"
        if key in self._seen:
            return None
        self._seen.add(key)
        self.to_110 += 1
        return Handover(TO_110, update.call_id, now, update.state)

    def as_dict(self) -> dict:
        return {"from_110": self.from_110, "to_110": self.to_110}
