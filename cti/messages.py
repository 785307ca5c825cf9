"""Bus messages produced by more than one part: the satisfaction rating and the ticket request.

``Rating`` is the closed set every survey shares (the IVR survey after a call, the follow-up call 回访):
the key the citizen pressed, 1 to 3. ``TicketRequest`` (topic ``tickets.request``) is what call
control and the outbound part send when the tickets part does not run in their process.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

TOPIC_TICKET_REQUEST = "tickets.request"


class Rating(enum.IntEnum):
    """满意度: the survey key; an int on the wire (webhooks, database) so the API keeps 1, 2, 3."""

    SATISFIED = 1
    BASICALLY_SATISFIED = 2
    DISSATISFIED = 3

    @property
    def label(self) -> str:
        """``satisfied``, ``basically_satisfied``, ``dissatisfied``: the CTI_RATING value and figure names."""
        return self.name.lower()

    @property
    def text(self) -> str:
        return _TEXT[self]

    @classmethod
    def from_label(cls, label: str | None) -> Rating | None:
        """The rating a flow's survey node names (``ivr_flows.model.RATINGS``); None for no rating."""
        return cls[label.upper()] if label else None

    @classmethod
    def from_key(cls, key: str | int | None) -> Rating | None:
        """The rating of a pressed key ("1".."3"); None for no key or any other key."""
        try:
            return cls(int(key)) if key not in (None, "") else None
        except ValueError:
            return None


_TEXT = {Rating.SATISFIED: "满意", Rating.BASICALLY_SATISFIED: "基本满意", Rating.DISSATISFIED: "不满意"}


@dataclass(frozen=True, slots=True)
class TicketRequest:
    """The fields of one ticket to make (the keyword arguments of ``TicketService.create``)."""

    request_type: str                 # one of tickets.request_types (consultation, complaint, help...)
    source: str = "agent"             # agent, survey, after_hours, layer...
    caller_number: str = ""           # the full number: the ticket backend needs it
    call_ids: tuple[str, ...] = ()    # AMI uniqueids of the calls behind the request
    hotline: str | None = None        # None: the tickets settings' hotline (12345)
    summary: str = ""
    ivr_path: tuple[str, ...] = ()    # "flow/node" steps
    tags: tuple[str, ...] = ()
    agent: str | None = None
    department: str | None = None     # the department that owns the request
    urgency: str = "normal"           # normal | urgent
    recording_ref: str | None = None
    rating: Rating | None = None

    def create_kwargs(self) -> dict:
        """``TicketService.create(**request.create_kwargs())``: lists and a plain int rating."""
        return {"request_type": self.request_type, "source": self.source, "caller_number": self.caller_number,
                "call_ids": list(self.call_ids), "hotline": self.hotline, "summary": self.summary,
                "ivr_path": list(self.ivr_path), "tags": list(self.tags), "agent": self.agent,
                "department": self.department, "urgency": self.urgency, "recording_ref": self.recording_ref,
                "rating": None if self.rating is None else int(self.rating)}
