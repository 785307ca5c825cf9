"""queues.conf as app_queue reads the settings the simulator models: strategy, servicelevel, timeout,
retry, wrapuptime and autofill, with templates (``[name](!)``) and inheritance (``[public](cti-queue)``).

Defaults are Asterisk 22's own (app_queue.c / queues.conf.sample): ringall, servicelevel 0, timeout 15,
retry 5, wrapuptime 0, autofill no. By default the shipped ``config/asterisk/queues_cti.conf`` is read.
"""

from __future__ import annotations

import re
from pathlib import Path

from cti import shipped_config

from .config import QueueConfig

SHIPPED_QUEUES = shipped_config.asterisk("queues_cti.conf")   # the checkout's config/ or the wheel's copy
ASTERISK_DEFAULTS = {"strategy": "ringall", "servicelevel": "0", "timeout": "15", "retry": "5",
                     "wrapuptime": "0", "autofill": "no"}
SECTION = re.compile(r"^\[(?P<name>[^\]]+)\]\s*(?:\((?P<opts>[^)]*)\))?")
TRUE = ("yes", "true", "y", "t", "1", "on")


def read_queues(*paths: str | Path) -> dict[str, dict[str, str]]:
    """Every queue (templates and [general] left out) with its settings after inheritance; several files
    read as one, in order (as ``#include`` would): a later file may use an earlier one's templates."""
    sections: dict[str, dict[str, str]] = {}
    templates: set[str] = set()
    current: dict[str, str] | None = None
    lines = [line for path in (paths or (SHIPPED_QUEUES,)) for line in Path(path).read_text(encoding="utf-8").splitlines()]
    for raw in lines:
        line = raw.split(";", 1)[0].strip()
        if not line:
            continue
        m = SECTION.match(line)
        if m:
            name, opts = m["name"].strip(), [o.strip() for o in (m["opts"] or "").split(",") if o.strip()]
            current = {}
            for parent in (o for o in opts if o != "!"):
                current.update(sections.get(parent, {}))
            if "!" in opts:
                templates.add(name)
            sections[name] = current
            continue
        if current is not None and "=" in line:
            key, _, value = (p.strip() for p in line.partition("="))
            current[key.lower()] = value
    return {name: {**ASTERISK_DEFAULTS, **values} for name, values in sections.items()
            if name not in templates and name != "general"}


def queue_configs(*paths: str | Path, members: dict[str, list[str]] | None = None) -> list[QueueConfig]:
    """QueueConfig per queue of ``paths`` (the shipped file by default); ``members``: static agent extensions
    per queue (none by default: agents log in with QueueAdd, as the shipped file says)."""
    out = []
    for name, s in read_queues(*paths).items():
        out.append(QueueConfig(name, list((members or {}).get(name, [])), strategy=s["strategy"],
                               servicelevel=int(s["servicelevel"]), timeout=int(s["timeout"]),
                               retry=int(s["retry"]), wrapuptime=int(s["wrapuptime"]),
                               autofill=s["autofill"].lower() in TRUE))
    return out
