"""AMI actions of call control, as pure builders (the recorded three-way recipe lives here)."""

from __future__ import annotations


def _dtmf(channel: str, code: str) -> list[dict]:
    # Receive=yes: the digits enter the agent's channel as if the agent pressed them (feature codes)
    return [{"Action": "PlayDTMF", "Channel": channel, "Digit": d, "Receive": "yes"} for d in code]


def department_vars(channel: str, dial: str, timeout: float, emergency: bool) -> list[dict]:
    """Inherited (__) variables the shipped [departments] dialplan reads to reach the hotline."""
    out = [{"Action": "Setvar", "Channel": channel, "Variable": "__CTI_DEPT_DIAL", "Value": dial},
           {"Action": "Setvar", "Channel": channel, "Variable": "__CTI_DEPT_TIMEOUT", "Value": str(int(timeout))}]
    if emergency:
        out.append({"Action": "Setvar", "Channel": channel, "Variable": "__CTI_EMERGENCY", "Value": "yes"})
    return out


def threeway_start(agent_channel: str, number: str, context: str, atxfer_code: str) -> list[dict]:
    """three-way-transfer.ami.txt: TRANSFER_EXTEN/TRANSFER_CONTEXT on the agent channel, then atxfer."""
    return [{"Action": "Setvar", "Channel": agent_channel, "Variable": "TRANSFER_EXTEN", "Value": number},
            {"Action": "Setvar", "Channel": agent_channel, "Variable": "TRANSFER_CONTEXT", "Value": context},
            *_dtmf(agent_channel, atxfer_code)]


def threeway_merge(agent_channel: str, threeway_code: str) -> list[dict]:
    return _dtmf(agent_channel, threeway_code)


def abort(agent_channel: str, abort_code: str) -> list[dict]:
    return _dtmf(agent_channel, abort_code)


def hangup(channel: str) -> dict:
    return {"Action": "Hangup", "Channel": channel}


def blind(agent_channel: str, number: str, context: str) -> dict:
    """One-key transfer: the agent's peer (the citizen) continues in ``number@context``."""
    return {"Action": "BlindTransfer", "Channel": agent_channel, "Exten": number, "Context": context}


def queue_add(queue: str, interface: str, name: str, paused: bool = False) -> dict:
    return {"Action": "QueueAdd", "Queue": queue, "Interface": interface, "MemberName": name,
            "Paused": "true" if paused else "false"}


def queue_remove(queue: str, interface: str) -> dict:
    return {"Action": "QueueRemove", "Queue": queue, "Interface": interface}


def queue_pause(interface: str, paused: bool, reason: str = "", queue: str | None = None) -> dict:
    action = {"Action": "QueuePause", "Interface": interface, "Paused": "true" if paused else "false"}
    if reason and paused:
        action["Reason"] = reason
    if queue:
        action["Queue"] = queue
    return action


def spy(supervisor_channel: str, target_channel: str, options: str, caller_id: str) -> dict:
    """Originate the supervisor's phone into ChanSpy on the agent's channel (listen / whisper / barge)."""
    return {"Action": "Originate", "Async": "true", "Channel": supervisor_channel, "Application": "ChanSpy",
            "Data": f"{target_channel},{options}", "CallerID": caller_id, "Timeout": "30000"}
