"""What call control publishes on the bus (topics ``calls.*``); the agent's WebSocket sends ``to_json()``.

``calls.department_leg`` carries :class:`cti.calls.stats.DepartmentLeg`; an after-hours request that
no tickets part in this process takes goes out as :class:`cti.messages.TicketRequest`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from cti.messages import TicketRequest

TOPIC_SCREEN_POP = "calls.screen_pop"
TOPIC_TRANSFER = "calls.transfer"
TOPIC_AFTER_HOURS = "calls.after_hours_request"
TOPIC_CALL_ENDED = "calls.call_ended"
TOPIC_SPECIALIST_LEG = "calls.specialist_leg"


@dataclass(frozen=True, slots=True)
class ScreenPop:
    """The caller's context for the agent who answered (弹屏)."""

    agent: str
    call_id: str                       # the citizen's AMI uniqueid
    caller: str
    caller_name: str
    hotline: str                       # the number dialled: 12345 or a direct-merged hotline
    hotline_name: str
    queue: str
    wait_seconds: float                # in the queue, seconds
    ivr_path: tuple[str, ...]          # "flow/node: event"
    ivr_keys: str                      # keys pressed, comma-separated
    tags: tuple[str, ...]
    ivr_outcome: str | None
    previous_calls: tuple[dict, ...]   # the caller's earlier calls, newest first (JSON objects)
    transfer: dict | None              # a transfer still in progress on the call (Transfer.as_dict())

    def to_json(self) -> dict:
        return {"type": "screen_pop", **asdict(self)}


@dataclass(frozen=True, slots=True)
class TransferUpdate:
    """A transfer's new state (``cti.calls.transfer.Transfer.as_dict()`` plus the agent it concerns)."""

    id: str
    call_id: str
    agent: str
    kind: str                          # threeway | blind
    number: str                        # the department hotline
    hotline_name: str
    owner: str
    emergency: bool
    state: str
    done: bool
    reason: str
    recipient_channel: str             # the department leg's channel, "" before it rings
    answer_seconds: float | None       # ringing to answer, seconds; None: not answered
    specialist: dict | None = None     # a policy specialist's leg: {id, name, department, field, line}

    def to_json(self) -> dict:
        return {"type": "transfer", **asdict(self)}


@dataclass(frozen=True, slots=True)
class CallEnded:
    """The citizen's call that an agent answered is over (the citizen's queue channel hung up)."""

    agent: str                         # the agent who answered it
    call_id: str                       # the citizen's AMI uniqueid, as in the screen pop
    # what the call was, for its disposition (话后小结, cti/dispositions): its line follows queue and tags
    caller: str = ""
    queue: str = ""
    hotline: str = ""
    tags: tuple[str, ...] = ()
    connected_at: float | None = None  # Asterisk's clock, epoch seconds
    ended_at: float = 0.0              # the layer's clock (time.time()) when the end was heard, epoch seconds

    def to_json(self) -> dict:
        return {"type": "call_ended", **asdict(self)}


@dataclass(frozen=True, slots=True)
class AfterHoursRequest:
    """An agent asked for a parallel-merged department after hours: refused, a ticket is made instead."""

    number: str                        # the department hotline asked for
    ticket: TicketRequest


@dataclass(frozen=True, slots=True)
class SpecialistLeg:
    """A policy specialist's leg of a three-way call ended, answered or not (issue 21; iface21.md).

    Times are epoch seconds from the switch's own Timestamps (ringing, answer, the leg's end); the answer
    wait is ringing to answer, the figure the 15 s answer rate counts (queue_monitor/departments.py).
    """

    call_id: str                       # the citizen's AMI uniqueid
    specialist_id: str                 # config/specialists.yaml id
    specialist_name: str
    department: str
    field: str                         # the field the agent asked for (税务, 社保...)
    line: str                          # the call's line id (enterprise, talent, public)
    answered: bool
    answer_seconds: float | None       # ringing to answer, seconds; None: not answered
    started_at: float                  # the leg began ringing
    ended_at: float                    # the leg's transfer reached its end state
