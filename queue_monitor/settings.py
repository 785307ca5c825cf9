"""Settings section `monitor:` (owned by the queue monitor package)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from cti.settings_base import Section, TimeZone


class MonitorSettings(Section):
    summary_interval: float = Field(5.0, gt=0)
    service_level_seconds: float = Field(15.0, gt=0)
    short_service_level_seconds: float = Field(10.0, gt=0)
    short_abandon_seconds: float = Field(5.0, ge=0)
    denominator: Literal["answered", "offered", "offered_minus_short_abandons", "asterisk_sl2"] = \
        "offered_minus_short_abandons"
    rounding: Literal["exact", "asterisk"] = "exact"
    windows: dict[str, float] = {"15m": 900.0, "1h": 3600.0}
    bucket_seconds: float = Field(10.0, gt=0)
    sparkline_slot_seconds: float = Field(900.0, gt=0)
    timezone: TimeZone = "Asia/Shanghai"
    default_hotline: str = "12345"
    wrapup_seconds: float = Field(0.0, ge=0)
    green_at: float = Field(0.95, ge=0, le=1)
    yellow_at: float = Field(0.90, ge=0, le=1)
    orange_at: float = Field(0.85, ge=0, le=1)
    push_interval: float = Field(0.2, gt=0)
    refresh_seconds: float = Field(2.0, gt=0)
    database_url: str = "sqlite+aiosqlite:///var/monitor.db"
    redis_url: str = ""
    redis_channel: str = "cti:monitor"
    redis_stale_seconds: float = Field(15.0, gt=0)
    instance: str = ""

    @field_validator("windows")
    @classmethod
    def _windows(cls, value: dict[str, float]) -> dict[str, float]:
        for name, seconds in value.items():
            if name in ("today", "total") or seconds <= 0:
                raise ValueError(f"window {name!r}: names today/total are reserved, seconds must be > 0")
        return value

    @field_validator("bucket_seconds")
    @classmethod
    def _divides_day(cls, value: float) -> float:
        if 86400 % value:
            raise ValueError("must divide a day (86400 s) so that days start on a bucket boundary")
        return value

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("only sqlite+aiosqlite:// and postgresql+asyncpg:// are supported")
        return value

    @model_validator(mode="after")
    def _thresholds(self) -> MonitorSettings:
        if not self.green_at >= self.yellow_at >= self.orange_at:
            raise ValueError("colour thresholds must satisfy green_at >= yellow_at >= orange_at")
        return self
