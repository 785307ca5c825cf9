"""One flow file -> a :class:`Flow`, with every schema error collected (never only the first).

A file looks like::

    flow: main                   # the flow's name (goto targets use it)
    description: 12345 主菜单
    start: welcome               # optional: the first node listed otherwise
    nodes:
      welcome:                   # the node id
        type: play
        prompt: {file: cti12345/welcome, text: 您好，欢迎致电12345}
        barge_in: true
        next: menu
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from types import MappingProxyType

from ivr_flows import model as m
from ivr_flows.source import LDict, LList, YamlSyntaxError, load_yaml

NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$")
VAR_RE = re.compile(r"\$\{([^}]*)\}")
CALENDAR_TESTS = ("working_time", "working_day", "holiday", "makeup_day", "weekend")


@dataclass(frozen=True, order=True)
class FlowError:
    """``path:line: node <id>: message`` (``flow <name>:`` for errors outside any node)."""

    path: str
    line: int
    where: str
    message: str
    column: int = 0          # 1-based; 0 when only the line is known

    def __str__(self) -> str:
        at = f"{self.path}:{self.line}:{self.column}" if self.column else f"{self.path}:{self.line}"
        return f"{at}: {self.where}: {self.message}" if self.where else f"{at}: {self.message}"


@dataclass(frozen=True)
class Context:
    """What a flow is checked against: the queue list, the prompts, the hotline directory."""

    queues: frozenset[str]
    prompt_exists: Callable[[str], bool] = lambda _name: True
    hotlines: frozenset[str] | None = None     # None: no directory, any digit string is accepted


class _Node:
    """Reads the fields of one node and records what is wrong with them."""

    def __init__(self, parser: FlowParser, node_id: str, body: LDict, line: int) -> None:
        self.p, self.id, self.body, self.line = parser, node_id, body, line
        self.used = {"type", "note", "description"}
        self.ok = True

    def error(self, key: str | None, message: str) -> None:
        line = self.body.line_of(key) if key is not None else self.line
        self.p.error(line, f"node {self.id}", message)
        self.ok = False

    def get(self, key: str, required: bool = False, default=None):
        self.used.add(key)
        if key not in self.body or self.body[key] is None:
            if required:
                self.error(None, f"missing required field '{key}'")
            return default
        return self.body[key]

    def target(self, key: str, required: bool = True) -> str | None:
        value = self.get(key, required)
        if value is None:
            if required:
                self.p.broken_edges = True  # reachability would only echo this error
            return None
        if not isinstance(value, str | int) or isinstance(value, bool):
            self.error(key, f"'{key}' must name a node, got {value!r}")
            return None
        self.p.refs.append((self.id, str(value), self.body.line_of(key), key))
        return str(value)

    def number(self, key: str, default: float, low: float, high: float, integer: bool = False):
        value = self.get(key, default=default)
        ok = isinstance(value, int | float) and not isinstance(value, bool) and (not integer or value == int(value))
        if not ok or not low <= value <= high:
            kind = "a whole number" if integer else "a number"
            self.error(key, f"'{key}' must be {kind} from {low:g} to {high:g}, got {value!r}")
            return default
        return int(value) if integer else float(value)

    def flag(self, key: str, default: bool = False) -> bool:
        value = self.get(key, default=default)
        if not isinstance(value, bool):
            self.error(key, f"'{key}' must be true or false, got {value!r}")
            return default
        return value

    def text(self, key: str, required: bool = False, default: str = "") -> str:
        value = self.get(key, required, default)
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            self.error(key, f"'{key}' must be text, got {value!r}")
            return default
        return str(value)

    def prompts(self, key: str, required: bool = False) -> tuple[m.Prompt, ...]:
        value = self.get(key, required)
        if value is None:
            return ()
        items = value if isinstance(value, list) else [value]
        out = []
        for item in items:
            if isinstance(item, str) and item.strip():
                prompt = m.Prompt(item.strip())
            elif isinstance(item, dict) and isinstance(item.get("file"), str) and item["file"].strip():
                extra = set(item) - {"file", "text"}
                if extra:
                    self.error(key, f"prompt has unknown field(s) {', '.join(map(str, sorted(extra)))} "
                                    "(allowed: file, text)")
                prompt = m.Prompt(item["file"].strip(), str(item.get("text") or ""))
            else:
                self.error(key, f"'{key}' must be a sound file name, {{file, text}} or a list of them, got {item!r}")
                continue
            if "${" not in prompt.file and not self.p.context.prompt_exists(prompt.file):
                self.error(key, f"prompt '{prompt.file}' does not exist (no sound file or catalogue entry)")
            out.append(prompt)
        if required and not out:
            self.error(key, f"'{key}' needs at least one prompt")
        return tuple(out)

    def tags(self, key: str) -> tuple[str, ...]:
        value = self.get(key, default=[])
        items = value if isinstance(value, list) else [value]
        out = []
        for item in items:
            if not isinstance(item, str | int) or isinstance(item, bool) or not str(item).strip() or "," in str(item):
                self.error(key, f"'{key}' must be a list of tags without commas, got {item!r}")
                continue
            out.append(str(item).strip())
        return tuple(out)

    def queue(self, key: str, required: bool = True) -> str | None:
        value = self.get(key, required)
        if value is None:
            return None
        name = str(value)
        if name not in self.p.context.queues:
            known = ", ".join(sorted(self.p.context.queues))
            self.error(key, f"queue '{name}' is not in the queue list ({known})")
        return name

    def finish(self) -> None:
        for key in self.body:
            if key not in self.used:
                self.error(key, f"unknown field '{key}' for a {self.body.get('type')} node")


class FlowParser:
    def __init__(self, path: str, context: Context) -> None:
        self.path = path
        self.context = context
        self.errors: list[FlowError] = []
        self.syntax_error = False     # not YAML: its flow's name and nodes are unknown
        self.refs: list[tuple[str, str, int, str]] = []  # (node, target, line, field)
        self.gotos: list[tuple[str, str, str | None, int]] = []  # (node, flow, node, line)
        self.name = ""
        self.declared: dict[str, int] = {}
        self.broken_edges = False
        self.start_line = 1

    def error(self, line: int, where: str, message: str) -> None:
        self.errors.append(FlowError(self.path, line, where, message))

    def parse(self, text: str) -> m.Flow | None:
        try:
            data = load_yaml(text)
        except YamlSyntaxError as exc:
            self.errors.append(FlowError(self.path, exc.line, "", str(exc), exc.column))
            self.syntax_error = True
            return None
        if not isinstance(data, LDict):
            self.error(1, "", "a flow file is a mapping with 'flow' and 'nodes'")
            return None
        for key, line in data.duplicates:
            self.error(line, "", f"duplicate key '{key}'")
        name = data.get("flow")
        if not isinstance(name, str) or not NAME_RE.match(name):
            self.error(data.line_of("flow"), "", f"'flow' must be a name (letters, digits, _ and -), got {name!r}")
            name = "?"
        self.name = name
        for key in data:
            if key not in ("flow", "description", "start", "nodes"):
                self.error(data.line_of(key), f"flow {name}", f"unknown top-level key '{key}'")
        nodes_data = data.get("nodes")
        if not isinstance(nodes_data, LDict) or not nodes_data:
            self.error(data.line_of("nodes"), f"flow {name}", "'nodes' must be a mapping of node id -> node")
            return None
        for key, line in nodes_data.duplicates:
            self.error(line, f"node {key}", "duplicate node id")
        nodes: dict[str, m.Node] = {}
        for node_id, body in nodes_data.items():
            node_id = str(node_id)
            line = nodes_data.line_of(node_id)
            if not NAME_RE.match(node_id):
                self.error(line, f"node {node_id}", "a node id is letters, digits, _ and -")
            if not isinstance(body, LDict):
                self.error(line, f"node {node_id}", "a node is a mapping with a 'type'")
                continue
            node = self._node(node_id, body, line)
            if node is not None:
                nodes[node_id] = node
        self.declared = {str(k): nodes_data.line_of(k) for k in nodes_data}
        start = data.get("start", next(iter(nodes_data), None))
        self.start_line = data.line_of("start")
        if start is not None and str(start) not in nodes_data:
            self.error(data.line_of("start"), f"flow {name}", f"start node '{start}' does not exist")
        # Built even with errors, so the graph checks can report their findings in the same run.
        return m.Flow(name, self.path, str(start), MappingProxyType(nodes), str(data.get("description") or ""))

    def _node(self, node_id: str, body: LDict, line: int) -> m.Node | None:
        kind = body.get("type")
        reader = getattr(self, f"_{kind}", None) if isinstance(kind, str) else None
        if reader is None:
            types = "play, menu, collect, set, condition, queue, transfer, goto, http, survey, hangup"
            self.error(body.line_of("type"), f"node {node_id}", f"unknown or missing type {kind!r} (one of: {types})")
            return None
        n = _Node(self, node_id, body, line)
        node = reader(n, node_id, line)
        n.finish()
        return node if n.ok else None

    # --- one reader per node type ----------------------------------------------------------------
    def _play(self, n: _Node, i: str, line: int):
        return m.Play(i, line, n.prompts("prompt", True), n.target("next"), n.flag("barge_in"))

    def _choices(self, n: _Node) -> dict[str, str]:
        raw = n.get("choices", True, {})
        if not isinstance(raw, LDict) or not raw:
            if raw:
                n.error("choices", "'choices' must map keys (0-9, *, #) to nodes")
            return {}
        out = {}
        for key, target in raw.items():
            digit = str(key)
            line = raw.line_of(key)
            if len(digit) != 1 or digit not in m.KEYS:
                self.error(line, f"node {n.id}", f"menu key {digit!r} is not one key (0-9, *, #)")
                n.ok = False
                continue
            if target is None or target == "":
                self.error(line, f"node {n.id}", f"menu key {digit} has no branch")
                n.ok = False
                continue
            self.refs.append((n.id, str(target), line, f"key {digit}"))
            out[digit] = str(target)
        return out

    def _menu(self, n: _Node, i: str, line: int):
        greeting = n.prompts("greeting", True)
        short = n.prompts("short") or greeting
        return m.Menu(i, line, greeting, short, MappingProxyType(self._choices(n)),
                      n.number("timeout", 5.0, 0.5, 60.0), n.number("max_retries", 1, 0, 9, True),
                      n.prompts("invalid_prompt"), n.prompts("timeout_prompt"),
                      n.target("on_invalid", False), n.target("on_timeout", False), n.target("exhausted", False))

    def _collect(self, n: _Node, i: str, line: int):
        pattern = None
        raw = n.get("pattern")
        if raw is not None:
            try:
                pattern = re.compile(str(raw))
            except re.error as exc:
                n.error("pattern", f"pattern {raw!r} is not a valid regular expression: {exc}")
        low, high = n.number("min_digits", 1, 0, 64, True), n.number("max_digits", 20, 1, 64, True)
        if low > high:
            n.error("min_digits", f"min_digits {low} is more than max_digits {high}")
        terminator = n.text("terminator", default="#")
        if terminator not in ("", *m.KEYS):
            n.error("terminator", f"terminator must be one key (0-9, *, #) or empty, got {terminator!r}")
        store = n.text("store", True)
        if store and not NAME_RE.match(store):
            n.error("store", f"'store' must be a variable name, got {store!r}")
        return m.Collect(i, line, n.prompts("prompt", True), store, n.target("next"), low, high, terminator,
                         n.number("first_digit_timeout", 6.0, 0.5, 60.0),
                         n.number("inter_digit_timeout", 3.0, 0.5, 30.0), pattern,
                         n.number("max_retries", 1, 0, 9, True), n.prompts("invalid_prompt"),
                         n.target("exhausted", False))

    def _set(self, n: _Node, i: str, line: int):
        raw = n.get("vars", default={})
        values = {}
        if not isinstance(raw, dict):
            n.error("vars", "'vars' must map variable names to values")
        else:
            for key, value in raw.items():
                if not NAME_RE.match(str(key)) or isinstance(value, dict | list):
                    n.error("vars", f"variable {key!r}: a name and a plain value are needed")
                    continue
                values[str(key)] = "" if value is None else str(value).lower() if isinstance(value, bool) \
                    else str(value)
        tags = n.tags("tags")
        if not values and not tags:
            n.error(None, "a set node needs 'vars' or 'tags'")
        return m.SetVars(i, line, MappingProxyType(values), tags, n.target("next"))

    def _test(self, n: _Node, raw, line: int) -> m.Test | None:
        def bad(message: str) -> None:
            self.error(line, f"node {n.id}", message)
            n.ok = False

        if isinstance(raw, str):
            if raw in CALENDAR_TESTS:
                return m.Test(raw)
            bad(f"unknown test {raw!r} (one of: {', '.join(CALENDAR_TESTS)}, or {{var: ..., equals: ...}})")
            return None
        if isinstance(raw, dict) and isinstance(raw.get("var"), str):
            ops = [op for op in ("equals", "in", "matches", "set") if op in raw]
            extra = set(raw) - {"var", "equals", "in", "matches", "set"}
            if len(ops) != 1 or extra:
                bad(f"a variable test has 'var' and one of equals, in, matches, set; got {dict(raw)!r}")
                return None
            op, value = ops[0], raw[ops[0]]
            if op == "in":
                if not isinstance(value, list):
                    bad(f"'in' takes a list, got {value!r}")
                    return None
                value = frozenset(str(v) for v in value)
            elif op == "matches":
                try:
                    value = re.compile(str(value))
                except re.error as exc:
                    bad(f"{value!r} is not a valid regular expression: {exc}")
                    return None
            elif op == "set":
                value = bool(value)
            else:
                value = "" if value is None else str(value)
            return m.Test("var", raw["var"], op, value)
        bad(f"a test is one of {', '.join(CALENDAR_TESTS)} or {{var: ..., equals: ...}}, got {raw!r}")
        return None

    def _condition(self, n: _Node, i: str, line: int):
        raw = n.get("cases", True, [])
        cases = []
        if not isinstance(raw, LList):
            n.error("cases", "'cases' must be a list of {if: <test>, then: <node>}")
            raw = LList()
        for index, case in enumerate(raw):
            case_line = raw.line_of(index)
            if not isinstance(case, LDict) or ("if" in case) == ("unless" in case) or "then" not in case \
                    or set(case) - {"if", "unless", "then"}:
                self.error(case_line, f"node {i}", "a case is {if: <test>, then: <node>} or {unless: ..., then: ...}")
                n.ok = False
                continue
            want = "if" in case
            test = self._test(n, case["if" if want else "unless"], case_line)
            target = case.get("then")
            if target is None:
                self.error(case_line, f"node {i}", "a case has no 'then' branch")
                n.ok = False
                continue
            self.refs.append((i, str(target), case.line_of("then"), "then"))
            if test is not None:
                cases.append((test, want, str(target)))
        return m.Condition(i, line, tuple(cases), n.target("else"))

    def _queue(self, n: _Node, i: str, line: int):
        return m.Queue(i, line, n.queue("queue"), n.number("priority", 0, 0, 100, True), n.tags("tags"),
                       n.flag("survey"), n.prompts("prompt"))

    def _transfer(self, n: _Node, i: str, line: int):
        hotline = n.text("hotline", True)
        if hotline and not hotline.isdigit():
            n.error("hotline", f"hotline must be a phone number, got {hotline!r}")
        elif hotline and self.context.hotlines is not None and hotline not in self.context.hotlines:
            n.error("hotline", f"hotline {hotline} is not in the hotline directory")
        return m.Transfer(i, line, hotline, n.prompts("prompt"), n.queue("queue", False))

    def _goto(self, n: _Node, i: str, line: int):
        flow = n.text("flow", True)
        node = n.get("node")
        self.gotos.append((i, flow, None if node is None else str(node), n.body.line_of("flow")))
        return m.Goto(i, line, flow, None if node is None else str(node))

    def _http(self, n: _Node, i: str, line: int):
        url = n.text("url", True)
        if url and not re.match(r"^https?://", url):
            n.error("url", f"url must start with http:// or https://, got {url!r}")
        method = n.text("method", default="GET").upper()
        if method not in ("GET", "POST"):
            n.error("method", f"method must be GET or POST, got {method!r}")
        store = n.text("store", default="http")
        if not NAME_RE.match(store):
            n.error("store", f"'store' must be a variable name, got {store!r}")
        return m.Http(i, line, url, n.target("next"), n.target("error"), method,
                      n.number("timeout", 3.0, 0.1, 30.0), store)

    def _survey(self, n: _Node, i: str, line: int):
        return m.Survey(i, line, n.prompts("prompt", True), n.number("timeout", 6.0, 0.5, 60.0),
                        n.number("max_retries", 1, 0, 9, True), n.prompts("invalid_prompt"), n.prompts("thanks"))

    def _hangup(self, n: _Node, i: str, line: int):
        return m.Hangup(i, line, n.prompts("prompt"))


def parse_flow(text: str, path: str, context: Context) -> tuple[m.Flow | None, FlowParser]:
    parser = FlowParser(path, context)
    return parser.parse(text), parser
