"""queue_log lines in Asterisk's format: ``epoch|callid|queue|agent|EVENT|data1|data2|...``."""

from __future__ import annotations

import logging
import os

log = logging.getLogger(__name__)


class QueueLog:
    def __init__(self, path: str | None, clock) -> None:
        self.path = path
        self.clock = clock
        self.lines: list[str] = []   # kept in memory too, for tests and totals
        if path:
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)

    def write(self, callid: str, queue: str, agent: str, event: str, *data) -> None:
        line = "|".join([str(int(self.clock.now())), callid, queue, agent, event] + [str(d) for d in data])
        self.lines.append(line)
        if len(self.lines) > 100_000:
            del self.lines[:50_000]
        if self.path:
            try:
                with open(self.path, "a", encoding="utf-8") as f:
                    f.write(line + "\n")
            except OSError as exc:
                log.error("queue_log %s not writable: %s", self.path, exc)
