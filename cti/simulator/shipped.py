"""The project's shipped dialplan (``config/asterisk/extensions_cti.conf``) on the simulated PBX.

Modelled priority by priority from that file, with what Asterisk 22 does on it (DESIGN.md section 5,
checked by tests/real_asterisk/test_parity.py):

- ``[cti-inbound]``: 12345 sets ``__CTI_HOTLINE``; the directly merged hotlines (read from the file's
  ``Goto(cti-merged,...)`` lines) set it to their own number; 12345110 (110 hand-over) sets
  ``__CTI_HOTLINE=110``, ``__CTI_TAGS``, raises UserEvent CTILinkage and skips the menu.
- ``[cti-agi]``: ``CTI_AGI`` from ``CTI_AGI_HOST``/``CTI_AGI_PORT``, ``CTI_AGI2`` (a second layer instance)
  from ``CTI_AGI_HOST2``/``CTI_AGI_PORT2``, empty when that host is not set.
- ``[cti-ivr]``: Answer (half a second), the layer's AGI ``ivr``, then the second host's when the first gave
  no ``CTI_RESULT`` (unreachable or gone mid-menu; fail-open to ``public`` after both), a transfer
  when the AGI set ``CTI_DIAL``, else MixMonitor (``<Uniqueid>.raw`` created at once, 0 bytes until
  bridged), ``Queue(${CTIQUEUE},tTc,,,${CTI_QUEUE_TIMEOUT or 600})``, UserEvent QueueResult, the survey
  AGI when ``CTI_SURVEY=yes`` (then the second host's only when the first was unreachable:
  AGISTATUS=FAILURE), Hangup; the ``h`` extension raises QueueResult again (so twice per call
  when Queue() returned; once, with an empty QueueStatus, when the caller hung up inside Queue()).
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING

from cti import shipped_config

from .model import Channel

if TYPE_CHECKING:
    from .pbx import Pbx

log = logging.getLogger(__name__)

SHIPPED_EXTENSIONS = shipped_config.asterisk("extensions_cti.conf")   # the checkout's config/ or the wheel's copy
DEFAULT_QUEUE_TIMEOUT = 600      # Queue()'s timeout when CTI_QUEUE_TIMEOUT is empty (the shipped file)
MIXMONITOR_OPTIONS = "bD"


def merged_hotlines(path: Path = SHIPPED_EXTENSIONS) -> list[str]:
    """The directly merged hotline numbers: ``exten => N,1,Goto(cti-merged,${EXTEN},1)`` in [cti-inbound]."""
    if not path.is_file():
        return []
    return re.findall(r"^exten\s*=>\s*(\d+)\s*,\s*1\s*,\s*Goto\(cti-merged,", path.read_text(encoding="utf-8"),
                      re.MULTILINE)


class ShippedDialplan:
    """Coroutines for the shipped contexts; :meth:`install` adds them to the PBX's dialplan."""

    def __init__(self, pbx: Pbx, path: Path = SHIPPED_EXTENSIONS) -> None:
        self.pbx = pbx
        self.merged = set(merged_hotlines(path))

    def install(self) -> ShippedDialplan:
        dp = self.pbx.dialplan
        dp.extra["cti-inbound"] = self.inbound
        dp.extra["cti-merged"] = self.merged_entry
        dp.extra["cti-ivr"] = self.ivr
        dp.extra["departments"] = self.pbx.dial.departments
        dp.inbound_contexts.add("cti-inbound")
        return self

    # -- [cti-inbound] / [cti-merged] --------------------------------------------------------------------
    async def inbound(self, ch: Channel, exten: str) -> None:
        pbx = self.pbx
        if exten == "12345":
            pbx.newexten(ch, "NoOp", "12345 inbound call", 1)
            pbx.newexten(ch, "Set", "__CTI_HOTLINE=12345", 2)
            pbx.setvar(ch, "__CTI_HOTLINE", "12345")
            return await self.ivr(ch, "s")
        if exten in self.merged:
            return await self.merged_entry(ch, exten)
        if exten == "12345110":
            return await self.handover_110(ch)
        log.warning("no extension %s in [cti-inbound]: hanging up %s", exten, ch.name)
        pbx.destroy(ch)

    async def merged_entry(self, ch: Channel, exten: str) -> None:
        ch.context, ch.exten = "cti-merged", exten
        self.pbx.newexten(ch, "Set", f"__CTI_HOTLINE={exten}", 1)
        self.pbx.setvar(ch, "__CTI_HOTLINE", exten)
        await self.ivr(ch, "s")

    async def handover_110(self, ch: Channel) -> None:
        pbx = self.pbx
        pbx.setvar(ch, "__CTI_HOTLINE", "110")
        pbx.setvar(ch, "__CTI_TAGS", "110分流")
        pbx.setvar(ch, "CTIQUEUE", "linkage110")
        pbx.chan_event("UserEvent", ch, [("UserEvent", "CTILinkage"), ("Source", "110"), ("Queue", "linkage110"),
                                         ("Tag", "110分流"), ("Uniqueid", ch.uniqueid)])
        if not await pbx.dialplan.answer(ch):
            return await self.hangup(ch)
        await self.queue(ch)

    # -- [cti-ivr] ---------------------------------------------------------------------------------------
    async def ivr(self, ch: Channel, exten: str = "s") -> None:
        pbx = self.pbx
        ch.context, ch.exten = "cti-ivr", exten
        if not await pbx.dialplan.answer(ch, 1):
            return await self.hangup(ch)
        first, second = self.agi_hosts(ch)
        pbx.newexten(ch, "Set", "CTIQUEUE=public", 3)
        pbx.setvar(ch, "CTIQUEUE", "public")
        pbx.setvar(ch, "CTI_RESULT", "")
        status = await agi_app(pbx, ch, f"{first}/{pbx.config.agi_script}", 5)
        if ch.gone:
            return
        if status == "HANGUP" or ch.hangup_requested.is_set():
            return await self.hangup(ch, ivr=True)
        # no word from the first layer (unreachable, or gone mid-menu): the second one runs the IVR afresh
        if second and not ch.variables.get("CTI_RESULT"):
            log.info("CTI IVR on %s gave no result on %s (AGISTATUS=%s): trying %s", first, ch.name, status, second)
            status = await agi_app(pbx, ch, f"{second}/{pbx.config.agi_script}", 9)
            if ch.gone:
                return
            if status == "HANGUP" or ch.hangup_requested.is_set():
                return await self.hangup(ch, ivr=True)
        if ch.variables.get("CTI_RESULT") != "ok":
            log.warning("CTI IVR failed on %s (AGISTATUS=%s CTI_RESULT=%s): queue %s", ch.name, status,
                        ch.variables.get("CTI_RESULT", ""), ch.variables.get("CTIQUEUE", ""))
        elif ch.variables.get("CTI_DIAL"):
            await pbx.features.transfer_dial(ch, ch.variables["CTI_DIAL"], priority=13)
            return
        await self.queue(ch)

    def agi_hosts(self, ch: Channel) -> tuple[str, str]:
        """[cti-agi]: CTI_AGI from CTI_AGI_HOST / CTI_AGI_PORT (a channel's own, else [globals], else the
        configured server) and CTI_AGI2 from CTI_AGI_HOST2 / CTI_AGI_PORT2 (empty without a second host)."""
        pbx, cfg = self.pbx, self.pbx.config
        first = f"agi://{pbx.variable(ch, 'CTI_AGI_HOST') or cfg.agi_host}:{pbx.variable(ch, 'CTI_AGI_PORT') or cfg.agi_port}"
        host2 = pbx.variable(ch, "CTI_AGI_HOST2") or ""
        second = f"agi://{host2}:{pbx.variable(ch, 'CTI_AGI_PORT2') or 4573}" if host2 else ""
        pbx.setvar(ch, "CTI_AGI", first)
        pbx.setvar(ch, "CTI_AGI2", second)
        return first, second

    async def queue(self, ch: Channel) -> None:
        """From the ``queue`` label: MixMonitor, Queue(), QueueResult, survey or Hangup."""
        pbx, cfg = self.pbx, self.pbx.config
        ch.context, ch.exten = "cti-ivr", "s"
        pbx.newexten(ch, "MixMonitor", f"{ch.uniqueid}.raw,{MIXMONITOR_OPTIONS}", 14)
        if cfg.recording_dir:   # MixMonitor opens its file at once: 0 bytes until the call is bridged
            raw = Path(cfg.recording_dir) / f"{ch.uniqueid}.raw"
            raw.parent.mkdir(parents=True, exist_ok=True)
            raw.touch()
        name = ch.variables.get("CTIQUEUE") or ""
        limit = ch.variables.get("CTI_QUEUE_TIMEOUT") or ""
        timeout = int(limit) if limit.isdigit() else DEFAULT_QUEUE_TIMEOUT
        result = await pbx.queue_app.run(ch, name, f"{name},tTc,,,{timeout}", timeout, 15, keep_channel=True)
        if result == "gone" or ch.gone:
            return
        if result != "hangup" and not ch.hangup_requested.is_set():
            self.queue_result(ch, 16)
            if ch.variables.get("CTI_SURVEY") == "yes":
                first, second = ch.variables.get("CTI_AGI", ""), ch.variables.get("CTI_AGI2", "")
                # only when the first layer could not be reached: a survey that ran is never asked twice
                if await agi_app(pbx, ch, f"{first}/survey", 19) == "FAILURE" and second and not ch.gone:
                    await agi_app(pbx, ch, f"{second}/survey", 21)
        await self.hangup(ch)

    def queue_result(self, ch: Channel, priority: int) -> None:
        """UserEvent(QueueResult,Queue: ${CTIQUEUE},QueueStatus: ${QUEUESTATUS},Uniqueid: ${UNIQUEID})."""
        self.pbx.newexten(ch, "UserEvent", "QueueResult", priority)
        self.pbx.chan_event("UserEvent", ch, [
            ("UserEvent", "QueueResult"), ("Queue", ch.variables.get("CTIQUEUE", "")),
            ("QueueStatus", ch.variables.get("QUEUESTATUS", "")), ("Uniqueid", ch.uniqueid)])

    async def hangup(self, ch: Channel, ivr: bool = False) -> None:
        """Hangup() or the caller's hang-up: the ``h`` extension's QueueResult, then the channel ends."""
        if ch.gone:
            return
        ch.exten, ch.priority = "h", 1
        self.queue_result(ch, 1)
        self.pbx.destroy(ch)
        call = ch.call
        if call is not None and call.outcome is None:
            call.finish("ivr_hangup" if ivr else "other")


async def agi_app(pbx: Pbx, ch: Channel, url: str, priority: int) -> str:
    """AGI(url) at ``priority``: the layer's AGISTATUS (SUCCESS, HANGUP, FAILURE), set on the channel as
    Asterisk does; FAILURE when the layer cannot be reached (the dialplan then tries the second host)."""
    pbx.newexten(ch, "AGI", url, priority)
    status = "FAILURE"
    if pbx.agi_runner is not None:
        try:
            status = await pbx.agi_runner(ch, url)
        except Exception:  # fail open: the call still reaches a queue
            log.exception("AGI %s on %s failed", url, ch.name)
    if not ch.gone:
        pbx.setvar(ch, "AGISTATUS", status)
    return status


def install(pbx: Pbx, path: Path = SHIPPED_EXTENSIONS) -> ShippedDialplan:
    return ShippedDialplan(pbx, path).install()
