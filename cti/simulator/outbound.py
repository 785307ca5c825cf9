"""Outbound and linkage additions to the simulated dialplan (the recorded contexts stay untouched).

- ``<did>@from-pstn``: the 110 hand-over DID of extensions_cti.conf: tagged ``110分流``, no menu,
  straight into the linkage queue, with the ``UserEvent(CTILinkage)`` the shipped dialplan raises.
- ``citizens`` (and ``cti-outbound``): a citizen's phone reached by an Originate for a follow-up call:
  rings, answers after a delay (or never, or is busy), then presses one key per prompt that listens.
- ``cti-followup``: the answered half of a follow-up call runs ``AGI(agi://.../followup)``; when the AGI
  set CTIQUEUE (a "dissatisfied" handed to an agent) it goes on like ``cti-ivr,s,queue``: Queue().

    outbound.install(sim.pbx, citizens={"13900000001": CitizenPhone(answer_delay=4, keys=["1", "1"])})
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .fields import channel_fields
from .shipped import agi_app

if TYPE_CHECKING:
    from .model import Channel
    from .pbx import Pbx

LINKAGE_TAG = "110分流"


@dataclass
class CitizenPhone:
    answer_delay: float = 4.0
    answers: bool = True
    busy: bool = False
    keys: list[str] = field(default_factory=lambda: ["1", "1"])   # one key per listening prompt
    key_delay: float = 1.0
    talk_time: float = 120.0                                      # stays on the line at most this long


@dataclass
class OutboundDialplan:
    pbx: Pbx
    linkage_did: str = "12345110"
    linkage_queue: str = "linkage110"
    citizens: dict[str, CitizenPhone] = field(default_factory=dict)
    default_citizen: CitizenPhone = field(default_factory=CitizenPhone)
    dialled: list[tuple[float, str]] = field(default_factory=list)   # (sim time, number) of each citizen call
    # ground truth for pacing tests, taken as each citizen call starts: (sim time, number, outbound
    # channels up including this one, callers waiting in any queue)
    dial_log: list[tuple[float, str, int, int]] = field(default_factory=list)
    _ones: list = field(default_factory=list)                           # the ;1 halves of citizen calls

    # -- 110 hand-over ------------------------------------------------------------------------------
    async def linkage(self, two: Channel, exten: str) -> None:
        pbx = self.pbx
        call = two.call
        pbx.newexten(two, "NoOp", "110 hand-over", 1)
        for var, value in (("__CTI_HOTLINE", "110"), ("__CTI_TAGS", LINKAGE_TAG), ("CTIQUEUE", self.linkage_queue)):
            pbx.newexten(two, "Set", f"{var}={value}")
            pbx.setvar(two, var, value)
        pbx.newexten(two, "UserEvent", f"CTILinkage,Source: 110,Queue: {self.linkage_queue}")
        pbx.emit("UserEvent", channel_fields(two) + [("UserEvent", "CTILinkage"), ("Source", "110"),
                                                     ("Queue", self.linkage_queue), ("Tag", LINKAGE_TAG)])
        if not await pbx.dialplan.answer(two, 5):
            pbx.destroy(two)
            if call is not None:
                call.finish("ivr_hangup")
            return
        timeout = pbx.config.queue_timeout
        result = await pbx.queue_app.run(two, self.linkage_queue, f"{self.linkage_queue},tT,,,{timeout}", timeout, 7)
        if result == "gone" or two.gone:
            return
        pbx.newexten(two, "Hangup", "", 8)
        pbx.destroy(two)
        if call is not None and call.outcome is None:
            call.finish("other")

    # -- a citizen's phone --------------------------------------------------------------------------
    async def citizen(self, two: Channel, number: str) -> None:
        pbx = self.pbx
        phone = self.citizens.get(number, self.default_citizen)
        self.dialled.append((pbx.clock.now(), number))
        one = two.peer
        self._ones = [c for c in self._ones if not c.gone] + ([one] if one is not None else [])
        waiting = sum(len(q.callers) for q in pbx.queues.values())
        self.dial_log.append((pbx.clock.now(), number, len(self._ones), waiting))
        # an uncounted call record gives the AGI side a "prompt started" signal to answer keys to
        call = two.call or pbx.start_call(one, two, counted=False)
        pbx.newexten(two, "NoOp", f"citizen {number[:3]}****", 1)
        if phone.busy:
            from .department_busy import busy_department
            return await busy_department(pbx, two, number)
        pbx.newexten(two, "Ringing", "", 2)
        if one is not None and not one.gone and one.state != 5:
            pbx.newstate(one, 5)
        if not await pbx.wait(two, phone.answer_delay if phone.answers else 86400.0):
            return pbx.destroy(two)
        if not await pbx.dialplan.answer(two, 3):
            return pbx.destroy(two)
        for key in phone.keys:
            if not await self._prompt(two, call, phone.talk_time):
                return pbx.destroy(two)
            if not await pbx.wait(two, phone.key_delay):
                return pbx.destroy(two)
            pbx.newexten(two, "SendDTMF", key)
            await pbx.send_dtmf(two, key)
        await pbx.wait(two, phone.talk_time)
        pbx.destroy(two)

    async def _prompt(self, two: Channel, call, limit: float) -> bool:
        waiter = asyncio.ensure_future(call.prompted.wait())
        hung = asyncio.ensure_future(two.hangup_requested.wait())
        try:
            await self.pbx.clock.wait([waiter, hung], limit)
        finally:
            waiter.cancel()
            hung.cancel()
        if not call.prompted.is_set() or two.gone or two.hangup_requested.is_set():
            return False
        call.prompted.clear()
        return True

    # -- [cti-followup]: the answered follow-up call runs the layer's followup AGI -------------------
    async def followup(self, one: Channel, exten: str) -> None:
        pbx = self.pbx
        cfg = pbx.config
        status = await agi_app(pbx, one, f"agi://{cfg.agi_host}:{cfg.agi_port}/followup", 3)
        host2 = pbx.variable(one, "CTI_AGI_HOST2")
        if status == "FAILURE" and host2 and not one.gone:   # the first layer unreachable: the second host's
            status = await agi_app(pbx, one, f"agi://{host2}:{pbx.variable(one, 'CTI_AGI_PORT2') or 4573}/followup", 5)
        queue = one.variables.get("CTIQUEUE", "")
        if queue and not one.gone and not one.hangup_requested.is_set():
            # GotoIf($[${LEN(${CTIQUEUE})}]?cti-ivr,s,queue): the personal follow-up by an agent
            qt = one.variables.get("CTI_QUEUE_TIMEOUT", "")
            timeout = int(qt) if qt.isdigit() else 600
            result = await pbx.queue_app.run(one, queue, f"{queue},tTc,,,{timeout}", timeout, 3)
            if result == "gone" or one.gone:
                return
        if not one.gone:
            pbx.newexten(one, "Hangup", "", 2)
            pbx.destroy(one)


def install(pbx: Pbx, linkage_did: str = "12345110", linkage_queue: str = "linkage110",
            citizens: dict[str, CitizenPhone] | None = None,
            citizen_contexts: tuple[str, ...] = ("citizens", "cti-outbound"),
            followup_context: str = "cti-followup") -> OutboundDialplan:
    """Add the outbound and linkage entries to ``pbx``'s dialplan; returns them for tests to steer."""
    ext = OutboundDialplan(pbx, linkage_did, linkage_queue, dict(citizens or {}))
    pbx.dialplan.extra[f"{linkage_did}@from-pstn"] = ext.linkage
    for context in citizen_contexts:
        pbx.dialplan.extra[context] = ext.citizen
    pbx.dialplan.extra[followup_context] = ext.followup
    return ext
