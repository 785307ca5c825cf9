"""Settings section `dispositions:` (owned by cti/dispositions): the list an agent picks from after a call.

The shipped list follows Rugao's "一企来" handling rules and Nantong's 2022 report (seeds 004 and 002):
a request is either answered online (在线解答: by the agent alone, or with a policy specialist on a
three-way call) or handled by a department (部门办理: a ticket, a transfer); a nuisance call is no request.
"""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from cti.settings_base import Section

CODE = r"^[a-z][a-z0-9_]{0,39}$"


class Choice(Section):
    """One disposition; its key in ``choices`` (the code) goes on the wire, ``name`` is what people see."""

    name: str = Field(min_length=1, max_length=40)
    online: bool                 # counts as answered online (在线解答) in the online answer rate
    request: bool = True         # counts as a request (诉求) at all; false: 无效来电, left out of the rate


DEFAULT_CHOICES = {
    "answered_online": Choice(name="在线答复", online=True),
    "specialist": Choice(name="专员连线解答", online=True),
    "ticket": Choice(name="转办工单", online=False),
    "transferred": Choice(name="转接", online=False),
    "invalid": Choice(name="无效来电", online=False, request=False),
}


class DispositionsSettings(Section):
    choices: dict[str, Choice] = Field(default_factory=lambda: dict(DEFAULT_CHOICES), min_length=1, max_length=50)
    wrapup_window: float = Field(600.0, gt=0)      # seconds after the call's end; later: "not recorded" (未小结)
    expire_interval: float = Field(5.0, gt=0)      # seconds between looks for calls whose window has passed
    summary_max: int = Field(500, ge=1, le=4000)   # characters of the short summary (小结)

    @field_validator("choices")
    @classmethod
    def _codes_and_names(cls, value: dict[str, Choice]) -> dict[str, Choice]:
        for code in value:
            if not re.fullmatch(CODE, code):
                raise ValueError(f"disposition code {code!r} must be lower-case letters, digits and _ (at most 40)")
        names = [c.name for c in value.values()]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"disposition name given twice: {', '.join(twice)}")
        return value
