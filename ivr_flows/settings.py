"""Settings section `flows:` (owned by the IVR flow package)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, field_validator, model_validator

from cti.settings_base import Section, TimeZone


def _split(value: Any) -> Any:
    # Environment overrides arrive as one string: CTI_FLOWS_QUEUES=public,enterprise
    return [v.strip() for v in value.split(",") if v.strip()] if isinstance(value, str) else value


class FlowsSettings(Section):
    flows_dir: Path = Path("config/flows")
    prompts_dir: Path = Path("config/prompts")
    sounds_dir: Path | None = None   # Asterisk's sounds folder as the layer sees it; None: not configured
    entry_flow: str = "main"
    survey_flow: str = "survey"
    default_queue: str = "public"
    queues: list[str] = ["public", "enterprise", "supervision", "talent"]
    hotlines_file: Path = Path("config/hotlines.yaml")
    max_steps: int = Field(200, ge=10, le=100_000)
    max_goto_depth: int = Field(8, ge=1, le=100)
    reload_interval: float = Field(2.0, ge=0)
    timezone: TimeZone = "Asia/Shanghai"
    working_hours: list[str] = ["08:30-12:00", "13:30-17:30"]
    calendar_override: Path = Path("config/calendar-override.yaml")
    calendar_warn_days: int = Field(90, ge=0, le=3650)

    @field_validator("queues", "working_hours", mode="before")
    @classmethod
    def _lists(cls, value: Any) -> Any:
        return _split(value)

    @field_validator("sounds_dir", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        # `sounds_dir: ""` in the file, or CTI_FLOWS_SOUNDS_DIR= in the environment: not configured
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("working_hours")
    @classmethod
    def _hours(cls, value: list[str]) -> list[str]:
        from cti.calendar import CalendarError, parse_hours

        try:
            parse_hours(value)
        except CalendarError as exc:
            raise ValueError(str(exc)) from None
        return value

    @field_validator("default_queue")
    @classmethod
    def _queue_name(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the default queue needs a name")
        return value.strip()

    @model_validator(mode="after")
    def _default_in_queues(self) -> FlowsSettings:
        if self.default_queue not in self.queues:
            raise ValueError(f"default_queue {self.default_queue!r} is not in queues {self.queues}")
        return self
