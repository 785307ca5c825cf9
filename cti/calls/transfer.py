"""A transfer as a small state machine: roles, one method per event, an idempotent end.

Roles (as in wazo-calld): the *initiator* is the agent, the *transferred* party the citizen, the
*recipient* the department hotline. The machine is pure: each event method returns the effects the
controller must carry out (play the three-way code, hang up a leg); it never talks to Asterisk.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

THREEWAY = "threeway"      # 三方通话: ring the department, all three talk, the agent may drop off
BLIND = "blind"            # 一键转接: the citizen goes to the department, back to 12345 on failure

# states
REQUESTED = "requested"    # actions sent, the department leg not seen yet
RINGING = "ringing"        # the department rings; the citizen hears hold music (three-way)
ANSWERED = "answered"      # the department answered; the three-way code is being played
TALKING = "threeway"       # agent, citizen and department in one bridge
# end states
HANDED_OFF = "handed_off"  # the agent left: citizen and department talk (three-way done)
CONNECTED = "connected"    # blind transfer answered by the department
CANCELLED = "cancelled"    # the agent cancelled and is back with the citizen
NO_ANSWER = "no_answer"    # the department did not answer in time (agent back / citizen re-queued)
BUSY = "busy"              # the department was busy
RETURNED = "returned"      # blind transfer failed: the citizen is back in the 12345 queue, high priority
ABANDONED = "abandoned"    # the citizen hung up before the department answered
ENDED = "ended"            # every party hung up during the transfer
FAILED = "failed"          # Asterisk refused an action
END_STATES = frozenset({HANDED_OFF, CONNECTED, CANCELLED, NO_ANSWER, BUSY, RETURNED, ABANDONED, ENDED, FAILED})

# effects for the controller
PLAY_THREEWAY = "play_threeway"
HANGUP_RECIPIENT = "hangup_recipient"

_ids = itertools.count(1)


def leg_base(channel: str) -> str:
    """``Local/12315@departments-0000000d`` for either half ``...;1`` / ``...;2``."""
    return channel.rsplit(";", 1)[0]


@dataclass
class Transfer:
    call_id: str
    kind: str                              # THREEWAY | BLIND
    number: str                            # the department hotline
    initiator: str                         # the agent's channel
    transferred: str                       # the citizen's channel
    agent: str = ""
    emergency: bool = False
    hotline_name: str = ""
    owner: str = ""
    requested_at: float = 0.0              # layer clock (time.time()) of the agent's request
    id: str = field(default_factory=lambda: f"x{next(_ids)}")
    state: str = REQUESTED
    recipient: str = ""                    # the department leg's channel (;1 half)
    ringing_at: float | None = None        # AMI Timestamps from here on
    answered_at: float | None = None
    ended_at: float | None = None
    cancel_requested: bool = False
    busy_seen: bool = False
    reason: str = ""
    history: list[tuple[str, float]] = field(default_factory=list)
    ringing_wall: float | None = None      # layer clock when the department leg was seen (benchmark)
    published_state: str = ""              # the last state told to the bus
    leg_recorded: bool = False             # the department leg went into the answer-rate figures
    specialist: dict | None = None         # a policy specialist's leg: {id, name, department, field, line}
    agent_back_at: float | None = None     # Unhold of the agent: back with the citizen (even after the end)

    # -- helpers ------------------------------------------------------------------------------------
    @property
    def done(self) -> bool:
        return self.state in END_STATES

    @property
    def answer_seconds(self) -> float | None:
        if self.ringing_at is None or self.answered_at is None:
            return None
        return max(0.0, self.answered_at - self.ringing_at)

    def _go(self, state: str, ts: float, reason: str = "") -> bool:
        if self.done or self.state == state:
            return False
        self.state = state
        self.history.append((state, ts))
        if reason:
            self.reason = reason
        if state in END_STATES:
            self.ended_at = ts
        return True

    def follow(self, old: str, new: str) -> None:
        """A party moved from channel ``old`` to ``new`` (Local optimisation, rename)."""
        if self.recipient == old:
            self.recipient = new
        if self.initiator == old:
            self.initiator = new
        if self.transferred == old:
            self.transferred = new

    def is_recipient(self, channel: str) -> bool:
        return bool(self.recipient) and leg_base(channel) == leg_base(self.recipient)

    # -- events (each returns the effects to carry out) ------------------------------------------------
    def on_recipient(self, channel: str, ts: float) -> list[str]:
        """The department leg exists (TRANSFERERNAME on it, or DialBegin from the citizen)."""
        if not self.done and not self.recipient:
            self.recipient = channel
            self.ringing_at = ts
            self._go(RINGING, ts)
        return []

    def on_answer(self, ts: float) -> list[str]:
        if self.state not in (REQUESTED, RINGING):
            return []
        self.answered_at = ts
        if self.kind == BLIND:
            self._go(CONNECTED, ts)
            return []
        self._go(ANSWERED, ts)
        return [] if self.cancel_requested else [PLAY_THREEWAY]

    def on_threeway(self, ts: float) -> list[str]:
        """AttendedTransfer DestType Threeway: all three in the citizen's bridge."""
        self._go(TALKING, ts)
        return []

    def on_bridged(self, ts: float) -> list[str]:
        """AttendedTransfer DestType Bridge: the agent left during the consultation (atxferdropcall=no)."""
        self._go(HANDED_OFF, ts, "坐席离开，市民与部门通话 (agent left during the consultation)")
        return []

    def on_recipient_hangup(self, cause: str, ts: float) -> list[str]:
        if cause == "17":
            self.busy_seen = True
        if self.state == TALKING and self.cancel_requested:
            self._go(CANCELLED, ts, "坐席挂断部门，回到市民 (the agent dropped the department)")
        elif self.state == TALKING:   # the department left the three-way call: agent and citizen remain
            self._go(ENDED, ts, "部门已挂机 (the department hung up)")
        elif self.state in (RINGING, ANSWERED) and self.kind == THREEWAY and self.busy_seen:
            self._go(BUSY, ts, "部门忙 (the department is busy)")
        return []

    def on_agent_back(self, ts: float) -> list[str]:
        """Unhold of the agent: Asterisk re-bridged agent and citizen (abort or no answer)."""
        self.agent_back_at = ts   # a busy leg ends first; who rings next waits for this (specialist_calls)
        if self.kind != THREEWAY or self.state not in (REQUESTED, RINGING, ANSWERED):
            return []
        if self.cancel_requested:
            self._go(CANCELLED, ts, "坐席取消转接 (the agent cancelled)")
        elif self.busy_seen:
            self._go(BUSY, ts, "部门忙 (the department is busy)")
        else:
            self._go(NO_ANSWER, ts, "部门未在规定时间内接听 (no answer in time)")
        return []

    def on_dial_failed(self, status: str, ts: float) -> list[str]:
        """Blind transfer: Dial ended without an answer; the dialplan re-queues the citizen."""
        if self.kind != BLIND or self.done:
            return []
        if status == "CANCEL":
            self._go(ABANDONED, ts, "市民挂机 (the citizen hung up)")
        else:
            why = "部门忙" if status == "BUSY" else "部门未接听"
            self._go(RETURNED, ts, f"{why}，市民已回到12345队列 (DIALSTATUS {status}: back to the 12345 queue)")
        return []

    def on_citizen_hangup(self, ts: float) -> list[str]:
        if self.state == TALKING:
            return []   # agent and department may still talk; the end comes with their hangups
        ringing = self.state in (REQUESTED, RINGING, ANSWERED)
        if self._go(ABANDONED if ringing else ENDED, ts, "市民挂机 (the citizen hung up)") and self.recipient:
            return [HANGUP_RECIPIENT]   # no department should ring for a caller who is gone
        return []

    def on_agent_hangup(self, ts: float) -> list[str]:
        if self.state == TALKING:
            self._go(HANDED_OFF, ts, "坐席退出，市民与部门继续通话 (the agent dropped off)")
        return []

    def cancel(self) -> None:
        self.cancel_requested = True

    def fail(self, reason: str, ts: float) -> None:
        self._go(FAILED, ts, reason)

    def end(self, state: str, ts: float, reason: str = "") -> bool:
        """Force an end state (reconciliation after an AMI reconnect); idempotent."""
        return self._go(state, ts, reason)

    def as_dict(self) -> dict:
        return {"id": self.id, "call_id": self.call_id, "kind": self.kind, "number": self.number,
                "hotline_name": self.hotline_name, "owner": self.owner, "emergency": self.emergency,
                "state": self.state, "done": self.done, "reason": self.reason, "agent": self.agent,
                "recipient_channel": self.recipient, "answer_seconds": self.answer_seconds,
                "specialist": self.specialist}
