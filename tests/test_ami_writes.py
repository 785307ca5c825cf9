"""The shipped manager user may send exactly the actions the layer sends (issue 17): its write= holds
the classes of the actions found in the code, and nothing more (it granted `system`, which no action
of the layer needs)."""

from __future__ import annotations

from pathlib import Path

from cti.ami_writes import ACTION_CLASS, actions_in_code, write_classes

ROOT = Path(__file__).resolve().parents[1]
MANAGER = ROOT / "config" / "asterisk" / "manager_cti.conf"


def shipped_write() -> set[str]:
    for raw in MANAGER.read_text(encoding="utf-8").splitlines():
        key, _, value = raw.split(";", 1)[0].partition("=")
        if key.strip() == "write":
            return {c.strip() for c in value.split(",") if c.strip()}
    return set()


def test_every_action_the_code_sends_has_its_class_in_the_table():
    used = actions_in_code(ROOT)
    assert {"Originate", "Hangup", "QueueAdd", "CoreShowChannels", "Login"} <= set(used)   # the scan finds them
    unknown = {a: sorted(files) for a, files in used.items() if a not in ACTION_CLASS}
    assert unknown == {}, "add these actions and their manager class to cti/ami_writes.py"


def test_the_shipped_write_classes_are_exactly_those_the_actions_need():
    needed = write_classes(actions_in_code(ROOT))
    assert shipped_write() == needed
    assert "system" not in needed and "all" not in shipped_write()
