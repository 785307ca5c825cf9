"""The record of one finished IVR session, published on the bus (topic ``ivr.session``).

The screen pop, the ticket and the reports read it: who called which hotline, which flow version
served them, the nodes and keys of their path, their tags, where they went, their survey rating.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from cti.messages import Rating

TOPIC_SESSION = "ivr.session"


@dataclass(frozen=True, slots=True)
class PathStep:
    flow: str
    node: str
    event: str          # "key 2", "no key", "working_time", "goto yiqilai", "queue enterprise"...

    def __str__(self) -> str:
        return f"{self.flow}/{self.node}: {self.event}"


@dataclass(frozen=True, slots=True)
class IvrSession:
    uniqueid: str
    caller: str                 # the full number: consumers mask it (cti.privacy) when they log it
    hotline: str
    script: str                 # "ivr" or "survey"
    flow: str                   # the flow the session started in
    version: str                # content hash of the flow set it ran on
    started: float              # epoch seconds
    ended: float
    path: tuple[PathStep, ...]
    keys: str                   # every key pressed, comma-separated
    tags: tuple[str, ...]
    outcome: str                # queue, transfer, survey, hangup, caller_hangup, failed
    queue: str | None = None
    priority: int = 0
    transfer: str | None = None
    rating: Rating | None = None  # the survey's answer (survey only); None: no valid key
    failure: str | None = None  # why the IVR sent the caller to the default queue

    def as_dict(self) -> dict:
        return asdict(self)
