"""The base of every settings section, shared by the packages that own a section."""

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    """Unknown keys are errors, values are frozen after validation."""

    model_config = ConfigDict(extra="forbid", strict=False, frozen=True)
