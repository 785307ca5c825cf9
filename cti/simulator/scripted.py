"""Scripted callers for IVR tests: arbitrary key sequences at chosen moments (an addition that leaves
the recorded `caller` context untouched).

Steps: ``("prompt",)`` waits until the IVR starts the next prompt that listens for keys (GET DATA,
or STREAM FILE with escape digits); ``("wait", seconds)``; ``("dtmf", "12")``; ``("hangup",)``.
After the last step the caller stays on the line until the call ends.

    caller = place_scripted_call(sim, [("prompt",), ("wait", 0.5), ("dtmf", "2")], "13800000001")
    await caller.wait_queued()      # caller.call.queue_name == "enterprise"
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .pbx import InboundCall, Pbx
    from .simulator import Simulator

PROMPT_WAIT = 120.0   # simulated seconds a caller waits for the next prompt before giving up


class ScriptedCaller:
    def __init__(self, steps: list[tuple]) -> None:
        self.steps = list(steps)
        self.call: InboundCall | None = None
        self.started = asyncio.Event()
        self.finished_steps = asyncio.Event()
        self.gave_up = False
        self.prompts_heard = 0

    async def run(self, pbx: Pbx, one) -> None:
        self.call = call = one.call
        self.started.set()
        pbx.newexten(one, "Wait", "scripted", 1)
        for prio, step in enumerate(self.steps, start=2):
            kind = step[0]
            if kind == "prompt":
                if not await self._next_prompt(pbx, one, call):
                    self.gave_up = not (one.gone or one.hangup_requested.is_set())
                    return pbx.destroy(one)
            elif kind == "wait":
                if not await pbx.wait(one, float(step[1])):
                    return pbx.destroy(one)
            elif kind == "dtmf":
                pbx.newexten(one, "SendDTMF", step[1], prio)
                await pbx.send_dtmf(one, step[1])
                if one.gone or one.hangup_requested.is_set():
                    return pbx.destroy(one)
            elif kind == "hangup":
                pbx.newexten(one, "Hangup", "", prio)
                self.finished_steps.set()
                return pbx.destroy(one)
            else:
                raise ValueError(f"unknown caller step {step!r}")
        self.finished_steps.set()
        await pbx.wait(one, 86400.0)
        pbx.destroy(one)

    async def _next_prompt(self, pbx: Pbx, one, call) -> bool:
        waiter = asyncio.ensure_future(call.prompted.wait())
        hung = asyncio.ensure_future(one.hangup_requested.wait())
        try:
            await pbx.clock.wait([waiter, hung], PROMPT_WAIT)
        finally:
            waiter.cancel()
            hung.cancel()
        if not call.prompted.is_set():
            return False
        call.prompted.clear()  # the next ("prompt",) waits for the prompt after this one
        self.prompts_heard += 1
        return True

    async def wait_started(self, timeout: float = 10.0) -> InboundCall:
        await asyncio.wait_for(self.started.wait(), timeout)
        return self.call

    async def wait_queued(self, timeout: float = 20.0) -> str | None:
        """The queue the caller joined (None when the call ended without joining one)."""
        call = await self.wait_started(timeout)
        joined = asyncio.ensure_future(call.joined.wait())
        ended = asyncio.ensure_future(call.ended.wait())
        try:
            await asyncio.wait([joined, ended], timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            joined.cancel()
            ended.cancel()
        return call.queue_name if call.joined.is_set() else None

    async def wait_ended(self, timeout: float = 20.0) -> str | None:
        call = await self.wait_started(timeout)
        await asyncio.wait_for(call.ended.wait(), timeout)
        return call.outcome


def place_scripted_call(sim: Simulator, steps: list[tuple], caller: str = "13800000001",
                        exten: str = "12345", name: str = "") -> ScriptedCaller:
    """An inbound call to ``exten`` (12345 or a directly merged hotline) whose caller follows ``steps``."""
    script = ScriptedCaller(steps)
    sim.pbx.dialplan.place_call(script, cid_num=caller, cid_name=name, exten=exten)
    return script
