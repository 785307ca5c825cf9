"""Walk a flow in the terminal: the prompts the caller hears and every decision, at a chosen time.

Keys are consumed by the inputs in order (menus, digit collection, the survey); ``-`` (or an empty
item) is "no key", ``h`` hangs up; when the keys run out the caller presses nothing more.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable

from ivr_flows import model as m
from ivr_flows.interpreter import AskDigits, FetchUrl, Finish, Input, Interpreter, PlayPrompts

Printer = Callable[[str], None]


def _say(prompts: Iterable[m.Prompt], catalogue: dict[str, dict]) -> str:
    out = []
    for p in prompts:
        text = p.text or catalogue.get(p.file, {}).get("text", "")
        out.append(f"{p.file} 「{text}」" if text else p.file)
    return " + ".join(out)


def describe_time(when: dt.datetime, interp: Interpreter) -> str:
    cal = interp.calendar
    day = when.date()
    notes = [when.strftime("%Y-%m-%d %H:%M %A")]
    name = cal.holiday_name(day)
    if name:
        notes.append(f"holiday {name}")
    if cal.is_makeup_day(day):
        notes.append("make-up working day")
    notes.append("working time" if cal.is_working_time(when) else "after hours")
    if not cal.knows(day):
        notes.append("(date beyond the known calendar)")
    return ", ".join(notes)


def simulate(flows: m.FlowSet, interp: Interpreter, flow: str, keys: list[str], when: dt.datetime,
             variables: dict[str, str], out: Printer = print, catalogue: dict | None = None,
             fetch: Callable[[FetchUrl], Input] | None = None) -> Finish | None:
    catalogue = catalogue or {}
    keys = list(keys)
    state = interp.new_state(flows, flow, variables)
    out(f"flow {flow} (flows version {flows.version}) at {describe_time(when, interp)}")
    shown = 0

    def show_path() -> None:
        nonlocal shown
        for f, node, what in state.path[shown:]:
            out(f"  [{f}/{node}] {what}")
        shown = len(state.path)

    action = interp.start(state, when)
    while True:
        show_path()
        if isinstance(action, Finish):
            break
        if isinstance(action, PlayPrompts):
            out(f"  play  {_say(action.prompts, catalogue)}" + ("  (barge-in allowed)" if action.escape else ""))
            event = Input("")
        elif isinstance(action, AskDigits):
            key = keys.pop(0).strip() if keys else "-"
            out(f"  ask   {_say(action.prompts, catalogue)}  (up to {action.max_digits} key(s), "
                f"{action.first_timeout:g} s)  <- {'no key' if key in ('', '-') else key}")
            if key.lower() == "h":
                out("  caller hangs up")
                return None
            event = Input("", timed_out=True) if key in ("", "-") else Input(key)
        else:
            result = fetch(action) if fetch is not None else Input(ok=False)
            out(f"  http  {action.method} {action.url} -> {'ok' if result.ok else 'error'}")
            event = result
        action = interp.resume(state, event, when)
    if action.prompts:
        out(f"  play  {_say(action.prompts, catalogue)}")
    if action.failure:
        out(f"=> IVR failed ({action.failure}): default queue {action.queue}")
    elif action.kind == "queue":
        out(f"=> queue {action.queue}" + (f" priority {action.priority}" if action.priority else "") +
            (f" tags {','.join(action.tags)}" if action.tags else "") + (" then survey" if action.survey else ""))
    elif action.kind == "transfer":
        out(f"=> transfer to hotline {action.hotline} (back to queue {action.queue} if no answer)")
    elif action.kind == "survey":
        rating = action.rating
        out(f"=> rating {rating} {m.RATING_LABELS.get(rating, '')}" if rating else "=> no rating")
    else:
        out("=> hang up")
    if state.keys:
        out(f"   keys {state.keys}")
    return action
