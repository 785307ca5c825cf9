"""What the layer's consumers need from the AMI: one list, checked against the shipped manager user.

``NEEDED_EVENTS`` maps each AMI event that a consumer handles to the manager *read class* that carries
it (Asterisk only sends an event to a user whose ``read=`` has the class; an ``eventfilter`` can only
narrow that). ``NEEDED_VARIABLES`` are the channel variables whose VarSet events a consumer reads, and
``NEEDED_USER_EVENTS`` the UserEvent names the shipped dialplan raises for the layer.
``config/asterisk/manager_cti.conf`` must deliver all of them; ``tests/test_ami_needs.py`` checks its
``read=`` and every ``eventfilter`` against these tables, and that each consumer handles nothing else.

Classes come from the event documentation of Asterisk 22 (``manager_*.c``, ``app_queue.c``,
``core_local.c``: e.g. VarSet is ``dialplan``, LocalOptimizationBegin is ``call``, QueueCallerJoin is
``agent``).
"""

from __future__ import annotations

# event name -> (read class, the consumers that handle it)
NEEDED_EVENTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "FullyBooted": ("system", ("ami",)),
    "Shutdown": ("system", ("ami",)),
    "QueueCallerJoin": ("agent", ("monitor", "calls")),
    "QueueCallerLeave": ("agent", ("monitor",)),
    "QueueCallerAbandon": ("agent", ("monitor",)),
    "QueueMemberStatus": ("agent", ("monitor", "toolbar")),
    "QueueMemberAdded": ("agent", ("monitor", "toolbar")),
    "QueueMemberRemoved": ("agent", ("monitor", "toolbar")),
    "QueueMemberPause": ("agent", ("monitor", "toolbar")),
    "AgentConnect": ("agent", ("monitor", "calls", "recordings")),
    "AgentComplete": ("agent", ("monitor",)),
    "Newchannel": ("call", ("outbound",)),
    "Newstate": ("call", ("outbound",)),
    "Rename": ("call", ("calls",)),
    "HangupRequest": ("call", ("calls",)),
    "Hangup": ("call", ("monitor", "calls", "recordings", "outbound")),
    "DialBegin": ("call", ("calls",)),
    "DialEnd": ("call", ("calls",)),
    "OriginateResponse": ("call", ("ami",)),
    "BridgeEnter": ("call", ("calls",)),
    "LocalOptimizationBegin": ("call", ("calls", "monitor")),
    "LocalOptimizationEnd": ("call", ("calls",)),
    "AttendedTransfer": ("call", ("calls",)),
    "BlindTransfer": ("call", ("calls",)),
    "Unhold": ("call", ("calls",)),
    "UserEvent": ("user", ("monitor", "calls", "outbound")),
    "VarSet": ("dialplan", ("monitor", "calls")),
}

# VarSet variables the consumers read (names without the inheritance underscores).
NEEDED_VARIABLES: dict[str, tuple[str, ...]] = {
    "QUEUESTATUS": ("monitor",),       # how Queue() ended: tells a timeout from an abandon
    # the number dialled: per-hotline figures (12315 under 12315) and the screen pop's hotline
    "CTI_HOTLINE": ("monitor", "calls"),
    "CTI_TAGS": ("monitor", "calls"),  # 企业, 110分流 ...: tags of the call's rows and of the screen pop
    "TRANSFERERNAME": ("calls",),      # set by the atxfer on the department leg: finds that leg
}

# UserEvents raised by config/asterisk/extensions_cti.conf for the layer.
NEEDED_USER_EVENTS: dict[str, tuple[str, ...]] = {
    "QueueResult": ("monitor",),
    "CTITransferFailed": ("calls",),
    "CTILinkage": ("outbound", "calls"),   # 110 hand-over: counted, and its Tag in the screen pop
}


def sample_event(name: str, variable: str = "", user_event: str = "") -> str:
    """A minimal event text as Asterisk matches an eventfilter against it (``Header: value`` lines)."""
    lines = [f"Event: {name}", "Privilege: x,all", "Channel: Local/6001@agents-00000001;1",
             "Uniqueid: 1764470000.1"]
    if variable:
        lines += [f"Variable: {variable}", "Value: x"]
    if user_event:
        lines += [f"UserEvent: {user_event}"]
    return "\r\n".join(lines) + "\r\n"


def local_interface_problem(interface: str) -> str | None:
    """Why a queue member ``interface`` will lose track of the agent, or ``None``.

    A ``Local/exten@context`` member without the ``/n`` option is optimised away once the call is
    bridged (core_local.c: LocalOptimizationBegin/End, then the ;1/;2 halves hang up with cause 16)
    while the agent talks on from the phone's channel (asterisk/asterisk issue 393, FreePBX 124). The
    layer follows the replacement, but Asterisk's own member state and anything keyed by the Local
    channel see the agent leave 0.3 s after AgentConnect; ``/n`` keeps the pair for the whole call.
    """
    kind, _, rest = interface.partition("/")
    if kind.lower() != "local" or not rest:
        return None
    _target, _, options = rest.partition("/")
    if "n" in options:
        return None
    fixed = f"{kind}/{_target}/{options}n"
    return (f"queue member interface {interface!r} is a Local channel without /n: Asterisk optimises "
            f"it away once the call is bridged and the agent seems to hang up; use {fixed!r}")
