"""A busy department hotline ([departments] with DepartmentTiming(busy=True)): Busy, cause 17.

Asterisk's Dial to a busy line ends at once with DIALSTATUS=BUSY and hangup cause 17 (User busy);
an attended transfer to it sends the agent straight back to the citizen.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .model import Channel
    from .pbx import Pbx


async def busy_department(pbx: Pbx, two: Channel, exten: str) -> None:
    pbx.newexten(two, "NoOp", f"department {exten}", 1)
    pbx.newexten(two, "Busy", "", 2)
    pbx.setvar(two, "DIALSTATUS", "BUSY")
    two.cause = 17
    pbx.destroy(two, soft=False)
