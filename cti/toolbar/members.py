"""An agent's state as its queues see it, from AMI queue-member events: pure (events in, state out).

Fields as app_queue sends them (QueueMemberAdded / QueueMemberStatus / QueueMemberPause /
QueueMemberRemoved, and the QueueMember entries of a QueueStatus answer after a reconnect):
``Queue``, ``Interface`` (``Location`` in QueueStatus), ``Status`` (device state, devicestate.h),
``Paused``, ``PausedReason``, ``InCall``.
"""

from __future__ import annotations

from dataclasses import dataclass

# include/asterisk/devicestate.h enum ast_device_state -> what the agent reads (the wallboard's words)
STATUS_LABELS = {0: "未知", 1: "空闲", 2: "通话中", 3: "忙", 4: "无效", 5: "不可用", 6: "振铃中",
                 7: "通话中", 8: "保持中"}
MEMBER_EVENTS = frozenset({"QueueMemberAdded", "QueueMemberStatus", "QueueMemberPause", "QueueMemberPaused"})


@dataclass
class Member:
    status: int = 0
    paused: bool = False
    reason: str = ""
    in_call: bool = False


def _int(value: str | None, default: int = 0) -> int:
    try:
        return int(value or default)
    except ValueError:
        return default


class MemberStates:
    """Queue membership by interface: ``{interface: {queue: Member}}``."""

    def __init__(self) -> None:
        self.members: dict[str, dict[str, Member]] = {}

    def feed(self, msg) -> None:
        name = msg.name
        if name == "QueueMemberRemoved":
            iface = msg.get("Interface") or msg.get("Location", "")
            self.members.get(iface, {}).pop(msg.get("Queue", ""), None)
            return
        if name in MEMBER_EVENTS or name == "QueueMember":
            self._update(msg)

    def _update(self, msg) -> None:
        iface, queue = msg.get("Interface") or msg.get("Location", ""), msg.get("Queue", "")
        if not iface or not queue:
            return
        m = self.members.setdefault(iface, {}).setdefault(queue, Member())
        if msg.get("Status") is not None:
            m.status = _int(msg.get("Status"))
        if msg.get("Paused") is not None:
            m.paused = msg.get("Paused") == "1"
            m.reason = msg.get("PausedReason", "") if m.paused else ""
        if msg.get("InCall") is not None:
            m.in_call = msg.get("InCall") == "1"

    def reset(self, queue_status) -> None:
        """After a (re)connect: what QueueStatus says now replaces everything known."""
        self.members = {}
        for msg in queue_status:
            if msg.name == "QueueMember":
                self._update(msg)

    def queues(self) -> list[str]:
        return sorted({q for by_queue in self.members.values() for q in by_queue})

    def of(self, interface: str) -> dict:
        """The agent's state: signed-in queues, paused and why, the device state, a Chinese label."""
        by_queue = self.members.get(interface, {})
        if not by_queue:
            return {"signed_in": False, "queues": [], "paused": False, "reason": "", "status": None,
                    "label": "未签入"}
        paused = [m for m in by_queue.values() if m.paused]
        status = max((m.status for m in by_queue.values()), key=lambda s: (s in (2, 3, 6, 7, 8), s))
        label = STATUS_LABELS.get(status, "未知")
        if paused and status in (0, 1):
            label = "示忙"
        elif status == 1:
            label = "就绪"
        return {"signed_in": True, "queues": sorted(by_queue), "paused": bool(paused),
                "reason": paused[0].reason if paused else "", "status": status, "label": label}
