"""The manager *write classes* the layer's actions need (issue 17: least privilege on the AMI too).

Asterisk runs an action for a user whose ``write=`` shares a class with the action's authority
(manager.c ``process_message``: ``writeperm & act->authority``, or an action with authority 0).
``ACTION_CLASS`` maps each action the layer sends to the one class we grant for it, from the
registrations in Asterisk 22's source (``ast_manager_register_xml``); ``None``: no class needed.
``config/asterisk/manager_cti.conf``'s ``write=`` is exactly the classes of the actions the code sends:
``tests/test_ami_writes.py`` finds them in the code and checks both ways. ``system`` is never needed:
an Originate of ChanSpy or of a dialplan extension is ``originate`` (only System/Exec-like applications
would need ``system``, manager.c's restricted applications).
"""

from __future__ import annotations

import re
from pathlib import Path

ACTION_CLASS: dict[str, str | None] = {
    "Login": None, "Logoff": None, "Ping": None,          # authority 0
    "Originate": "originate",                             # manager.c: EVENT_FLAG_ORIGINATE
    "Setvar": "call",                                     # manager.c: EVENT_FLAG_CALL
    "Hangup": "call",                                     # manager.c: SYSTEM | CALL (either suffices)
    "BlindTransfer": "call",                              # manager.c: EVENT_FLAG_CALL
    "PlayDTMF": "call",                                   # app_senddtmf.c: EVENT_FLAG_CALL
    "QueueAdd": "agent", "QueueRemove": "agent", "QueuePause": "agent",   # app_queue.c: EVENT_FLAG_AGENT
    "QueueStatus": None, "QueueSummary": None,            # app_queue.c: authority 0
    "CoreShowChannels": "reporting",                      # manager.c: SYSTEM | REPORTING
    "Getvar": "call",                                     # manager.c: CALL | REPORTING (the switch's identity; an adopted call's CTI_HOTLINE, CTI_TAGS)
}

# Where the layer builds actions: every literal Action key with its name, outside the PBX simulator.
CODE_DIRS = ("cti", "ivr_flows", "queue_monitor", "recordings")
_ACTION = re.compile(r"""["']Action["']\s*:\s*["'](\w+)["']""")


def actions_in_code(root: Path) -> dict[str, set[str]]:
    """Action name -> the files (relative to ``root``) that send it."""
    found: dict[str, set[str]] = {}
    for folder in CODE_DIRS:
        for path in (root / folder).rglob("*.py"):
            if "simulator" in path.parts:
                continue
            for name in _ACTION.findall(path.read_text(encoding="utf-8")):
                found.setdefault(name, set()).add(str(path.relative_to(root)))
    return found


def write_classes(actions) -> set[str]:
    """The write classes the ``actions`` need (KeyError for an action missing from the table)."""
    return {cls for a in actions if (cls := ACTION_CLASS[a]) is not None}
