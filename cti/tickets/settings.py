"""Settings section `tickets:` (owned by the tickets package)."""

from __future__ import annotations

import base64
import json
from typing import Any

from pydantic import Field, field_validator, model_validator

from cti.settings_base import Section

DEFAULT_REQUEST_TYPES = ["consultation", "complaint", "report", "help", "suggestion"]

# Jiangsu rules: answer within 3 working days for a consultation, 5 for the rest; a return request
# within 1 (consultation) or 2 (other) working days; acknowledge within 1 working hour.
DEFAULT_TIME_LIMITS: dict[str, dict[str, int]] = {
    "default": {"acknowledge_hours": 1, "answer_days": 5, "return_days": 2},
    "consultation": {"acknowledge_hours": 1, "answer_days": 3, "return_days": 1},
}

# A day and more: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h (about 27.6 h in all).
DEFAULT_RETRY_SCHEDULE = [5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0]


def _split(value: Any) -> Any:
    return [v.strip() for v in value.split(",") if v.strip()] if isinstance(value, str) else value


class TimeLimit(Section):
    acknowledge_hours: float = Field(1, gt=0)   # working hours to sign the ticket in
    answer_days: int = Field(5, ge=1)           # working days to answer (close) it
    return_days: int = Field(2, ge=1)           # working days in which a return request is allowed


class LightThresholds(Section):
    # Share of the allowed working time already used when the light turns yellow / orange; red = passed.
    yellow: float = Field(0.5, gt=0, lt=1)
    orange: float = Field(0.8, gt=0, lt=1)

    @model_validator(mode="after")
    def _ordered(self) -> LightThresholds:
        if self.orange <= self.yellow:
            raise ValueError("lights.orange must be greater than lights.yellow")
        return self


class TicketsSettings(Section):
    database_url: str = "sqlite+aiosqlite:///var/cti.db"
    endpoint_url: str = ""                      # empty: tickets are stored, nothing is delivered
    secrets: list[str] = []                     # whsec_...; the first signs, all verify (rotation)
    request_timeout: float = Field(10.0, gt=0)
    retry_schedule: list[float] = Field(default_factory=lambda: list(DEFAULT_RETRY_SCHEDULE), min_length=1)
    retry_jitter: float = Field(0.2, ge=0, lt=1)
    retry_after_max: float = Field(86400.0, gt=0)
    lease_seconds: float = Field(60.0, gt=0)
    batch_size: int = Field(50, ge=1, le=1000)
    concurrency: int = Field(16, ge=1, le=512)
    poll_interval: float = Field(1.0, gt=0)
    callback_tolerance: float = Field(300.0, gt=0)
    recording_base_url: str = ""                # recordings travel as links: base + reference
    hotline: str = "12345"
    request_types: list[str] = Field(default_factory=lambda: list(DEFAULT_REQUEST_TYPES), min_length=1)
    time_limits: dict[str, TimeLimit] = Field(
        default_factory=lambda: {k: TimeLimit(**v) for k, v in DEFAULT_TIME_LIMITS.items()})
    lights: LightThresholds = LightThresholds()
    light_interval: float = Field(60.0, gt=0)
    survey_tickets: bool = True                 # a "dissatisfied" survey rating makes a ticket

    @field_validator("secrets", "request_types", mode="before")
    @classmethod
    def _comma_list(cls, value: Any) -> Any:
        return _split(value)

    @field_validator("retry_schedule", mode="before")
    @classmethod
    def _schedule(cls, value: Any) -> Any:
        return _split(value)

    @field_validator("time_limits", mode="before")
    @classmethod
    def _json_table(cls, value: Any) -> Any:
        return json.loads(value) if isinstance(value, str) else value

    @field_validator("secrets")
    @classmethod
    def _whsec(cls, value: list[str]) -> list[str]:
        for secret in value:
            if not secret.startswith("whsec_"):
                raise ValueError("each secret must start with whsec_ (Standard Webhooks)")
            try:
                key = base64.b64decode(secret[6:], validate=True)
            except ValueError:
                raise ValueError("a secret after whsec_ must be base64") from None
            if len(key) < 16:
                raise ValueError("a secret must hold at least 16 bytes (24 and more recommended)")
        return value

    @field_validator("database_url")
    @classmethod
    def _async_url(cls, value: str) -> str:
        if not value.split(":", 1)[0].startswith(("sqlite", "postgresql")):
            raise ValueError("only sqlite+aiosqlite:// and postgresql+asyncpg:// are supported")
        return value

    @model_validator(mode="after")
    def _deliverable(self) -> TicketsSettings:
        if self.endpoint_url and not self.secrets:
            raise ValueError("endpoint_url needs at least one secret to sign with (tickets.secrets)")
        if self.lease_seconds <= self.request_timeout:
            raise ValueError("lease_seconds must exceed request_timeout, or a slow delivery could be sent twice")
        if "default" not in self.time_limits:
            raise ValueError("time_limits needs a 'default' row")
        return self

    def time_limit(self, request_type: str, urgency: str = "normal") -> TimeLimit:
        """The row for ``type:urgency``, else ``type``, else ``default``."""
        for key in (f"{request_type}:{urgency}", request_type):
            if key in self.time_limits:
                return self.time_limits[key]
        return self.time_limits["default"]
