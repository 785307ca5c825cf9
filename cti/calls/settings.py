"""Settings section `calls:` (owned by the call-control package cti/calls)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator

from cti.ami.needs import local_interface_problem
from cti.settings_base import Section


def _split(value: Any) -> Any:
    # Environment overrides arrive as one string: CTI_CALLS_AGENT_QUEUES=public,enterprise
    return [v.strip() for v in value.split(",") if v.strip()] if isinstance(value, str) else value


class CallsSettings(Section):
    hotlines_file: Path = Path("config/hotlines.yaml")
    department_context: str = "departments"       # [departments] of extensions_cti.conf (three-way target)
    transfer_context: str = "cti-transfer"        # [cti-transfer] of extensions_cti.conf (one-key transfer)
    agent_interface: str = "Local/{agent}@agents/n"   # queue member interface of an agent ({agent} = id)
    agent_queues: list[str] = ["public"]          # queues an agent logs in to when the request names none
    atxfer_code: str = "*2"                       # features.conf [featuremap] atxfer
    threeway_code: str = "*3"                     # features.conf atxferthreeway
    abort_code: str = "*1"                        # features.conf atxferabort
    supervisor_channel: str = "Local/{supervisor}@agents"   # how a supervisor's phone is dialled
    spy_options: dict[str, str] = {"listen": "qES", "whisper": "qwES", "barge": "qBES"}
    after_hours_request_type: str = "help"        # request type of the ticket made after hours
    history_per_caller: int = Field(5, ge=0, le=100)   # previous calls shown in a screen pop
    action_timeout: float = Field(5.0, gt=0)
    # the pause reasons an agent picks from on the agent toolbar (cti/toolbar); one line, <= 80 chars each
    pause_reasons: list[str] = Field(["小休", "用餐", "培训", "会议", "话后处理"], min_length=1, max_length=30)
    # origins of ticket-system pages that may embed the agent toolbar (CORS), e.g. https://gd.example.gov.cn
    toolbar_origins: list[str] = []
    # seconds between a specialist who did not answer and the next one rung 'in turn' (cti/calls/specialist_calls.py):
    # after a failed attended transfer Asterisk plays xferfailsound (beeperr, 0.36 s) to the agent and ignores
    # feature codes meanwhile (an atxfer code 40 ms after the agent's Unhold did nothing on Asterisk 22.10.1)
    next_ring_pause: float = Field(1.0, ge=0, le=30)

    def warnings(self) -> list[tuple[str, str]]:
        """Settings that work but mislead, as ``(setting, message)`` (cti.checks: logged by ``cti run``,
        printed by ``cti check-config``)."""
        problem = local_interface_problem(self.agent_interface)
        return [("calls.agent_interface", problem)] if problem else []

    @field_validator("agent_queues", "pause_reasons", "toolbar_origins", mode="before")
    @classmethod
    def _lists(cls, value: Any) -> Any:
        return _split(value)

    @field_validator("pause_reasons")
    @classmethod
    def _reasons(cls, value: list[str]) -> list[str]:
        for reason in value:   # the same rule as POST /api/agents/{agent}/pause (cti/calls/agents.py)
            if not reason.strip() or len(reason) > 80 or any(c in reason for c in "\r\n"):
                raise ValueError(f"pause reason {reason!r} must be one non-empty line of at most 80 characters")
        return value

    @field_validator("toolbar_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        for origin in value:   # an origin is scheme://host[:port] (RFC 6454), no path, no trailing slash
            if not re.fullmatch(r"https?://[A-Za-z0-9.\-\[\]:]+", origin):
                raise ValueError(f"toolbar origin {origin!r} must look like https://host[:port]")
        return value

    @field_validator("agent_interface")
    @classmethod
    def _agent_placeholder(cls, value: str) -> str:
        if "{agent}" not in value:
            raise ValueError("agent_interface must contain {agent}")
        return value

    @field_validator("supervisor_channel")
    @classmethod
    def _supervisor_placeholder(cls, value: str) -> str:
        if "{supervisor}" not in value:
            raise ValueError("supervisor_channel must contain {supervisor}")
        return value

    @field_validator("spy_options")
    @classmethod
    def _modes(cls, value: dict[str, str]) -> dict[str, str]:
        missing = {"listen", "whisper", "barge"} - set(value)
        if missing:
            raise ValueError(f"spy_options lacks {', '.join(sorted(missing))}")
        return value
