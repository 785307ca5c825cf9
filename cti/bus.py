"""In-process event bus: the seam between the parts of the CTI layer.

Topics are dotted names (``ami.event``, ``ami.resynced``, ``ami.state``); a subscriber names an
exact topic or a prefix ending in ``.*``. Messages are immutable, so every subscriber may keep them.

Each topic carries one message type, defined once next to its producer (``cti.messages`` when several
parts produce it) and imported by producer and consumers. ``MESSAGE_TYPES`` below is the one table of
topic -> type, named as ``"module:Class"`` so this module imports no part (the parts import the bus):
a type is resolved on the first publish of its topic, when its producer has imported it already.
``publish`` checks every message against it (a dict lookup and an isinstance): a strict bus (the tests
make every bus strict, see tests/conftest.py) raises ``TypeError`` at the producer; otherwise the
mismatch is logged once per topic and the message still delivered, so a slip never stops a call.
tests/test_bus_seams.py checks that every topic constant of the code base is in the table.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any

log = logging.getLogger(__name__)

Handler = Callable[[str, Any], None | Awaitable[None]]

_TICKET_EVENT = "cti.tickets.events:TicketEvent"
MESSAGE_TYPES: dict[str, str] = {
    "ami.event": "cti.ami.message:AmiMessage",
    "ami.state": "builtins:tuple",                       # (AmiState, detail)
    "ami.resynced": "cti.ami.client:Resynced",
    "ivr.session": "ivr_flows.record:IvrSession",
    "calls.screen_pop": "cti.calls.messages:ScreenPop",
    "calls.transfer": "cti.calls.messages:TransferUpdate",
    "calls.call_ended": "cti.calls.messages:CallEnded",
    "calls.after_hours_request": "cti.calls.messages:AfterHoursRequest",
    "calls.department_leg": "cti.calls.stats:DepartmentLeg",
    "calls.specialist_leg": "cti.calls.messages:SpecialistLeg",
    "tickets.request": "cti.messages:TicketRequest",
    "tickets.created": _TICKET_EVENT,
    "tickets.delivered": _TICKET_EVENT,
    "tickets.retry": _TICKET_EVENT,
    "tickets.dead_letter": _TICKET_EVENT,
    "tickets.endpoint_failed": _TICKET_EVENT,
    "tickets.callback": _TICKET_EVENT,
    "tickets.light": _TICKET_EVENT,
    "recording.ready": "recordings.pipeline:RecordingReady",
    "recording.failed": "recordings.pipeline:RecordingFailed",
    "outbound.linkage": "cti.outbound.linkage:Handover",
    "outbound.followup": "cti.outbound.followups:FollowupAttempt",
    "outbound.test_dial": "cti.calls.stats:DepartmentLeg",  # kind "test" (拨测)
    "outbound.alert": "cti.outbound.testdial:TestDialAlert",
    "dispositions.outcome": "cti.dispositions.messages:DispositionOutcome",
}


def message_type(topic: str) -> type | None:
    """The class ``topic`` carries, None for a topic missing from ``MESSAGE_TYPES``."""
    name = MESSAGE_TYPES.get(topic)
    if name is None:
        return None
    module, _, qualname = name.partition(":")
    return getattr(importlib.import_module(module), qualname)


class EventBus:
    strict = False   # the default of new buses: tests/conftest.py turns it on for the whole suite

    def __init__(self, strict: bool | None = None) -> None:
        self._exact: dict[str, list[Handler]] = defaultdict(list)
        self._prefix: list[tuple[str, Handler]] = []
        self._tasks: set[asyncio.Task] = set()
        self.strict = EventBus.strict if strict is None else strict
        self._types: dict[str, type | None] = {}
        self._warned: set[str] = set()

    def subscribe(self, topic: str, handler: Handler) -> Callable[[], None]:
        """Call ``handler(topic, message)`` for each matching message; returns an unsubscribe function."""
        if topic.endswith(".*") or topic == "*":
            entry = (topic[:-1], handler)
            self._prefix.append(entry)
            return lambda: self._prefix.remove(entry) if entry in self._prefix else None
        self._exact[topic].append(handler)
        return lambda: self._exact[topic].remove(handler) if handler in self._exact[topic] else None

    def queue(self, topic: str, maxsize: int = 10_000) -> tuple[asyncio.Queue, Callable[[], None]]:
        """A bounded queue fed with ``(topic, message)``; on overflow the oldest item is dropped."""
        q: asyncio.Queue = asyncio.Queue(maxsize)

        def put(t: str, m: Any) -> None:
            if q.full():
                q.get_nowait()  # a slow consumer loses old items, never blocks the publisher
            q.put_nowait((t, m))

        return q, self.subscribe(topic, put)

    def publish(self, topic: str, message: Any) -> None:
        """Deliver ``message`` (an instance of ``message_type(topic)``) to every matching subscriber."""
        self._check(topic, message)
        handlers = self._exact.get(topic, ())
        for handler in handlers:
            self._call(handler, topic, message)
        for prefix, handler in self._prefix:
            if topic.startswith(prefix):
                self._call(handler, topic, message)

    def _check(self, topic: str, message: Any) -> None:
        if topic not in self._types:
            self._types[topic] = message_type(topic)
        expected = self._types[topic]
        if expected is not None and isinstance(message, expected):
            return
        problem = (f"bus topic {topic!r} has no message type in cti.bus.MESSAGE_TYPES" if expected is None else
                   f"bus topic {topic!r} carries {expected.__name__}, not {type(message).__name__}")
        if self.strict:
            raise TypeError(problem)
        if topic not in self._warned:   # once per topic: a wrong producer must not flood the log
            self._warned.add(topic)
            log.error("%s", problem)

    def _call(self, handler: Handler, topic: str, message: Any) -> None:
        try:
            result = handler(topic, message)
        except Exception:
            log.exception("bus subscriber %r failed on %s", handler, topic)
            return
        if inspect.isawaitable(result):
            task = asyncio.ensure_future(result)
            self._tasks.add(task)
            task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("bus subscriber task failed", exc_info=task.exception())
