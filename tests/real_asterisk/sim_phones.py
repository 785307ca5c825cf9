"""The real-switch suite's test phones (``extensions_test.conf``) on the simulated PBX, for the parity test.

Each coroutine follows its context of ``extensions_test.conf`` priority by priority and reads the same
AstDB keys (``DBPut`` through AMI works on both), so one scenario drives both switches alike:

- ``[test-caller]`` (the citizen's phone, ``;1``): Wait(delay), SendDTMF(keys) unless ``none`` (``w`` = half
  a second), Wait(stay), Hangup().
- ``[test-queue]`` (``;2``): Answer, CTIQUEUE=public (``[test-queue-named]``: from ``qcaller/<number>/queue``),
  CTI_QUEUE_TIMEOUT from ``qcaller/<number>/timeout``, then the shipped ``cti-ivr`` from its ``queue`` label.
- ``[agents]`` / ``[test-dept]``: Busy when ``busy`` is yes; else Wait(ring), Answer, TIMEOUT(absolute)=talk
  (the channel then ends with cause 0, as an absolute timeout does), Milliwatt.
"""

from __future__ import annotations

from cti.simulator.model import Channel
from cti.simulator.pbx import Pbx


class TestPhones:
    def __init__(self, pbx: Pbx) -> None:
        self.pbx = pbx

    def install(self) -> TestPhones:
        extra = self.pbx.dialplan.extra
        extra["test-caller"] = self.caller
        extra["test-queue"] = self.queue
        extra["test-queue-named"] = self.queue
        extra["agents"] = lambda ch, exten: self.phone(ch, exten, "agent", 1.0)
        extra["test-dept"] = lambda ch, exten: self.phone(ch, exten, "dept", 2.0)
        self.pbx.dialplan.inbound_contexts.update({"test-queue", "test-queue-named"})
        return self

    def db(self, key: str, default: str = "") -> str:
        return self.pbx.db.get(key, default)

    async def caller(self, one: Channel, sid: str) -> None:
        pbx = self.pbx
        pbx.newexten(one, "Wait", self.db(f"caller/{sid}/delay", "0"), 2)
        if not await pbx.wait(one, float(self.db(f"caller/{sid}/delay", "0"))):
            return pbx.destroy(one)
        keys = self.db(f"caller/{sid}/keys", "none")
        if keys != "none":
            for key in keys:
                if key == "w":
                    if not await pbx.wait(one, 0.5):
                        return pbx.destroy(one)
                    continue
                await pbx.send_dtmf(one, key)
                if one.gone or one.hangup_requested.is_set():
                    return pbx.destroy(one)
        pbx.newexten(one, "Wait", self.db(f"caller/{sid}/stay", "600"), 5)
        await pbx.wait(one, float(self.db(f"caller/{sid}/stay", "600")))
        pbx.destroy(one)

    async def queue(self, two: Channel, exten: str) -> None:
        pbx = self.pbx
        if not await pbx.dialplan.answer(two, 1):
            return pbx.destroy(two)
        named = two.context == "test-queue-named"
        pbx.setvar(two, "CTIQUEUE", self.db(f"qcaller/{two.cid_num}/queue") if named else "public")
        pbx.setvar(two, "CTI_QUEUE_TIMEOUT", self.db(f"qcaller/{two.cid_num}/timeout"))
        await pbx.shipped.queue(two)

    async def phone(self, two: Channel, exten: str, family: str, default_ring: float) -> None:
        pbx = self.pbx
        if self.db(f"{family}/{exten}/busy") == "yes":
            return await self.busy(two)
        ring = float(self.db(f"{family}/{exten}/ring") or default_ring)
        if not await pbx.wait(two, ring):
            return pbx.destroy(two)
        if not await pbx.dialplan.answer(two, 3):
            return pbx.destroy(two)
        talk = float(self.db(f"{family}/{exten}/talk") or 3600)
        pbx.newexten(two, "Milliwatt", "", 5)
        if not await pbx.wait(two, talk):
            return pbx.destroy(two)
        pbx.destroy(two, cause=0)   # TIMEOUT(absolute): the channel ends without a cause

    async def busy(self, two: Channel) -> None:
        """Busy(5): the BUSY indication reaches whoever dials the pair at once, then the channel is Busy."""
        pbx = self.pbx
        pbx.newexten(two, "Busy", "5", 7)
        one = two.peer
        if one is not None and one.on_busy is not None:
            one.on_busy(one)
        pbx.newstate(two, 7)
        await pbx.wait(two, 5.0)
        pbx.destroy(two, cause=17)


def install(pbx: Pbx) -> TestPhones:
    return TestPhones(pbx).install()
