"""The hotline directory (``config/hotlines.yaml``): the department hotlines 12345 works with.

Loaded and validated once at start, like the IVR flows: every problem is reported with file:line and
the start stops. Lookups are pure; whether a department answers *now* asks the work calendar
(``cti.calendar.WorkCalendar``: statutory holidays and make-up working days).

    directory = load_directory("config/hotlines.yaml")
    directory.get("12315").kind                              # "parallel-merged"
    directory.decide("12315", when, calendar).action         # "dial" | "ticket" | "refuse"
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from cti.calendar import CalendarError, WorkCalendar, parse_hours

log = logging.getLogger(__name__)

DIRECT = "direct-merged"
PARALLEL = "parallel-merged"
EMERGENCY = "emergency"
KINDS = (DIRECT, PARALLEL, EMERGENCY)
ALWAYS = "always"
DEFAULT_DIAL = "PJSIP/{number}@hotlines"
DEFAULT_TIMEOUT = 15.0
ENTRY_KEYS = {"number", "name", "owner", "kind", "dial", "working_hours", "answer_timeout"}


class HotlineError(ValueError):
    """The directory cannot be used; the message lists each problem as ``file:line: what``."""


@dataclass(frozen=True)
class Hotline:
    number: str
    name: str
    owner: str
    kind: str
    dial: str                                           # Asterisk dial string, {number} already replaced
    working_hours: tuple[tuple[dt.time, dt.time], ...] | None   # None: around the clock
    answer_timeout: float
    calendar_hours: bool = False                        # True: the calendar's office hours apply
    line: int = 0

    @property
    def emergency(self) -> bool:
        return self.kind == EMERGENCY

    @property
    def around_the_clock(self) -> bool:
        return self.working_hours is None and not self.calendar_hours

    def answers_at(self, when: dt.datetime, calendar: WorkCalendar) -> bool:
        """Whether the department answers at local time ``when`` (its hours on working days)."""
        return open_at(self.working_hours, self.calendar_hours, when, calendar)

    def as_dict(self) -> dict[str, Any]:
        hours: Any = ALWAYS if self.around_the_clock else (
            "calendar" if self.calendar_hours else
            [f"{a:%H:%M}-{b:%H:%M}" for a, b in self.working_hours or ()])
        return {"number": self.number, "name": self.name, "owner": self.owner, "kind": self.kind,
                "dial": self.dial, "working_hours": hours, "answer_timeout": self.answer_timeout}


@dataclass(frozen=True)
class Decision:
    """What the agent's request to bring ``hotline`` in becomes."""

    action: str                 # dial | ticket (after hours) | refuse
    hotline: Hotline | None
    emergency: bool = False
    reason: str = ""            # Chinese first, for the agent's desktop


class Directory:
    def __init__(self, hotlines: list[Hotline], path: str = "") -> None:
        self.path = path
        self.hotlines = {h.number: h for h in hotlines}

    def __len__(self) -> int:
        return len(self.hotlines)

    def __iter__(self):
        return iter(self.hotlines.values())

    def get(self, number: str) -> Hotline | None:
        return self.hotlines.get(str(number).strip())

    def of_kind(self, kind: str) -> list[Hotline]:
        return [h for h in self.hotlines.values() if h.kind == kind]

    def decide(self, number: str, when: dt.datetime, calendar: WorkCalendar) -> Decision:
        """Pure: may an agent bring ``number`` into a call at local time ``when``?"""
        h = self.get(number)
        if h is None:
            return Decision("refuse", None, reason=f"号码 {number} 不在热线目录中 (not in the hotline directory)")
        if h.kind == EMERGENCY:
            return Decision("dial", h, emergency=True, reason="应急联动 (emergency linkage)")
        if h.kind == DIRECT:
            return Decision("refuse", h, reason=f"{h.name} 已直接整合至12345，由12345受理并转工单 "
                                                "(directly merged: answered by 12345, make a ticket)")
        if not h.answers_at(when, calendar):
            return Decision("ticket", h, reason=f"{h.name} 非工作时间，已转{h.owner}工单 "
                                                "(after hours: the request becomes a ticket)")
        return Decision("dial", h)


Spans = tuple[tuple[dt.time, dt.time], ...]


def hours_setting(raw: Any, calendar_default: bool) -> tuple[Spans | None, bool]:
    """A ``working_hours`` value -> (spans or None for around the clock, whether the calendar's office
    hours apply). ``raw`` is "always", "calendar", a list of HH:MM-HH:MM spans, or None (omitted: the
    calendar's office hours when ``calendar_default``, else around the clock). Raises CalendarError."""
    if raw is None:
        return None, calendar_default
    if raw == ALWAYS:
        return None, False
    if raw == "calendar":
        return None, True
    if isinstance(raw, list) and raw:
        return parse_hours([str(s) for s in raw]), False
    raise CalendarError("working_hours must be 'always', 'calendar' or a list of HH:MM-HH:MM spans")


def dial_setting(template: str, number: str) -> str:
    """``template`` with {number} replaced, checked as an Asterisk dial string; ValueError says what is wrong."""
    try:
        dial = template.format(number=number)
    except (KeyError, IndexError, ValueError):
        raise ValueError(f"dial {template!r}: only {{number}} may be substituted") from None
    if "/" not in dial or any(c in dial for c in ",\r\n|&"):
        raise ValueError(f"dial {dial!r} is not an Asterisk dial string (TECH/resource, no commas)")
    return dial


def timeout_setting(raw: Any) -> float:
    """Seconds a department or specialist may ring, 1 to 300; ValueError says what is wrong."""
    try:
        timeout = float(raw)
    except (TypeError, ValueError):
        timeout = float("nan")
    if not 1 <= timeout <= 300:
        raise ValueError(f"answer_timeout must be seconds between 1 and 300, got {raw!r}")
    return timeout


def open_at(spans: Spans | None, calendar_hours: bool, when: dt.datetime, calendar: WorkCalendar) -> bool:
    """Whether someone with these hours answers at local time ``when``: the spans on working days of the
    work calendar (statutory holidays and make-up days included), or the calendar's own office hours."""
    if calendar_hours:
        return calendar.is_working_time(when)
    if spans is None:
        return True
    if not calendar.is_working_day(when.date()):
        return False
    t = when.time()
    return any(start <= t < end for start, end in spans)


def node_line(node: yaml.Node | None) -> int:
    """The 1-based line a YAML node starts on (0: no node)."""
    return node.start_mark.line + 1 if node is not None else 0


def yaml_tree(text: str, path: str, error: type[ValueError]) -> tuple[Any, yaml.Node | None]:
    """``text`` as data and as its node tree (for line numbers); bad YAML raises ``error`` naming path:line."""
    try:
        return yaml.safe_load(text), yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else path
        raise error(f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from None


def _children(node: yaml.MappingNode) -> dict[str, yaml.Node]:
    return {k.value: v for k, v in node.value if isinstance(k, yaml.ScalarNode)}


def parse_directory(text: str, path: str = "hotlines.yaml") -> Directory:
    """Parse and validate the directory text; raise :class:`HotlineError` listing every problem."""
    data, root = yaml_tree(text, path, HotlineError)
    if not isinstance(data, dict) or not isinstance(root, yaml.MappingNode):
        raise HotlineError(f"{path}:1: the top level must be a mapping with a 'hotlines' list")
    problems: list[str] = []
    nodes = _children(root)
    for key in data:
        if key not in ("defaults", "hotlines"):
            problems.append(f"{path}:{node_line(nodes.get(str(key)))}: unknown key {key!r} (expected defaults, hotlines)")
    defaults = data.get("defaults") or {}
    if not isinstance(defaults, dict):
        problems.append(f"{path}:{node_line(nodes.get('defaults'))}: 'defaults' must be a mapping")
        defaults = {}
    for key in defaults:
        if key not in ("dial", "answer_timeout", "working_hours"):
            problems.append(f"{path}:{node_line(nodes.get('defaults'))}: unknown default {key!r}")
    items = data.get("hotlines")
    items_node = nodes.get("hotlines")
    if not isinstance(items, list) or not isinstance(items_node, yaml.SequenceNode):
        problems.append(f"{path}:{node_line(items_node) or 1}: 'hotlines' must be a list of entries")
        raise HotlineError(f"{path}: invalid hotline directory:\n  " + "\n  ".join(problems))
    hotlines: list[Hotline] = []
    seen: dict[str, int] = {}
    for entry, node in zip(items, items_node.value, strict=True):
        line = node_line(node)
        if not isinstance(entry, dict) or not isinstance(node, yaml.MappingNode):
            problems.append(f"{path}:{line}: an entry must be a mapping (number, name, owner, kind...)")
            continue
        keys = _children(node)
        errs: list[str] = []

        def err(key: str, message: str, keys=keys, line=line, errs=errs) -> None:
            errs.append(f"{path}:{node_line(keys.get(key)) or line}: {message}")

        for key in entry:
            if key not in ENTRY_KEYS:
                err(str(key), f"unknown key {key!r} (known: {', '.join(sorted(ENTRY_KEYS))})")
        number = str(entry.get("number", "")).strip()
        if not number.isdigit():
            err("number", f"number must be digits, got {entry.get('number')!r}")
        elif number in seen:
            err("number", f"number {number} is already listed at line {seen[number]}")
        else:
            seen[number] = line
        label = f"hotline {number or '?'}"
        name, owner = str(entry.get("name") or "").strip(), str(entry.get("owner") or "").strip()
        if not name:
            err("name", f"{label}: 'name' is required")
        if not owner:
            err("owner", f"{label}: 'owner' (the department) is required")
        kind = entry.get("kind")
        if kind not in KINDS:
            err("kind", f"{label}: kind must be one of {', '.join(KINDS)}, got {kind!r}")
        dial_template = str(entry.get("dial") or defaults.get("dial") or DEFAULT_DIAL)
        try:
            dial = dial_setting(dial_template, number)
        except ValueError as exc:
            err("dial", f"{label}: {exc}")
            dial = dial_template
        try:
            timeout = timeout_setting(entry.get("answer_timeout", defaults.get("answer_timeout", DEFAULT_TIMEOUT)))
        except ValueError as exc:
            err("answer_timeout", f"{label}: {exc}")
            timeout = DEFAULT_TIMEOUT
        try:   # omitted: a parallel-merged department keeps the office hours of the work calendar
            hours, calendar_hours = hours_setting(entry.get("working_hours", defaults.get("working_hours")),
                                                  calendar_default=kind == PARALLEL)
        except CalendarError as exc:
            err("working_hours", f"{label}: {exc}")
            hours, calendar_hours = None, False
        if kind == EMERGENCY and (hours is not None or calendar_hours):
            err("working_hours", f"{label}: an emergency line is reached at any hour: use working_hours: always")
        if errs:
            problems.extend(errs)
            continue
        hotlines.append(Hotline(number, name, owner, kind, dial, hours, timeout, calendar_hours, line))
    if problems:
        raise HotlineError(f"{path}: invalid hotline directory:\n  " + "\n  ".join(problems))
    return Directory(hotlines, path)


def load_directory(path: str | Path) -> Directory:
    """Read ``path``; a missing or invalid file is a :class:`HotlineError` naming it."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise HotlineError(f"{path}: cannot read the hotline directory: {exc.strerror or exc}") from None
    directory = parse_directory(text, str(path))
    log.info("hotline directory %s: %d hotlines (%d direct-merged, %d parallel-merged, %d emergency)",
             path, len(directory), len(directory.of_kind(DIRECT)), len(directory.of_kind(PARALLEL)),
             len(directory.of_kind(EMERGENCY)))
    return directory
