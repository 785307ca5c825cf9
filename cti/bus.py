"""In-process event bus: the seam between the parts of the CTI layer.

Topics are dotted names (``ami.event``, ``ami.resynced``, ``ami.state``); a subscriber names an
exact topic or a prefix ending in ``.*``. Messages are immutable, so every subscriber may keep them.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any

log = logging.getLogger(__name__)

Handler = Callable[[str, Any], None | Awaitable[None]]


class EventBus:
    def __init__(self) -> None:
        self._exact: dict[str, list[Handler]] = defaultdict(list)
        self._prefix: list[tuple[str, Handler]] = []
        self._tasks: set[asyncio.Task] = set()

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
        handlers = self._exact.get(topic, ())
        for handler in handlers:
            self._call(handler, topic, message)
        for prefix, handler in self._prefix:
            if topic.startswith(prefix):
                self._call(handler, topic, message)

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
