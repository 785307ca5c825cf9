"""The interpreter as a pure state machine: every node type, retries, limits; no sockets, no clock."""

from __future__ import annotations

import datetime as dt

from ivr_flows.interpreter import NO_INPUT, AskDigits, FetchUrl, Finish, Input, Interpreter, PlayPrompts
from ivr_flows.loader import load_texts
from ivr_flows.schema import Context

CTX = Context(frozenset({"public", "enterprise"}))
NOON = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))

FLOW = """\
flow: main
nodes:
  ask_id:
    type: collect
    prompt: p/id
    store: account
    min_digits: 4
    max_digits: 8
    pattern: "[0-9]+"
    first_digit_timeout: 5
    inter_digit_timeout: 2
    max_retries: 1
    exhausted: bye
    next: lookup
  lookup:
    type: http
    url: "http://127.0.0.1:1/account/${account}?caller=${caller}"
    timeout: 1
    store: acct
    next: route
    error: public
  route:
    type: condition
    cases:
      - if: {var: acct.kind, equals: company}
        then: vip
      - if: {var: acct.dept, matches: "^123"}
        then: to_dept
    else: public
  vip: {type: set, vars: {greeting: "hi ${account}"}, tags: [企业, "户号:${account}"], next: enterprise}
  enterprise: {type: queue, queue: enterprise, priority: 3}
  to_dept: {type: transfer, hotline: "12333", queue: enterprise}
  public: {type: queue, queue: public}
  bye: {type: hangup, prompt: p/bye}
"""


SIDE = "flow: side\nnodes:\n  back: {type: goto, flow: main, node: m}\n"


def start(text: str = FLOW, **kw):
    texts = {"main.yaml": text, **({"side.yaml": SIDE} if "flow: side" in text else {})}
    flows = load_texts(texts, CTX)
    interp = Interpreter(default_queue="public", **kw)
    state = interp.new_state(flows, "main", {"caller": "13800000001"})
    return interp, state, interp.start(state, NOON)


def test_collect_then_http_then_condition_to_enterprise_with_interpolated_tags():
    interp, st, action = start()
    assert action == AskDigits(action.prompts, 5.0, 8, "#", 2.0)
    action = interp.resume(st, Input("123456#"), NOON)
    assert action == FetchUrl("http://127.0.0.1:1/account/123456?caller=13800000001", "GET", 1.0)
    action = interp.resume(st, Input(ok=True, data={"kind": "company", "dept": "999"}), NOON)
    assert action == Finish("queue", "enterprise", 3, ("企业", "户号:123456"))
    assert st.vars["greeting"] == "hi 123456"
    assert [e for _f, _n, e in st.path] == ["digits 123456", "ok", "acct.kind == company", "set", "queue enterprise"]


def test_http_error_branch_and_transfer():
    interp, st, _ = start()
    interp.resume(st, Input("1234"), NOON)
    assert interp.resume(st, Input(ok=False), NOON) == Finish("queue", "public", 0, ())
    interp, st, _ = start()
    interp.resume(st, Input("1234"), NOON)
    action = interp.resume(st, Input(ok=True, data={"dept": "12333"}), NOON)
    assert action.kind == "transfer" and action.hotline == "12333" and action.queue == "enterprise"


def test_collect_retries_then_exhausted_branch_hangs_up():
    interp, st, _ = start()
    action = interp.resume(st, Input("12"), NOON)             # too short: asked again
    assert isinstance(action, AskDigits)
    action = interp.resume(st, NO_INPUT, NOON)
    assert action.kind == "hangup" and action.prompts[0].file == "p/bye"


LOOPY = """\
flow: main
nodes:
  a: {type: set, vars: {x: "1"}, next: m}
  m:
    type: menu
    greeting: p/m
    choices: {"1": a, "2": other}
  other: {type: goto, flow: side}
"""


def test_step_limit_sends_the_caller_to_the_default_queue():
    interp, st, action = start(LOOPY, max_steps=20)
    for _ in range(30):
        if isinstance(action, Finish):
            break
        action = interp.resume(st, Input("1"), NOON)
    assert action.queue == "public" and "step limit 20" in action.failure


def test_goto_depth_is_limited():
    flows = load_texts({"main.yaml": LOOPY, "side.yaml": SIDE}, CTX)
    interp = Interpreter(max_goto_depth=3)
    st = interp.new_state(flows, "main")
    action = interp.start(st, NOON)
    while not isinstance(action, Finish):
        action = interp.resume(st, Input("2"), NOON)
    assert action.queue == "public" and "goto depth 3 exceeded" in action.failure


def test_menu_exhausted_without_branch_uses_the_default_queue_and_retry_prompts():
    interp, st, action = start(LOOPY.replace("    choices:", "    invalid_prompt: p/bad\n    short: p/s\n    choices:"))
    assert [p.file for p in action.prompts] == ["p/m"]
    action = interp.resume(st, Input("7"), NOON)
    assert [p.file for p in action.prompts] == ["p/bad", "p/s"]
    assert interp.resume(st, NO_INPUT, NOON) == Finish("queue", "public", 0, ())


def test_barge_in_key_is_carried_to_the_menu_and_the_play_is_skipped_next_time():
    text = ("flow: main\nnodes:\n  w: {type: play, prompt: p/w, barge_in: true, next: m}\n"
            "  m: {type: menu, greeting: p/m, choices: {'1': q}}\n  q: {type: queue, queue: enterprise}\n")
    interp, st, action = start(text)
    assert isinstance(action, PlayPrompts) and action.escape == "0123456789*#"
    assert interp.resume(st, Input("1"), NOON).queue == "enterprise"
    assert st.keys == "1"


def test_same_inputs_same_outputs():
    runs = []
    for _ in range(2):
        interp, st, action = start()
        runs.append((action, interp.resume(st, Input("5555"), NOON), tuple(st.path)))
    assert runs[0] == runs[1]
