"""The base of every settings section, shared by the packages that own a section."""

from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict


class Section(BaseModel):
    """Unknown keys are errors, values are frozen after validation."""

    model_config = ConfigDict(extra="forbid", strict=False, frozen=True)


def _known_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{value!r} is not a known time zone") from None
    return value


TimeZone = Annotated[str, AfterValidator(_known_zone)]
"""An IANA time zone name (Asia/Shanghai), checked at start."""
