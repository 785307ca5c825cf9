"""The specialist directory (``config/specialists.yaml``): special lines and departments' policy specialists.

Rugao's "一企来" rules (seeds 004_f69a27d858239a7b.txt): an enterprise seat takes what it cannot answer
into a three-way call with the relevant department's policy specialist (政策专员); each department names
3-5, with their fields, into a city-wide pool. Nantong's 2022 report (seeds 002_a8129697515b5138.txt)
counts requests by line: the public line, "一企来" and the "尚贤" talent line.

Loaded and validated like the hotline directory (cti/hotlines.py): every problem as ``file:line: what``;
working hours are the hotline directory's rules (``cti.hotlines.hours_setting`` / ``open_at``) on the work
calendar. Lookups are pure.

    directory = load_specialists("config/specialists.yaml", hotlines)
    directory.line_for("enterprise", ["企业"]).id                      # "enterprise"
    directory.offer("税务", "enterprise", when, calendar)              # [Specialist, ...] in working hours
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from cti.calendar import CalendarError, WorkCalendar
from cti.hotlines import (
    DEFAULT_TIMEOUT,
    DIRECT,
    Directory,
    Spans,
    dial_setting,
    hours_setting,
    node_line,
    open_at,
    timeout_setting,
    yaml_tree,
)

log = logging.getLogger(__name__)

PUBLIC = "public"                    # a call on no special line: 市民热线, needs no entry
PUBLIC_NAME = "市民热线"
DEFAULT_DIAL = "PJSIP/{number}@specialists"
ID = re.compile(r"^[0-9A-Za-z_-]{1,32}$")    # fits the monitor's leg table (number String(32))
DIAL_ONLY_EXTEN = "0"   # [departments] matches digits: a specialist with a dial string only rings as 0
TOP_KEYS = {"defaults", "lines", "departments"}
DEFAULT_KEYS = {"dial", "answer_timeout", "working_hours"}
LINE_KEYS = {"id", "name", "queue", "tag", "ivr"}
DEPARTMENT_KEYS = {"department", "hotline", "specialists"}
SPECIALIST_KEYS = {"id", "name", "number", "dial", "fields", "lines", "working_hours", "answer_timeout"}
SPECIALISTS_PER_DEPARTMENT = (3, 5)  # the seed: each department names 3-5


class SpecialistError(ValueError):
    """The directory cannot be used; the message lists each problem as ``file:line: what``."""


@dataclass(frozen=True)
class Line:
    """A special line (一企来, 尚贤...): its IVR entry, the queue its calls wait in and the tag they carry."""

    id: str
    name: str
    queue: str = ""
    tag: str = ""
    ivr_flow: str = ""
    ivr_key: str = ""
    line: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "queue": self.queue, "tag": self.tag,
                "ivr": {"flow": self.ivr_flow, "key": self.ivr_key} if self.ivr_flow else None}


PUBLIC_LINE = Line(PUBLIC, PUBLIC_NAME)


@dataclass(frozen=True)
class Specialist:
    id: str
    name: str
    department: str
    number: str                          # digits, "" when reached by a dial string only
    dial: str                            # Asterisk dial string, {number} already replaced
    fields: tuple[str, ...]
    lines: tuple[str, ...]
    working_hours: Spans | None          # None and not calendar_hours: around the clock
    calendar_hours: bool
    answer_timeout: float
    line: int = 0

    @property
    def exten(self) -> str:
        """The extension of [departments] the three-way call rings (the dial string says how)."""
        return self.number or DIAL_ONLY_EXTEN

    def answers_at(self, when: dt.datetime, calendar: WorkCalendar) -> bool:
        return open_at(self.working_hours, self.calendar_hours, when, calendar)

    def as_dict(self) -> dict[str, Any]:
        hours: Any = "calendar" if self.calendar_hours else (
            "always" if self.working_hours is None else [f"{a:%H:%M}-{b:%H:%M}" for a, b in self.working_hours])
        return {"id": self.id, "name": self.name, "department": self.department, "number": self.number,
                "fields": list(self.fields), "lines": list(self.lines), "working_hours": hours,
                "answer_timeout": self.answer_timeout}


@dataclass(frozen=True)
class Department:
    name: str
    hotline: str                         # its hotline in config/hotlines.yaml: the last resort ("" none)
    specialists: tuple[Specialist, ...]
    line: int = 0


@dataclass
class SpecialistDirectory:
    lines: tuple[Line, ...]
    departments: tuple[Department, ...]
    path: str = ""
    _by_id: dict[str, Specialist] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._by_id = {s.id: s for d in self.departments for s in d.specialists}

    def __iter__(self):
        return iter(self._by_id.values())

    def __len__(self) -> int:
        return len(self._by_id)

    def get(self, specialist_id: str) -> Specialist | None:
        return self._by_id.get(str(specialist_id))

    def line(self, line_id: str) -> Line | None:
        return PUBLIC_LINE if line_id == PUBLIC else next((x for x in self.lines if x.id == line_id), None)

    def department(self, name: str) -> Department | None:
        return next((d for d in self.departments if d.name == name), None)

    def line_for(self, queue: str | None, tags: Iterable[str]) -> Line:
        """The call's line: the line of its queue; else of its tags, the latest heard first (the IVR tags
        a talent call reached through the enterprise menu 企业 then 尚贤); else the public line."""
        found = next((x for x in self.lines if queue and x.queue == queue), None)
        if found is not None:
            return found
        for tag in reversed(list(tags)):
            found = next((x for x in self.lines if x.tag and x.tag == tag), None)
            if found is not None:
                return found
        return PUBLIC_LINE

    def fields(self, line_id: str | None = None) -> list[str]:
        """Every field some specialist of ``line_id`` (any line: None) covers, in file order."""
        return list(dict.fromkeys(f for s in self if line_id is None or line_id in s.lines for f in s.fields))

    def offer(self, field_name: str, line_id: str, when: dt.datetime, calendar: WorkCalendar) -> list[Specialist]:
        """Pure: the specialists of ``field_name`` serving ``line_id`` who answer at local time ``when``,
        in file order (the order 'each in turn' rings them)."""
        return [s for s in self if field_name in s.fields and line_id in s.lines and s.answers_at(when, calendar)]

    def last_resort(self, field_name: str, line_id: str, offered: list[Specialist]) -> str:
        """The department hotline to ring when no specialist answers: the department of the first specialist
        offered, else of the first specialist of the field on the line (out of hours); "" when none."""
        pool = offered or [s for s in self if field_name in s.fields and line_id in s.lines]
        for s in pool:
            d = self.department(s.department)
            if d is not None and d.hotline:
                return d.hotline
        return ""


def _children(node: yaml.Node | None) -> dict[str, yaml.Node]:
    if not isinstance(node, yaml.MappingNode):
        return {}
    return {k.value: v for k, v in node.value if isinstance(k, yaml.ScalarNode)}


class _Parser:
    """One pass over the YAML tree (data and nodes together, for line numbers), collecting problems."""

    def __init__(self, path: str, hotlines: Directory | None, flows: dict[str, set[str]] | None) -> None:
        self.path, self.hotlines, self.flows = path, hotlines, flows
        self.problems: list[str] = []

    def err(self, node: yaml.Node | None, message: str, fallback: int = 1) -> None:
        self.problems.append(f"{self.path}:{node_line(node) or fallback}: {message}")

    def unknown(self, data: dict, node: yaml.Node, known: set[str], what: str) -> None:
        nodes = _children(node)
        for key in data:
            if key not in known:
                self.err(nodes.get(str(key)) or node, f"{what}: unknown key {key!r} (known: {', '.join(sorted(known))})")

    def text(self, data: dict, node: yaml.Node, key: str, what: str, required: bool = True) -> str:
        value = data.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                self.err(_children(node).get(key) or node, f"{what}: {key!r} is required")
            return ""
        if not isinstance(value, (str, int)) or isinstance(value, bool):
            self.err(_children(node).get(key) or node, f"{what}: {key!r} must be text, got {value!r}")
            return ""
        return str(value).strip()

    def listing(self, data: dict, node: yaml.Node, key: str, what: str) -> tuple[list, list[yaml.Node]]:
        value, child = data.get(key), _children(node).get(key)
        if not isinstance(value, list) or not isinstance(child, yaml.SequenceNode):
            self.err(child or node, f"{what}: {key!r} must be a list")
            return [], []
        return value, list(child.value)

    # -- lines --------------------------------------------------------------------------------------------
    def lines(self, items: list, nodes: list[yaml.Node]) -> list[Line]:
        out: list[Line] = []
        for entry, node in zip(items, nodes, strict=True):
            if not isinstance(entry, dict):
                self.err(node, "a line must be a mapping (id, name, queue, tag, ivr)")
                continue
            before = len(self.problems)
            self.unknown(entry, node, LINE_KEYS, "line")
            lid = self.text(entry, node, "id", "line")
            what = f"line {lid or '?'}"
            if lid and not ID.match(lid):
                self.err(_children(node).get("id"), f"{what}: id must be 1-32 letters, digits, '-' or '_'")
            if lid == PUBLIC:
                self.err(_children(node).get("id"), f"{what}: 'public' is the line of every other call: no entry")
            if lid and any(x.id == lid for x in out):
                self.err(_children(node).get("id"), f"{what}: listed twice")
            name = self.text(entry, node, "name", what)
            queue = self.text(entry, node, "queue", what)
            tag = self.text(entry, node, "tag", what)
            for key_, value in (("queue", queue), ("tag", tag)):   # a call's line is found by its queue, then tag
                other = next((x for x in out if value and getattr(x, key_) == value), None)
                if other is not None:
                    self.err(_children(node).get(key_), f"{what}: {key_} {value!r} is line {other.id}'s already "
                                                        f"(line {other.line}): a call in it would be counted there")
            ivr, ivr_node = entry.get("ivr"), _children(node).get("ivr")
            flow = key = ""
            if not isinstance(ivr, dict) or set(ivr) != {"flow", "key"}:
                self.err(ivr_node or node, f"{what}: 'ivr' must be {{flow: <flow name>, key: <menu key>}}")
            else:
                flow, key = str(ivr["flow"]).strip(), str(ivr["key"]).strip()
                if not re.fullmatch(r"[0-9*#]", key):
                    self.err(ivr_node, f"{what}: ivr key must be one key (0-9, * or #), got {ivr['key']!r}")
                elif self.flows is not None and key not in self.flows.get(flow, set()):
                    known = ", ".join(sorted(self.flows)) or "none"
                    self.err(ivr_node, f"{what}: flow {flow!r} has no menu choice {key!r} "
                                       f"(flows found: {known})")
            if len(self.problems) == before:
                out.append(Line(lid, name, queue, tag, flow, key, node_line(node)))
        return out

    # -- departments --------------------------------------------------------------------------------------
    def departments(self, items: list, nodes: list[yaml.Node], defaults: dict, line_ids: set[str]) -> list[Department]:
        out: list[Department] = []
        seen: dict[str, int] = {}
        for entry, node in zip(items, nodes, strict=True):
            if not isinstance(entry, dict):
                self.err(node, "a department must be a mapping (department, hotline, specialists)")
                continue
            self.unknown(entry, node, DEPARTMENT_KEYS, "department")
            name = self.text(entry, node, "department", "department")
            what = f"department {name or '?'}"
            if name and any(d.name == name for d in out):
                self.err(_children(node).get("department"), f"{what}: listed twice")
            hotline = self.text(entry, node, "hotline", what, required=False)
            if hotline and self.hotlines is not None:
                h = self.hotlines.get(hotline)
                if h is None:
                    self.err(_children(node).get("hotline"), f"{what}: hotline {hotline} is not in {self.hotlines.path}")
                elif h.kind == DIRECT:
                    self.err(_children(node).get("hotline"),
                             f"{what}: hotline {hotline} is directly merged into 12345: it cannot be the last resort")
            items_, nodes_ = self.listing(entry, node, "specialists", what)
            specialists = [s for s in (self.specialist(e, n, name, defaults, line_ids, seen)
                                       for e, n in zip(items_, nodes_, strict=True)) if s is not None]
            low, high = SPECIALISTS_PER_DEPARTMENT
            if items_ and not low <= len(items_) <= high:
                self.err(node, f"{what}: names {len(items_)} specialists; each department names {low}-{high}")
            out.append(Department(name, hotline, tuple(specialists), node_line(node)))
        return out

    def specialist(self, entry: Any, node: yaml.Node, department: str, defaults: dict, line_ids: set[str],
                   seen: dict[str, int]) -> Specialist | None:
        if not isinstance(entry, dict):
            self.err(node, "a specialist must be a mapping (id, name, number or dial, fields, lines, working_hours)")
            return None
        before = len(self.problems)
        keys = _children(node)
        self.unknown(entry, node, SPECIALIST_KEYS, "specialist")
        sid = self.text(entry, node, "id", "specialist")
        what = f"specialist {sid or '?'}"
        if sid and not ID.match(sid):
            self.err(keys.get("id"), f"{what}: id must be 1-32 letters, digits, '-' or '_'")
        elif sid in seen:
            self.err(keys.get("id"), f"{what}: id is already used at line {seen[sid]}")
        elif sid:
            seen[sid] = node_line(node)
        name = self.text(entry, node, "name", what)
        number = self.text(entry, node, "number", what, required=False)
        if number and not number.isdigit():
            self.err(keys.get("number"), f"{what}: number must be digits, got {entry.get('number')!r}")
        template = str(entry.get("dial") or "")
        if not number and not template:
            self.err(node, f"{what}: give a 'number' (digits) or a 'dial' string")
        template = template or str(defaults.get("dial") or DEFAULT_DIAL)
        try:
            if not number and "{number}" in template:
                raise ValueError(f"dial {template!r} needs a 'number' for {{number}}")
            dial = dial_setting(template, number)
        except ValueError as exc:
            self.err(keys.get("dial") or node, f"{what}: {exc}")
            dial = template
        fields = entry.get("fields")
        if not isinstance(fields, list) or not fields or not all(isinstance(f, str) and f.strip() for f in fields):
            self.err(keys.get("fields") or node, f"{what}: 'fields' must be a non-empty list (税务, 社保, 人才...)")
            fields = []
        lines = entry.get("lines")
        if not isinstance(lines, list) or not lines:
            self.err(keys.get("lines") or node, f"{what}: 'lines' must be a non-empty list of line ids")
            lines = []
        for lid in lines:
            if str(lid) not in line_ids:
                self.err(keys.get("lines"), f"{what}: unknown line {lid!r} (known: {', '.join(sorted(line_ids))})")
        try:
            timeout = timeout_setting(entry.get("answer_timeout", defaults.get("answer_timeout", DEFAULT_TIMEOUT)))
        except ValueError as exc:
            self.err(keys.get("answer_timeout"), f"{what}: {exc}")
            timeout = DEFAULT_TIMEOUT
        try:   # omitted: the work calendar's office hours (a specialist is a department's staff)
            spans, calendar_hours = hours_setting(entry.get("working_hours", defaults.get("working_hours")),
                                                  calendar_default=True)
        except CalendarError as exc:
            self.err(keys.get("working_hours"), f"{what}: {exc}")
            spans, calendar_hours = None, False
        if len(self.problems) != before:
            return None
        return Specialist(sid, name, department, number, dial, tuple(f.strip() for f in fields),
                          tuple(str(x) for x in lines), spans, calendar_hours, timeout, node_line(node))


def flow_menus(flows_dir: str | Path) -> dict[str, set[str]]:
    """flow name -> the keys of its menu nodes, from the flow files (for the lines' IVR entries)."""
    out: dict[str, set[str]] = {}
    for path in sorted(Path(flows_dir).glob("*.yaml")):
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError):
            continue   # the flow validator reports it; here the entry is simply not found
        if isinstance(data, dict) and isinstance(data.get("nodes"), dict):
            keys = {str(k) for n in data["nodes"].values() if isinstance(n, dict) and n.get("type") == "menu"
                    for k in (n.get("choices") or {})}
            out[str(data.get("flow") or path.stem)] = keys
    return out


def parse_specialists(text: str, path: str = "specialists.yaml", hotlines: Directory | None = None,
                      flows: dict[str, set[str]] | None = None) -> SpecialistDirectory:
    """Parse and validate; raise :class:`SpecialistError` listing every problem. ``hotlines``: the hotline
    directory the departments' last resorts must be in; ``flows``: flow name -> menu keys (``flow_menus``)."""
    data, root = yaml_tree(text, path, SpecialistError)
    if not isinstance(data, dict) or not isinstance(root, yaml.MappingNode):
        raise SpecialistError(f"{path}:1: the top level must be a mapping with 'lines' and 'departments'")
    p = _Parser(path, hotlines, flows)
    p.unknown(data, root, TOP_KEYS, "top level")
    defaults = data.get("defaults") or {}
    if not isinstance(defaults, dict):
        p.err(_children(root).get("defaults"), "'defaults' must be a mapping")
        defaults = {}
    p.unknown(defaults, _children(root).get("defaults") or root, DEFAULT_KEYS, "defaults")
    line_items, line_nodes = p.listing(data, root, "lines", "top level") if "lines" in data else ([], [])
    lines = p.lines(line_items, line_nodes)
    dept_items, dept_nodes = p.listing(data, root, "departments", "top level")
    departments = p.departments(dept_items, dept_nodes, defaults, {PUBLIC, *(x.id for x in lines)})
    if p.problems:
        raise SpecialistError(f"{path}: invalid specialist directory:\n  " + "\n  ".join(p.problems))
    return SpecialistDirectory(tuple(lines), tuple(departments), path)


def load_specialists(path: str | Path, hotlines: Directory | None = None,
                     flows_dir: str | Path | None = None) -> SpecialistDirectory:
    """Read ``path``; a missing or invalid file is a :class:`SpecialistError` naming it."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecialistError(f"{path}: cannot read the specialist directory: {exc.strerror or exc}") from None
    directory = parse_specialists(text, str(path), hotlines, flow_menus(flows_dir) if flows_dir else None)
    log.info("specialist directory %s: %d lines, %d departments, %d specialists", path, len(directory.lines),
             len(directory.departments), len(directory))
    return directory
