"""Queue state and Asterisk's app_queue arithmetic, without I/O.

The counters follow app_queue.c: a call is in service level when ``int(now) - int(enter) <=
servicelevel`` at answer time; hold time is averaged at connect and talk time when the call completes,
both as ``(3*old + new) >> 2`` on whole seconds (the first sample is taken as is); a timeout counts as
an abandon.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Asterisk device states as QueueMember / QueueMemberStatus report them
DEVICE_NOT_INUSE = 1
DEVICE_INUSE = 2
DEVICE_UNAVAILABLE = 5
DEVICE_RINGING = 6


@dataclass
class Member:
    interface: str                 # Local/6001@agents/n
    name: str                      # Agent 6001
    penalty: int = 0
    membership: str = "static"
    paused: bool = False
    paused_reason: str = ""
    last_pause: int = 0
    login_time: int = 0
    calls_taken: int = 0
    last_call: int = 0
    in_call: bool = False
    status: int = DEVICE_NOT_INUSE
    wrapup_until: float = 0.0      # simulated epoch until which the member is in wrap-up
    ringinuse: bool = False

    @property
    def exten(self) -> str:
        """6001 for Local/6001@agents/n."""
        return self.interface.split("/", 1)[1].split("@", 1)[0]

    def available(self, now: float) -> bool:
        return (not self.paused and self.status == DEVICE_NOT_INUSE and not self.in_call
                and now >= self.wrapup_until)


@dataclass
class Queue:
    name: str
    strategy: str = "rrmemory"
    servicelevel: int = 15
    timeout: int = 15              # per-member ring timeout
    retry: int = 5
    wrapuptime: int = 0
    autofill: bool = False         # yes: every waiting caller may ring a free agent; no: only the head
    weight: int = 0
    maxlen: int = 0
    members: list[Member] = field(default_factory=list)
    callers: list = field(default_factory=list)      # waiting entries, in position order
    holdtime: int = 0
    talktime: int = 0
    completed: int = 0
    abandoned: int = 0
    completed_in_sl: int = 0
    abandoned_in_sl: int = 0
    rrpos: int = 0

    # -- members --------------------------------------------------------------------------------
    def member(self, interface: str) -> Member | None:
        for m in self.members:
            if m.interface.lower() == interface.lower():
                return m
        return None

    def next_member(self, now: float, exclude=()) -> Member | None:
        """The member to ring next: rrmemory walks on from the last one rung."""
        n = len(self.members)
        for i in range(n):
            idx = (self.rrpos + i) % n
            m = self.members[idx]
            if m.available(now) and m not in exclude:
                if self.strategy in ("rrmemory", "roundrobin", "rrordered"):
                    self.rrpos = (idx + 1) % n
                return m
        return None

    # -- app_queue arithmetic ---------------------------------------------------------------------
    def record_connect(self, enter: float, now: float) -> tuple[int, bool]:
        """At answer: whole-second hold time and whether the call is in service level."""
        hold = int(now) - int(enter)
        if self.completed + self.abandoned == 0:
            self.holdtime = hold
        else:
            self.holdtime = (3 * self.holdtime + hold) >> 2
        return hold, hold <= self.servicelevel

    def record_complete(self, in_sl: bool, talk: int) -> None:
        self.completed += 1
        if in_sl:
            self.completed_in_sl += 1
        if self.completed == 1:
            self.talktime = talk
        else:
            self.talktime = (3 * self.talktime + talk) >> 2

    def record_abandon(self, enter: float, now: float) -> int:
        wait = int(now) - int(enter)
        self.abandoned += 1
        if wait <= self.servicelevel:
            self.abandoned_in_sl += 1
        return wait

    @property
    def sl_perf(self) -> float:
        return 100.0 * self.completed_in_sl / self.completed if self.completed else 0.0

    @property
    def sl_perf2(self) -> float:
        total = self.completed + self.abandoned
        return 100.0 * (self.completed_in_sl + self.abandoned_in_sl) / total if total else 0.0

    def logged_in(self) -> int:
        return sum(1 for m in self.members if m.status not in (DEVICE_UNAVAILABLE,))

    def available_count(self, now: float) -> int:
        return sum(1 for m in self.members if m.available(now))
