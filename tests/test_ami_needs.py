"""The shipped manager user (config/asterisk/manager_cti.conf) delivers every event the consumers handle.

Asterisk sends an event to a user only when ``read=`` holds the event's class, and, once a user has an
``eventfilter``, only when one filter matches the event text (manager.c: POSIX extended regex, REG_NOSUB,
without REG_NEWLINE, so ``.`` also matches a line end: Python's ``re.DOTALL``). On the real switch a
user without ``dialplan`` got no VarSet at all, and three-way calls never merged.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from cti.ami.needs import NEEDED_EVENTS, NEEDED_USER_EVENTS, NEEDED_VARIABLES, sample_event
from cti.calls.tracker import CallTracker
from queue_monitor.engine import QueueEngine

ROOT = Path(__file__).resolve().parents[1]
MANAGER = ROOT / "config" / "asterisk" / "manager_cti.conf"


def shipped_user() -> tuple[set[str], list[re.Pattern]]:
    """The ``[cti]`` user's read classes and eventfilters, as Asterisk reads them (``;`` starts a comment)."""
    classes: set[str] = set()
    filters: list[re.Pattern] = []
    for raw in MANAGER.read_text(encoding="utf-8").splitlines():
        line = raw.split(";", 1)[0].strip()
        if "=" not in line:
            continue
        key, value = (part.strip() for part in line.split("=", 1))
        if key == "read":
            classes |= {c.strip() for c in value.split(",")}
        elif key == "eventfilter":
            assert not value.startswith("!"), "a negative filter would need its own handling here"
            filters.append(re.compile(value, re.DOTALL))
    return classes, filters


def delivered(text: str, name: str, classes: set[str], filters: list[re.Pattern]) -> bool:
    cls = NEEDED_EVENTS[name][0]
    return ("all" in classes or cls in classes) and (not filters or any(f.search(text) for f in filters))


def test_given_the_shipped_manager_user_then_every_needed_event_passes_its_read_classes_and_filters():
    classes, filters = shipped_user()
    # VarSet is needed for some variables only: checked one variable at a time below
    missing = [name for name in NEEDED_EVENTS
               if name != "VarSet" and not delivered(sample_event(name), name, classes, filters)]
    assert missing == [], f"manager_cti.conf does not deliver: {missing}"


def test_given_the_shipped_manager_user_then_the_varsets_and_user_events_the_consumers_read_arrive():
    classes, filters = shipped_user()
    for variable in NEEDED_VARIABLES:
        for name in (variable, f"__{variable}"):   # Set(__X=...) is reported with its underscores
            assert delivered(sample_event("VarSet", variable=name), "VarSet", classes, filters), name
    for user_event in NEEDED_USER_EVENTS:
        assert delivered(sample_event("UserEvent", user_event=user_event), "UserEvent", classes, filters), user_event


def test_given_the_shipped_filters_then_the_noisy_events_a_busy_centre_emits_stay_out():
    classes, filters = shipped_user()
    assert not any(f.search(sample_event("Newexten")) for f in filters)
    assert not any(f.search(sample_event("VarSet", variable="BRIDGEPEER")) for f in filters)


def test_given_the_consumers_then_every_event_they_handle_is_in_the_one_list():
    handled = set(QueueEngine()._handlers)
    handled |= {name for name in NEEDED_EVENTS if hasattr(CallTracker, f"_on_{name.lower()}")}
    tracker_methods = {m[4:] for m, _ in inspect.getmembers(CallTracker) if m.startswith("_on_")}
    known = {n.lower(): n for n in NEEDED_EVENTS}
    unknown = sorted(m for m in tracker_methods if m not in known)
    assert unknown == [], f"cti.calls.tracker handles events missing from cti/ami/needs.py: {unknown}"
    # the other consumers name the events they handle in `msg.name == "..."` tests
    for module in ("recordings/part.py", "cti/outbound/originate.py", "cti/outbound/part.py",
                   "cti/outbound/linkage.py", "queue_monitor/part.py"):
        source = (ROOT / module).read_text(encoding="utf-8")
        handled |= set(re.findall(r'name [!=]= "([A-Za-z]+)"', source))
    # the engine also reads QueueStatus list events (QueueParams, QueueMember, QueueEntry) at a resync:
    # those are the answer to an action, never filtered
    handled -= {"QueueParams", "QueueMember", "QueueEntry", "QueueMemberPaused"}
    assert sorted(handled - set(NEEDED_EVENTS)) == []
