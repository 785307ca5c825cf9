"""The flow language as immutable values: prompts, the node types, a flow, a versioned set of flows."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

KEYS = "0123456789*#"
# The survey's answers (好差评): key -> rating stored with the call.
RATINGS = {"1": "satisfied", "2": "basically_satisfied", "3": "dissatisfied"}
RATING_LABELS = {"satisfied": "满意", "basically_satisfied": "基本满意", "dissatisfied": "不满意"}


@dataclass(frozen=True, slots=True)
class Prompt:
    """A sound file name (as STREAM FILE takes it) and, for people, what it says."""

    file: str
    text: str = ""


@dataclass(frozen=True, slots=True)
class Node:
    id: str
    line: int

    def targets(self) -> tuple[tuple[str, str], ...]:
        """(label, node id) for every branch that stays in this flow."""
        return ()


@dataclass(frozen=True, slots=True)
class Play(Node):
    prompts: tuple[Prompt, ...]
    next: str
    barge_in: bool = False

    def targets(self):
        return (("next", self.next),)


@dataclass(frozen=True, slots=True)
class Menu(Node):
    greeting: tuple[Prompt, ...]            # first attempt (long)
    short: tuple[Prompt, ...]               # retries (short)
    choices: Mapping[str, str]              # key -> node id
    timeout: float = 5.0                    # seconds to wait for a key after the greeting
    max_retries: int = 1                    # re-prompts after a missing or invalid key
    invalid_prompt: tuple[Prompt, ...] = ()
    timeout_prompt: tuple[Prompt, ...] = ()
    invalid: str | None = None              # branch on an invalid key instead of re-prompting
    no_input: str | None = None             # branch on no key instead of re-prompting
    exhausted: str | None = None            # None: the default queue

    def targets(self):
        out = [(f"key {k}", t) for k, t in self.choices.items()]
        out += [(label, t) for label, t in (("invalid", self.invalid), ("timeout", self.no_input),
                                            ("exhausted", self.exhausted)) if t]
        return tuple(out)


@dataclass(frozen=True, slots=True)
class Collect(Node):
    prompts: tuple[Prompt, ...]
    store: str
    next: str
    min_digits: int = 1
    max_digits: int = 20
    terminator: str = "#"
    first_digit_timeout: float = 6.0
    inter_digit_timeout: float = 3.0
    pattern: re.Pattern | None = None
    max_retries: int = 1
    invalid_prompt: tuple[Prompt, ...] = ()
    exhausted: str | None = None

    def targets(self):
        return (("next", self.next),) + ((("exhausted", self.exhausted),) if self.exhausted else ())


@dataclass(frozen=True, slots=True)
class SetVars(Node):
    values: Mapping[str, str]
    tags: tuple[str, ...]
    next: str

    def targets(self):
        return (("next", self.next),)


@dataclass(frozen=True, slots=True)
class Test:
    """One condition: ``kind`` is working_time, working_day, holiday, makeup_day, weekend, or var."""

    kind: str
    var: str = ""
    op: str = ""            # equals, in, matches, set
    value: object = None

    def describe(self) -> str:
        if self.kind != "var":
            return self.kind
        if self.op == "set":
            return f"{self.var} set"
        if self.op == "in":
            values = sorted(self.value)
            shown = ", ".join(values[:3]) + (f" … {len(values)} values" if len(values) > 3 else "")
            return f"{self.var} in [{shown}]"
        if self.op == "matches":
            return f"{self.var} matches {self.value.pattern}"
        return f"{self.var} == {self.value}"


@dataclass(frozen=True, slots=True)
class Condition(Node):
    cases: tuple[tuple[Test, bool, str], ...]    # (test, expected, target)
    otherwise: str

    def targets(self):
        return tuple((("" if want else "not ") + t.describe(), target) for t, want, target in self.cases) + (
            ("else", self.otherwise),)


@dataclass(frozen=True, slots=True)
class Queue(Node):
    queue: str
    priority: int = 0
    tags: tuple[str, ...] = ()
    survey: bool = False
    prompts: tuple[Prompt, ...] = ()


@dataclass(frozen=True, slots=True)
class Transfer(Node):
    hotline: str
    prompts: tuple[Prompt, ...] = ()
    queue: str | None = None              # where the caller returns when the department does not answer


@dataclass(frozen=True, slots=True)
class Goto(Node):
    flow: str
    node: str | None = None


@dataclass(frozen=True, slots=True)
class Http(Node):
    url: str
    next: str
    error: str
    method: str = "GET"
    timeout: float = 3.0
    store: str = "http"

    def targets(self):
        return (("ok", self.next), ("error", self.error))


@dataclass(frozen=True, slots=True)
class Survey(Node):
    prompts: tuple[Prompt, ...]
    timeout: float = 6.0
    max_retries: int = 1
    invalid_prompt: tuple[Prompt, ...] = ()
    thanks: tuple[Prompt, ...] = ()
    choices: Mapping[str, str] = field(default_factory=lambda: MappingProxyType(dict(RATINGS)))


@dataclass(frozen=True, slots=True)
class Hangup(Node):
    prompts: tuple[Prompt, ...] = ()


TERMINALS = (Queue, Transfer, Goto, Survey, Hangup)


@dataclass(frozen=True)
class Flow:
    name: str
    path: str
    start: str
    nodes: Mapping[str, Node]
    description: str = ""
    digest: str = ""

    def node(self, node_id: str) -> Node:
        return self.nodes[node_id]


@dataclass(frozen=True)
class FlowSet:
    """Every flow of one load; ``version`` is the hash of all their contents (logged with each call)."""

    flows: Mapping[str, Flow]
    version: str

    def __contains__(self, name: object) -> bool:
        return name in self.flows

    def __getitem__(self, name: str) -> Flow:
        return self.flows[name]
