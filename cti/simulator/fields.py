"""AMI field layouts of Asterisk 22, as recorded: channel and bridge snapshots, wire framing.

An event is a list of ``(name, value)`` pairs in wire order; :func:`frame` turns it into bytes.
"""

from __future__ import annotations

STATE_DESC = {0: "Down", 1: "Rsrvd", 2: "OffHook", 3: "Dialing", 4: "Ring", 5: "Ringing", 6: "Up", 7: "Busy"}
CAUSE_TXT = {0: "Unknown", 16: "Normal Clearing", 17: "User busy", 19: "No user responding",
             21: "Call Rejected", 34: "Circuit/channel congestion"}

PRIVILEGE = {
    "AGIExecStart": "agi,all", "AGIExecEnd": "agi,all",
    "AgentCalled": "agent,all", "AgentComplete": "agent,all", "AgentConnect": "agent,all",
    "AgentRingNoAnswer": "agent,all", "AgentDump": "agent,all",
    "QueueCallerAbandon": "agent,all", "QueueCallerJoin": "agent,all", "QueueCallerLeave": "agent,all",
    "QueueMemberStatus": "agent,all", "QueueMemberAdded": "agent,all", "QueueMemberRemoved": "agent,all",
    "QueueMemberPause": "agent,all",
    "DTMFBegin": "dtmf,all", "DTMFEnd": "dtmf,all",
    "Newexten": "dialplan,all", "VarSet": "dialplan,all",
    "FullyBooted": "system,all", "Shutdown": "system,all", "SuccessfulAuth": "security,all",
    "UserEvent": "user,all",
}

Fields = list[tuple[str, str]]


def channel_fields(ch, prefix: str = "") -> Fields:
    """The channel snapshot block (``Channel`` ... ``Linkedid``), optionally prefixed (``Dest``)."""
    return [
        (prefix + "Channel", ch.name),
        (prefix + "ChannelState", str(ch.state)),
        (prefix + "ChannelStateDesc", STATE_DESC.get(ch.state, "Unknown")),
        (prefix + "CallerIDNum", ch.cid_num),
        (prefix + "CallerIDName", ch.cid_name),
        (prefix + "ConnectedLineNum", ch.conn_num),
        (prefix + "ConnectedLineName", ch.conn_name),
        (prefix + "Language", ch.language),
        (prefix + "AccountCode", ch.accountcode),
        (prefix + "Context", ch.context),
        (prefix + "Exten", ch.exten),
        (prefix + "Priority", str(ch.priority)),
        (prefix + "Uniqueid", ch.uniqueid),
        (prefix + "Linkedid", ch.linkedid),
    ]


def bridge_fields(br, prefix: str = "Bridge", num: int | None = None) -> Fields:
    n = len(br.channels) if num is None else num
    return [
        (prefix + "Uniqueid", br.uniqueid),
        (prefix + "Type", "basic"),
        (prefix + "Technology", br.technology),
        (prefix + "Creator", "<unknown>"),
        (prefix + "Name", "<unknown>"),
        (prefix + "NumChannels", str(n)),
        (prefix + "VideoSourceMode", "none"),
    ]


def frame(fields: Fields) -> bytes:
    """Wire bytes of one message: ``Key: value`` lines and a blank line, UTF-8."""
    out = []
    for key, value in fields:
        out.append(f"{key}: {value}\r\n")
    out.append("\r\n")
    return "".join(out).encode("utf-8")
