"""The flow interpreter: a pure state machine (no I/O, no clock: time is an input).

    action = interp.start(state, now)           # state = interp.new_state(flows, "main", {...})
    while not isinstance(action, Finish):
        action = interp.resume(state, Input(...), now)

``start``/``resume`` walk the nodes that need nothing from the caller (set, condition, goto, and a
play skipped by barge-in) and stop at the first that does, returning what the driver must do:
play prompts, ask for digits, fetch a URL, or finish (queue, transfer, survey result, hang up).
Whatever goes wrong inside (step limit, goto depth, a missing node) finishes in the default queue.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from cti.calendar import WorkCalendar
from ivr_flows import model as m

_VAR = re.compile(r"\$\{([^}]*)\}")


# --- what the driver is asked to do ---------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class PlayPrompts:
    """Play the prompts; with ``escape`` a key stops them (barge-in) and is reported back."""

    prompts: tuple[m.Prompt, ...]
    escape: str = ""


@dataclass(frozen=True, slots=True)
class AskDigits:
    """Play the prompts and collect up to ``max_digits`` keys (GET DATA)."""

    prompts: tuple[m.Prompt, ...]
    first_timeout: float
    max_digits: int = 1
    terminator: str = "#"
    inter_timeout: float = 0.0


@dataclass(frozen=True, slots=True)
class FetchUrl:
    url: str
    method: str = "GET"
    timeout: float = 3.0


@dataclass(frozen=True, slots=True)
class Finish:
    """The end of the IVR: ``kind`` is queue, transfer, survey or hangup."""

    kind: str
    queue: str | None = None
    priority: int = 0
    tags: tuple[str, ...] = ()
    hotline: str | None = None
    survey: bool = False
    rating: str | None = None
    prompts: tuple[m.Prompt, ...] = ()
    failure: str | None = None


Action = PlayPrompts | AskDigits | FetchUrl | Finish


@dataclass(frozen=True, slots=True)
class Input:
    """What happened: keys pressed (``digits``), the wait ran out, or an HTTP reply (``ok``, ``data``)."""

    digits: str = ""
    timed_out: bool = False
    ok: bool = True
    data: dict | None = None


NO_INPUT = Input("", timed_out=True)


@dataclass(slots=True)
class CallState:
    """One call's progress; owned by its driver, changed only by the interpreter."""

    flows: m.FlowSet
    flow: m.Flow
    node: m.Node | None = None
    vars: dict[str, str] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    path: list[tuple[str, str, str]] = field(default_factory=list)   # (flow, node, what happened)
    steps: int = 0
    depth: int = 0
    tries: dict[tuple[str, str], int] = field(default_factory=dict)
    pending: str = ""             # keys pressed during a barge-in play, for the next menu
    prefix: tuple[m.Prompt, ...] = ()   # invalid/timeout prompt to play before the next ask
    rating: str | None = None
    result: Finish | None = None

    @property
    def keys(self) -> str:
        """Every key the caller pressed, in order."""
        out = []
        for _f, _n, what in self.path:
            if what.startswith("key "):
                out.append(what[4:])
            elif what.startswith("digits "):
                out.append(what[7:])
        return ",".join(out)


class FlowFailure(Exception):
    pass


class Interpreter:
    def __init__(self, calendar: WorkCalendar | None = None, default_queue: str = "public",
                 max_steps: int = 200, max_goto_depth: int = 8) -> None:
        self.calendar = calendar or WorkCalendar()
        self.default_queue = default_queue
        self.max_steps = max_steps
        self.max_goto_depth = max_goto_depth
        self._enter_by_type = {
            m.Play: self._enter_play, m.Menu: self._enter_menu, m.Collect: self._enter_collect,
            m.SetVars: self._enter_set, m.Condition: self._enter_condition, m.Queue: self._enter_queue,
            m.Transfer: self._enter_transfer, m.Goto: self._enter_goto, m.Http: self._enter_http,
            m.Survey: self._enter_survey, m.Hangup: self._enter_hangup,
        }
        self._input_by_type = {
            m.Play: self._input_play, m.Menu: self._input_menu, m.Collect: self._input_collect,
            m.Http: self._input_http, m.Survey: self._input_survey,
        }

    # --- entry points -----------------------------------------------------------------------------
    def new_state(self, flows: m.FlowSet, flow: str, variables: dict[str, str] | None = None,
                  tags: list[str] | None = None) -> CallState:
        return CallState(flows, flows[flow], vars=dict(variables or {}), tags=list(tags or ()))

    def start(self, state: CallState, now: dt.datetime, node: str | None = None) -> Action:
        return self._walk(state, node or state.flow.start, now)

    def resume(self, state: CallState, event: Input, now: dt.datetime) -> Action:
        if state.result is not None:
            return state.result
        node = state.node
        handler = self._input_by_type.get(type(node))
        if handler is None:
            return self._fail(state, f"no input expected at node {node.id if node else '-'}")
        try:
            outcome = handler(state, node, event)
        except FlowFailure as exc:
            return self._fail(state, str(exc))
        if isinstance(outcome, str):
            return self._walk(state, outcome, now)
        if isinstance(outcome, Finish):
            state.result = outcome
        return outcome

    # --- the walk ------------------------------------------------------------------------------------
    def _walk(self, st: CallState, node_id: str, now: dt.datetime) -> Action:
        enter = self._enter_by_type
        try:
            while True:
                st.steps += 1
                if st.steps > self.max_steps:
                    raise FlowFailure(f"step limit {self.max_steps} reached at node {node_id}")
                node = st.flow.nodes.get(node_id)
                if node is None:
                    raise FlowFailure(f"flow {st.flow.name} has no node {node_id}")
                st.node = node
                outcome = enter[type(node)](st, node, now)
                if isinstance(outcome, str):
                    node_id = outcome
                    continue
                if isinstance(outcome, Finish):
                    st.result = outcome
                return outcome
        except FlowFailure as exc:
            return self._fail(st, str(exc))

    def _fail(self, st: CallState, reason: str) -> Finish:
        st.path.append((st.flow.name, st.node.id if st.node else "-", f"failed: {reason}"))
        st.result = Finish("queue", self.default_queue, 0, tuple(st.tags), failure=reason)
        return st.result

    def _note(self, st: CallState, node: m.Node, what: str) -> None:
        st.path.append((st.flow.name, node.id, what))

    def interpolate(self, st: CallState, text: str) -> str:
        if "${" not in text:
            return text
        return _VAR.sub(lambda mt: st.vars.get(mt.group(1).strip(), ""), text)

    def _prompts(self, st: CallState, prompts: tuple[m.Prompt, ...]) -> tuple[m.Prompt, ...]:
        if not any("${" in p.file for p in prompts):
            return prompts
        return tuple(m.Prompt(self.interpolate(st, p.file), p.text) for p in prompts)

    def _ask_prompts(self, st: CallState, prompts: tuple[m.Prompt, ...]) -> tuple[m.Prompt, ...]:
        prefix, st.prefix = st.prefix, ()
        return prefix + self._prompts(st, prompts)

    def _retry(self, st: CallState, node: m.Node, max_retries: int, prompt: tuple[m.Prompt, ...],
               exhausted: str | None) -> str | None:
        """Count a failed input; None to ask again, else where to go (the default queue as '')."""
        key = (st.flow.name, node.id)
        tries = st.tries.get(key, 0) + 1
        st.tries[key] = tries
        if tries > max_retries:
            st.tries[key] = 0
            return exhausted if exhausted is not None else ""
        st.prefix = self._prompts(st, prompt)
        return None

    def _default_queue(self, st: CallState, why: str) -> Finish:
        st.path.append((st.flow.name, st.node.id, why))
        return Finish("queue", self.default_queue, 0, tuple(st.tags))

    # --- nodes -------------------------------------------------------------------------------------
    def _enter_play(self, st: CallState, node: m.Play, now):
        if st.pending and node.barge_in:
            self._note(st, node, f"skipped by key {st.pending}")
            return node.next
        return PlayPrompts(self._prompts(st, node.prompts), m.KEYS if node.barge_in else "")

    def _input_play(self, st: CallState, node: m.Play, event: Input):
        if event.digits:
            st.pending = event.digits
            self._note(st, node, f"barge-in {event.digits}")
        else:
            self._note(st, node, "played")
        return node.next

    def _enter_menu(self, st: CallState, node: m.Menu, now):
        if st.pending:
            key, st.pending = st.pending[0], st.pending[1:]
            return self._input_menu(st, node, Input(key))
        first = st.tries.get((st.flow.name, node.id), 0) == 0 and not st.prefix
        prompts = node.greeting if first else node.short
        return AskDigits(self._ask_prompts(st, prompts), node.timeout, 1, "#", node.timeout)

    def _input_menu(self, st: CallState, node: m.Menu, event: Input):
        key = event.digits[:1]
        if key and key in node.choices:
            st.tries[(st.flow.name, node.id)] = 0
            self._note(st, node, f"key {key}")
            return node.choices[key]
        if key:
            self._note(st, node, f"invalid key {key}")
            branch, prompt = node.invalid, node.invalid_prompt
        else:
            self._note(st, node, "no key")
            branch, prompt = node.no_input, node.timeout_prompt
        where = self._retry(st, node, node.max_retries, prompt, node.exhausted)
        if where is None:
            if branch is not None:
                return branch
            return self._enter_menu(st, node, None)
        if where == "":
            return self._default_queue(st, "exhausted: default queue")
        return where

    def _enter_collect(self, st: CallState, node: m.Collect, now):
        return AskDigits(self._ask_prompts(st, node.prompts), node.first_digit_timeout, node.max_digits,
                         node.terminator, node.inter_digit_timeout)

    def _input_collect(self, st: CallState, node: m.Collect, event: Input):
        digits = (st.pending + event.digits) if st.pending else event.digits
        st.pending = ""
        if node.terminator and node.terminator in digits:
            digits = digits.split(node.terminator, 1)[0]
        valid = node.min_digits <= len(digits) <= node.max_digits and \
            (node.pattern is None or node.pattern.fullmatch(digits) is not None)
        if valid:
            st.vars[node.store] = digits
            self._note(st, node, f"digits {digits}")
            return node.next
        self._note(st, node, f"invalid digits {digits}" if digits else "no digits")
        where = self._retry(st, node, node.max_retries, node.invalid_prompt, node.exhausted)
        if where is None:
            return self._enter_collect(st, node, None)
        if where == "":
            return self._default_queue(st, "exhausted: default queue")
        return where

    def _enter_set(self, st: CallState, node: m.SetVars, now):
        for name, value in node.values.items():
            st.vars[name] = self.interpolate(st, value)
        for tag in node.tags:
            tag = self.interpolate(st, tag)
            if tag and tag not in st.tags:
                st.tags.append(tag)
        self._note(st, node, "set")
        return node.next

    def _test(self, st: CallState, test: m.Test, now: dt.datetime) -> bool:
        kind = test.kind
        if kind == "var":
            value = st.vars.get(test.var)
            if test.op == "set":
                return bool(value) == test.value
            value = value or ""
            if test.op == "equals":
                return value == test.value
            if test.op == "in":
                return value in test.value
            return test.value.search(value) is not None
        cal = self.calendar
        if kind == "working_time":
            return cal.is_working_time(now)
        if kind == "working_day":
            return cal.is_working_day(now.date())
        if kind == "holiday":
            return cal.is_holiday(now.date())
        if kind == "makeup_day":
            return cal.is_makeup_day(now.date())
        if kind == "weekend":
            return now.weekday() >= 5
        raise FlowFailure(f"unknown test {kind}")

    def _enter_condition(self, st: CallState, node: m.Condition, now):
        for test, want, target in node.cases:
            if self._test(st, test, now) == want:
                self._note(st, node, ("" if want else "not ") + test.describe())
                return target
        self._note(st, node, "else")
        return node.otherwise

    def _enter_queue(self, st: CallState, node: m.Queue, now):
        for tag in node.tags:
            tag = self.interpolate(st, tag)
            if tag and tag not in st.tags:
                st.tags.append(tag)
        self._note(st, node, f"queue {node.queue}")
        return Finish("queue", node.queue, node.priority, tuple(st.tags), survey=node.survey,
                      prompts=self._prompts(st, node.prompts))

    def _enter_transfer(self, st: CallState, node: m.Transfer, now):
        self._note(st, node, f"transfer {node.hotline}")
        return Finish("transfer", node.queue or self.default_queue, 0, tuple(st.tags), hotline=node.hotline,
                      prompts=self._prompts(st, node.prompts))

    def _enter_goto(self, st: CallState, node: m.Goto, now):
        st.depth += 1
        if st.depth > self.max_goto_depth:
            raise FlowFailure(f"goto depth {self.max_goto_depth} exceeded at node {node.id}")
        flow = st.flows.flows.get(node.flow)
        if flow is None:
            raise FlowFailure(f"goto to unknown flow {node.flow}")
        self._note(st, node, f"goto {node.flow}")
        st.flow = flow
        return node.node or flow.start

    def _enter_http(self, st: CallState, node: m.Http, now):
        return FetchUrl(self.interpolate(st, node.url), node.method, node.timeout)

    def _input_http(self, st: CallState, node: m.Http, event: Input):
        if not event.ok:
            self._note(st, node, "error")
            return node.error
        for key, value in (event.data or {}).items():
            if isinstance(value, str | int | float | bool):
                st.vars[f"{node.store}.{key}"] = str(value)
        self._note(st, node, "ok")
        return node.next

    def _enter_survey(self, st: CallState, node: m.Survey, now):
        return AskDigits(self._ask_prompts(st, node.prompts), node.timeout, 1, "#", node.timeout)

    def _input_survey(self, st: CallState, node: m.Survey, event: Input):
        key = event.digits[:1]
        rating = node.choices.get(key) if key else None
        if rating is not None:
            st.rating = rating
            self._note(st, node, f"key {key}")
            return Finish("survey", tags=tuple(st.tags), rating=rating, prompts=node.thanks)
        self._note(st, node, f"invalid key {key}" if key else "no key")
        where = self._retry(st, node, node.max_retries, node.invalid_prompt, None)
        if where is None:
            return self._enter_survey(st, node, None)
        return Finish("survey", tags=tuple(st.tags), rating=None)

    def _enter_hangup(self, st: CallState, node: m.Hangup, now):
        self._note(st, node, "hangup")
        return Finish("hangup", tags=tuple(st.tags), prompts=self._prompts(st, node.prompts))
