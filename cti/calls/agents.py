"""Agent sign-in to queues, pauses with a reason, and supervisor ChanSpy: AMI actions by agent id."""

from __future__ import annotations

import logging
import re

from cti.calls import actions
from cti.calls.service import CallControl, CallError

log = logging.getLogger(__name__)

AGENT_ID = re.compile(r"^[0-9A-Za-z_-]{1,32}$")
SPY_MODES = ("listen", "whisper", "barge")


def check_id(value: str, what: str = "agent") -> str:
    if not AGENT_ID.match(value or ""):
        raise CallError(400, f"bad_{what}", f"{what} id must be 1-32 letters, digits, '-' or '_', got {value!r}")
    return value


class Agents:
    def __init__(self, control: CallControl) -> None:
        self.control = control
        self.settings = control.settings

    def interface(self, agent: str) -> str:
        return self.settings.agent_interface.format(agent=check_id(agent))

    def _queues(self, queues: list[str] | None) -> list[str]:
        queues = list(queues or self.settings.agent_queues)
        if not queues or not all(isinstance(q, str) and AGENT_ID.match(q) for q in queues):
            raise CallError(400, "bad_queues", "queues must be a non-empty list of queue names")
        return queues

    async def login(self, agent: str, queues: list[str] | None = None, paused: bool = False) -> dict:
        iface, done = self.interface(agent), []
        for q in self._queues(queues):
            try:
                await self.control._action(actions.queue_add(q, iface, f"Agent {agent}", paused))
            except CallError as exc:
                if "Already there" not in exc.detail:   # logging in twice is not an error
                    raise
            done.append(q)
        log.info("agent %s logged in to %s", agent, ",".join(done))
        return {"agent": agent, "interface": iface, "queues": done, "paused": paused}

    async def logout(self, agent: str, queues: list[str] | None = None) -> dict:
        iface, done = self.interface(agent), []
        for q in self._queues(queues):
            try:
                await self.control._action(actions.queue_remove(q, iface))
            except CallError as exc:
                if "Not there" not in exc.detail:
                    raise
            done.append(q)
        log.info("agent %s logged out of %s", agent, ",".join(done))
        return {"agent": agent, "interface": iface, "queues": done}

    async def pause(self, agent: str, paused: bool, reason: str = "") -> dict:
        if len(reason) > 80 or any(c in reason for c in "\r\n"):
            raise CallError(400, "bad_reason", "the pause reason is one line of at most 80 characters")
        if paused and not reason.strip():
            raise CallError(400, "bad_reason", "a pause needs a reason (e.g. 休息, 培训, 后处理)")
        iface = self.interface(agent)
        try:
            await self.control._action(actions.queue_pause(iface, paused, reason.strip()))
        except CallError as exc:
            if "not found" in exc.detail.lower():
                raise CallError(409, "not_logged_in", f"agent {agent} is not in any queue") from None
            raise
        return {"agent": agent, "paused": paused, "reason": reason.strip() if paused else ""}

    async def spy(self, call_id: str, supervisor: str, mode: str) -> dict:
        """Listen (监听), whisper (耳语) or barge (强插) on the agent's side of a call."""
        if mode not in SPY_MODES:
            raise CallError(400, "bad_mode", f"mode must be one of {', '.join(SPY_MODES)}")
        call = self.control.call(call_id)
        if not call.agent_channel:
            raise CallError(409, "no_agent", "no agent on this call to listen to")
        channel = self.settings.supervisor_channel.format(supervisor=check_id(supervisor, "supervisor"))
        options = self.settings.spy_options[mode]
        await self.control._action(actions.spy(channel, call.agent_channel, options,
                                               f'"{mode} {call.agent}" <{supervisor}>'))
        log.info("supervisor %s %s on call %s (agent %s)", supervisor, mode, call_id, call.agent)
        return {"call_id": call_id, "agent": call.agent, "supervisor": supervisor, "mode": mode,
                "channel": channel, "target": call.agent_channel}
