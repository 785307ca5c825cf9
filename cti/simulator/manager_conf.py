"""manager.conf users as Asterisk 22 applies them to events: read classes, then eventfilter lines.

Source of the rules (manager.c, checked on the real switch, DESIGN.md section 5): an event reaches a
session only if one of its classes (the ``Privilege`` header, e.g. ``dialplan`` for VarSet) is in the
user's ``read=``; then, when the user has ``eventfilter`` lines, the whole event text (``Event: ...\\r\\n
Privilege: ...\\r\\n...``) must match at least one allowing filter and no ``!`` (denying) filter. The
filters are POSIX extended regexes searched without REG_NEWLINE, so ``.`` also matches line ends.
By default the simulator reads the shipped ``config/asterisk/manager_cti.conf``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from cti import shipped_config

SHIPPED_MANAGER = shipped_config.asterisk("manager_cti.conf")   # the checkout's config/ or the wheel's copy
ALL_CLASSES = None   # read = all


@dataclass
class ManagerUser:
    name: str
    secret: str
    read: set[str] | None = ALL_CLASSES           # None: every class
    allow: list[re.Pattern] = field(default_factory=list)
    deny: list[re.Pattern] = field(default_factory=list)

    def passes(self, message: list[tuple[str, str]]) -> bool:
        """True when Asterisk would send this event to a session of this user."""
        if self.read is not None:
            priv = next((v for k, v in message if k == "Privilege"), "")
            if not ({c.strip() for c in priv.split(",")} - {"all"}) & self.read:
                return False
        if not self.allow and not self.deny:
            return True
        text = "".join(f"{k}: {v}\r\n" for k, v in message)
        if any(p.search(text) for p in self.deny):
            return False
        return not self.allow or any(p.search(text) for p in self.allow)


def _classes(value: str) -> set[str] | None:
    names = {c.strip().lower() for c in value.split(",") if c.strip()}
    return None if "all" in names else names


def load_manager_users(path: str | Path) -> dict[str, ManagerUser]:
    """Every ``[user]`` section of a manager.conf-style file (``[general]`` skipped); ``;`` starts a comment."""
    users: dict[str, ManagerUser] = {}
    section: ManagerUser | None = None
    for raw in Path(path).read_text(encoding="utf-8").splitlines():
        line = raw.split(";", 1)[0].strip()
        if not line:
            continue
        if line.startswith("[") and "]" in line:
            name = line[1:line.index("]")].strip()
            section = None if name == "general" else users.setdefault(name, ManagerUser(name, ""))
            continue
        if section is None or "=" not in line:
            continue
        key, _, value = (part.strip() for part in line.partition("="))
        key = key.lower()
        if key == "secret":
            section.secret = value
        elif key == "read":
            section.read = _classes(value)
        elif key == "eventfilter":
            target = section.deny if value.startswith("!") else section.allow
            target.append(re.compile(value.lstrip("!"), re.DOTALL))
    return users


__all__ = ["ManagerUser", "SHIPPED_MANAGER", "load_manager_users"]
