"""Three-way calls to policy specialists (政策专员, issue 21): offers, a chosen one or each in turn.

The agent asks for a field on its current call; the offer is the specialists of that field serving the
call's line (``SpecialistDirectory.line_for``: its queue or tags) who are in working hours now. A chosen
specialist, or each offered one in turn until one answers with the department's hotline last (Rugao's
"一企来" rules, seeds 004), is rung by the same three-way machine as a department hotline
(``CallControl.start``, cti/calls/transfer.py); this module only picks who is next.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

from cti.calls import transfer as tx
from cti.calls.service import CallControl, CallError
from cti.calls.tracker import Call
from cti.specialists import Specialist, SpecialistDirectory

log = logging.getLogger(__name__)
# The next one is rung when the agent is back with the citizen after one of these ends.
TRY_NEXT = frozenset({tx.NO_ANSWER, tx.BUSY})


@dataclass
class Plan:
    """Who is still to be rung for one call's field: the rest of the offer, then the hotline."""

    field: str
    line: str
    waiting: list[Specialist] = field(default_factory=list)
    last_resort: str = ""          # department hotline number, "" none
    current: str = ""              # id of the transfer ringing now


class SpecialistCalls:
    def __init__(self, control: CallControl, directory: SpecialistDirectory | None) -> None:
        self.control = control
        self.directory = directory
        self.plans: dict[str, Plan] = {}    # call id -> its 'each in turn' plan
        control.on_transfer_end = self._on_transfer_end

    def reload(self, directory: SpecialistDirectory) -> None:
        self.directory = directory

    def _dir(self) -> SpecialistDirectory:
        if self.directory is None:
            raise CallError(503, "no_specialists", "no specialist directory is loaded (settings: specialists)")
        return self.directory

    # -- offers -------------------------------------------------------------------------------------------
    def _offer(self, call: Call, field_name: str) -> tuple[str, list[Specialist], str]:
        d = self._dir()
        line = d.line_for(call.queue, self.control.hotline_and_tags(call)[1])
        offered = d.offer(field_name, line.id, self.control.clock(), self.control.calendar) if field_name else []
        return line.id, offered, d.last_resort(field_name, line.id, offered) if field_name else ""

    def offer(self, call_id: str, field_name: str = "") -> dict[str, Any]:
        """What the agent's picker shows: the call's line, the fields of that line, and for ``field_name``
        the specialists in working hours now with the department hotline rung last."""
        call = self.control.call(call_id)
        d = self._dir()
        line_id, offered, last = self._offer(call, field_name)
        h = self.control.directory.get(last) if last else None
        return {"call_id": call.id, "line": (d.line(line_id) or d.line("public")).as_dict(),
                "fields": d.fields(line_id), "field": field_name or None,
                "specialists": [s.as_dict() for s in offered],
                "last_resort": {"number": h.number, "name": h.name, "owner": h.owner} if h else None}

    # -- ringing ------------------------------------------------------------------------------------------
    async def ring(self, call_id: str, field_name: str, specialist_id: str | None = None,
                   in_turn: bool = False) -> tx.Transfer:
        """Ring ``specialist_id`` (one of the offer), or with ``in_turn`` each offered one in turn and the
        department hotline last; returns the first transfer (its states follow on the WebSocket)."""
        call = self.control.free_call(call_id)
        line, offered, last = self._offer(call, field_name)
        if specialist_id is not None:
            chosen = next((s for s in offered if s.id == specialist_id), None)
            if chosen is None:
                known = self._dir().get(specialist_id)
                why = "不在专员目录中 (unknown specialist)" if known is None else \
                    f"不在{field_name}/{line}的当前可用专员中 (not offered for this field and line now: hours, field or line)"
                raise CallError(409 if known else 422, "not_offered", f"专员 {specialist_id} {why}")
            return await self._ring_one(call, Plan(field_name, line), chosen)
        if not offered and not last:
            raise CallError(409, "no_specialist", f"{field_name}: 当前没有可用的政策专员，也没有部门热线 "
                                                  "(no specialist in working hours and no department hotline)")
        plan = Plan(field_name, line, list(offered), last)
        self.plans[call.id] = plan
        try:
            return await self._next(call, plan)
        except CallError:
            self.plans.pop(call.id, None)   # refused at once: the agent is told, nothing rings next
            raise

    async def _ring_one(self, call: Call, plan: Plan, s: Specialist) -> tx.Transfer:
        t = tx.Transfer(call.id, tx.THREEWAY, s.exten, call.agent_channel, call.citizen, agent=call.agent,
                        hotline_name=s.name, owner=s.department,
                        specialist={"id": s.id, "name": s.name, "department": s.department, "field": plan.field,
                                    "line": plan.line})
        plan.current = t.id
        await self.control.start(call, t, s.dial, s.answer_timeout)
        return t

    async def _next(self, call: Call, plan: Plan) -> tx.Transfer:
        if plan.waiting:
            return await self._ring_one(call, plan, plan.waiting.pop(0))
        self.plans.pop(call.id, None)
        log.info("call %s: no specialist of %s answered; the department hotline %s is the last resort",
                 call.id, plan.field, plan.last_resort)
        return await self.control.transfer(call.id, plan.last_resort, tx.THREEWAY)

    # -- the machine's end --------------------------------------------------------------------------------
    def _on_transfer_end(self, call: Call, t: tx.Transfer) -> None:
        """A transfer of ``call`` is in its end state (called again when the agent comes back after it)."""
        plan = self.plans.get(call.id)
        if plan is None or plan.current != t.id:
            return
        if t.state not in TRY_NEXT or call.ended or not call.agent_channel:
            self.plans.pop(call.id, None)   # answered, cancelled, or nobody left to put through
            return
        if t.agent_back_at is None:
            return   # busy: Asterisk puts the agent back with the citizen a moment later (Unhold)
        plan.current = ""
        self.control.spawn(self._advance(call, plan))

    async def _advance(self, call: Call, plan: Plan) -> None:
        await asyncio.sleep(self.control.settings.next_ring_pause)   # the xferfailsound plays (settings.py)
        if call.ended or not call.agent_channel or self.plans.get(call.id) is not plan:
            self.plans.pop(call.id, None)
            return   # the citizen or the agent left meanwhile
        try:
            await self._next(call, plan)
        except CallError as exc:   # the agent sees the failed transfer's state; the request was logged there
            self.plans.pop(call.id, None)
            log.warning("call %s: ringing the next for %s failed: %s", call.id, plan.field, exc.detail)
