"""The shipped dialplan (etc/extensions.conf) as coroutines: from-pstn, caller, agents, departments.

Each context runs on one channel; a hangup request interrupts its waits, and the channel then ends
with SoftHangupRequest + Hangup like Asterisk's PBX thread does.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from .config import sample
from .fields import channel_fields
from .model import Channel

if TYPE_CHECKING:
    from .pbx import Pbx

log = logging.getLogger(__name__)

# The `caller` context of the recording: (steps) where a step is ("wait", s), ("dtmf", d), ("hangup",)
CALLER_SCRIPTS: dict[str, list[tuple]] = {
    "press1": [("wait", 3), ("dtmf", "1"), ("wait", 120)],
    "press2": [("wait", 3), ("dtmf", "2"), ("wait", 120)],
    "press9": [("wait", 3), ("dtmf", "9"), ("wait", 120)],
    "silent": [("wait", 120)],
    "abandon": [("wait", 4), ("hangup",)],
}

ANSWER_DELAY = 0.5   # Answer() pauses half a second before the next priority (seen in every recording)


class Dialplan:
    def __init__(self, pbx: Pbx) -> None:
        self.pbx = pbx
        # Added dialplan entries ("<exten>@<context>" or "<context>" -> async handler(channel, exten)),
        # installed by extension modules such as .outbound; the recorded contexts never change.
        self.extra: dict = {}
        # contexts whose Originate is a citizen's inbound call (counted in the totals, traffic's InboundCall)
        self.inbound_contexts: set[str] = {"from-pstn"}

    # -- entry points -------------------------------------------------------------------------------
    def originate(self, channel: str, context: str = "", exten: str = "", priority: int = 1,
                  application: str = "", data: str = "", cid_num: str = "", cid_name: str = "",
                  timeout: float = 30.0, action_id: str | None = None, variables=None,
                  script=None) -> str | None:
        """Originate ``Local/<exten>@<context>``; returns an error message or None when queued."""
        pbx = self.pbx
        tech, _, rest = channel.partition("/")
        if tech.lower() != "local" or "@" not in rest:
            return "Originate failed: only Local/<exten>@<context> channels exist in the simulator"
        dest_exten, _, dest_context = rest.partition("@")
        dest_context = dest_context.split("/", 1)[0]
        if dest_context not in ("from-pstn", "agents", "departments", pbx.config.transfer_context) \
                and dest_context not in self.extra:
            return f"Originate failed: context {dest_context} does not exist"
        one, two = pbx.new_local(dest_exten, dest_context)
        pbx.newexten(one, "AppDial2", "(Outgoing Line)")
        for ch in (one, two):
            ch.set_callerid(cid_num, cid_name)
            ch.set_connected(cid_num, cid_name)
        pbx.new_callerid(one)
        pbx.new_connected(one)
        pbx.new_callerid(two)
        pbx.new_connected(two)
        for key, value in (variables or {}).items():
            pbx.setvar(two, key, value)
        pbx.local_bridge(one, two)
        pbx.dial_event("DialBegin", None, one, [("DialString", f"{dest_exten}@{dest_context}")])
        inbound = dest_context in self.inbound_contexts
        if inbound:
            one.role, two.role = "caller", "pstn"
            pbx.start_call(one, two, counted=True)
        state = {"answered": False}

        def answered(_ch: Channel) -> None:
            state["answered"] = True
            one.hangup_handler = None
            pbx.dial_event("DialEnd", None, one, [("DialStatus", "ANSWER")])
            pbx.emit("OriginateResponse", ([("ActionID", action_id)] if action_id else []) + [
                ("Response", "Success"), ("Channel", one.name), ("Context", context or ""),
                ("Exten", exten or ""), ("Reason", "4"), ("Uniqueid", one.uniqueid),
                ("CallerIDNum", one.cid_num), ("CallerIDName", one.cid_name)])
            one.context, one.exten, one.priority = context or one.context, exten or one.exten, priority
            if script is not None:
                pbx.spawn(script.run(pbx, one), name=f"caller {one.name}")
            elif application:
                pbx.spawn(self.application(one, application, data), name=f"app {one.name}")
            else:
                pbx.spawn(self.run(one, context, exten), name=f"dialplan {one.name}")
            pbx.device_state(one.device, "INUSE")
            pbx.device_state(one.device, "INUSE")

        def refused(_one: Channel) -> None:
            """The ;2 half ended before answering (busy, no answer, unreachable): the Originate fails and its
            ;1 half hangs up with the same cause, as on the real switch."""
            if state["answered"] or one.gone:
                return
            state["answered"] = True    # settled: the timeout has nothing left to do
            two.on_answer = None
            cause = one.cause
            status = {17: "BUSY", 19: "NOANSWER", 0: "NOANSWER", 34: "CONGESTION"}.get(cause, "CHANUNAVAIL")
            pbx.dial_event("DialEnd", None, one, [("DialStatus", status)])
            pbx.emit("OriginateResponse", ([("ActionID", action_id)] if action_id else []) + [
                ("Response", "Failure"), ("Channel", one.name.rsplit("-", 1)[0]), ("Context", context or ""),
                ("Exten", exten or ""), ("Reason", {17: "5", 19: "3"}.get(cause, "8")), ("Uniqueid", "<null>"),
                ("CallerIDNum", one.cid_num), ("CallerIDName", one.cid_name)])
            pbx.hangup_event(one)

        two.on_answer = answered
        if not inbound:
            one.hangup_handler = refused
        pbx.spawn(self.run(two, dest_context, dest_exten), name=f"dialplan {two.name}")
        if not inbound:
            pbx.spawn(self._originate_timeout(one, two, timeout, state, action_id, context, exten))
        return None

    async def _originate_timeout(self, one, two, timeout, state, action_id, context, exten) -> None:
        pbx = self.pbx
        await pbx.clock.sleep(timeout)
        if state["answered"] or two.gone:
            return
        two.on_answer = None
        pbx.dial_event("DialEnd", None, one, [("DialStatus", "NOANSWER")])
        pbx.emit("OriginateResponse", ([("ActionID", action_id)] if action_id else []) + [
            ("Response", "Failure"), ("Channel", one.name.rsplit("-", 1)[0]), ("Context", context or ""),
            ("Exten", exten or ""), ("Reason", "3"), ("Uniqueid", "<null>"),
            ("CallerIDNum", one.cid_num), ("CallerIDName", one.cid_name)])
        pbx.request_hangup(two, 0)
        one.cause = 0
        pbx.hangup_event(one)

    def place_call(self, script, cid_num: str, cid_name: str = "", exten: str = "12345") -> None:
        """An inbound call from the traffic generator: like an Originate, without the AMI response. Numbers of
        the shipped [cti-inbound] (12345, the merged hotlines, the 110 hand-over) run the shipped flow."""
        shipped = self.pbx.shipped
        context = "cti-inbound" if exten in ("12345", "12345110") or exten in shipped.merged else "from-pstn"
        self.originate(f"Local/{exten}@{context}", context="caller", exten="traffic", cid_num=cid_num,
                       cid_name=cid_name, script=script)

    async def run(self, ch: Channel, context: str, exten: str) -> None:
        ch.context, ch.exten = context, exten
        extra = self.extra.get(f"{exten}@{context}") or self.extra.get(context)
        try:
            if extra is not None:
                await extra(ch, exten)
            elif context == "from-pstn":
                await self.from_pstn(ch, exten)
            elif context == "caller":
                await self.caller(ch, exten)
            elif context == "agents":
                await self.agent(ch, exten)
            elif context == "departments":
                await self.department(ch, exten)
            elif context == self.pbx.config.transfer_context:
                await self.pbx.features.transfer_dial(ch, exten)
            else:
                log.warning("no dialplan for %s@%s: hanging up %s", exten, context, ch.name)
                self.pbx.destroy(ch)
        except Exception:
            log.exception("dialplan failed on %s", ch.name)
            self.pbx.destroy(ch)

    async def application(self, ch: Channel, app: str, data: str) -> None:
        """Originate with Application=...: Wait, Playback, Echo... just hold the channel."""
        pbx = self.pbx
        pbx.newexten(ch, app, data)
        seconds = 3600.0
        if app.lower() == "wait":
            try:
                seconds = float(data or 0)
            except ValueError:
                seconds = 0.0
        elif app.lower() == "playback":
            seconds = pbx.config.prompts.get(data, pbx.config.default_prompt)
        await pbx.wait(ch, seconds)
        pbx.destroy(ch)

    # -- contexts -----------------------------------------------------------------------------------
    async def answer(self, ch: Channel, priority: int | None = None) -> bool:
        pbx = self.pbx
        pbx.newexten(ch, "Answer", "", priority)
        if ch.state != 6:
            pbx.newstate(ch, 6)
            peer = ch.peer
            if peer is not None and not peer.gone and peer.state != 6:
                pbx.newstate(peer, 6)
        hook, ch.on_answer = ch.on_answer, None
        if hook is not None:
            hook(ch)
        return await pbx.wait(ch, ANSWER_DELAY)

    async def from_pstn(self, two: Channel, exten: str) -> None:
        pbx = self.pbx
        cfg = pbx.config
        call = two.call
        if not await self.answer(two, 1):
            return self._ivr_hangup(two)
        options, timeout = "tT", cfg.queue_timeout
        if exten == "99":
            queue, prio = "public", 2
            qt = two.variables.get("QTIMEOUT")
            timeout = int(qt) if qt and qt.isdigit() else cfg.queue_timeout
        elif exten == "98":
            queue, prio, options, timeout = "enterprise", 2, "", 8
        else:
            pbx.newexten(two, "Set", "CTIQUEUE=public", 2)
            pbx.setvar(two, "CTIQUEUE", "public")
            url = f"agi://{cfg.agi_host}:{cfg.agi_port}/{cfg.agi_script}"
            pbx.newexten(two, "AGI", url, 3)
            status = "FAILURE"
            if pbx.agi_runner is not None:
                try:
                    status = await pbx.agi_runner(two, url)
                except Exception:  # fail open: the call still reaches a queue
                    log.exception("AGI on %s failed", two.name)
                    status = "FAILURE"
            if two.gone:
                return self._finish(two, "ivr_hangup")
            pbx.setvar(two, "AGISTATUS", status)
            if status == "HANGUP" or two.hangup_requested.is_set():
                return self._ivr_hangup(two)
            if two.variables.get("CTI_RESULT", "").lower() == "failed" or status != "SUCCESS":
                log.warning("IVR failed on %s (AGISTATUS=%s): fail-open to queue %s", two.name, status,
                            two.variables.get("CTIQUEUE") or "public")
            queue, prio = two.variables.get("CTIQUEUE") or "public", 4
            dial = two.variables.get("CTI_DIAL", "")
            if dial:
                # the AGI asked for a department directly (one-key transfer before any queue)
                await pbx.features.transfer_dial(two, dial, priority=prio)
                return
        app_data = f"{queue},{options},,,{timeout}"
        result = await pbx.queue_app.run(two, queue, app_data, timeout, prio)
        if result == "gone" or two.gone:
            return
        if two.hangup_requested.is_set():
            pbx.destroy(two)
            return
        pbx.newexten(two, "Hangup", "", prio + 1)
        pbx.destroy(two)
        if call is not None and call.outcome is None:
            call.finish("other")

    def _finish(self, ch: Channel, outcome: str) -> None:
        call = ch.call
        if call is not None and call.outcome is None:
            call.finish(outcome)

    def _ivr_hangup(self, two: Channel) -> None:
        self.pbx.destroy(two)
        self.pbx.device_state(two.device, "NOT_INUSE")
        self._finish(two, "ivr_hangup")

    async def caller(self, one: Channel, exten: str) -> None:
        steps = CALLER_SCRIPTS.get(exten, CALLER_SCRIPTS["silent"])
        await self.run_steps(one, steps)

    async def run_steps(self, one: Channel, steps: list[tuple]) -> None:
        pbx = self.pbx
        for prio, step in enumerate(steps, start=1):
            kind = step[0]
            if kind == "wait":
                pbx.newexten(one, "Wait", f"{step[1]:g}" if isinstance(step[1], float) else str(step[1]), prio)
                if not await pbx.wait(one, float(step[1])):
                    pbx.destroy(one)
                    return
            elif kind == "dtmf":
                pbx.newexten(one, "SendDTMF", step[1], prio)
                await pbx.send_dtmf(one, step[1])
                if one.gone or one.hangup_requested.is_set():
                    pbx.destroy(one)
                    return
            elif kind == "hangup":
                pbx.newexten(one, "Hangup", "", prio)
                pbx.destroy(one)
                return
        pbx.destroy(one, soft=False)

    async def agent(self, two: Channel, exten: str) -> None:
        """[agents] _6XXX: NoOp, Ringing, Wait(delay), Answer, Wait(talk), Hangup."""
        pbx = self.pbx
        timing = pbx.agent_timing(exten)
        rng = pbx.rng_for("agent", exten, two.cid_num)
        delay, talk = sample(timing.ring_delay, rng), sample(timing.talk_time, rng)
        pbx.newexten(two, "NoOp", f"agent {exten}", 1)
        pbx.newexten(two, "Ringing", "", 2)
        one = two.peer
        if one is not None and not one.gone and one.state != 5:
            pbx.newstate(one, 5)
        pbx.setvar(two, "DB_RESULT", _num(delay))
        pbx.newexten(two, "Wait", _num(delay), 3)
        if not await pbx.wait(two, delay):
            return pbx.destroy(two)
        if not await self.answer(two, 4):
            return pbx.destroy(two)
        pbx.setvar(two, "DB_RESULT", _num(talk))
        pbx.newexten(two, "Wait", _num(talk), 5)
        if not await pbx.wait(two, talk):
            return pbx.destroy(two)
        pbx.newexten(two, "Hangup", "", 6)
        pbx.destroy(two)

    async def department(self, two: Channel, exten: str) -> None:
        """[departments] _X.: NoOp, Ringing, Wait(3), Answer, Wait(30), Hangup."""
        pbx = self.pbx
        timing = pbx.department_timing(exten)
        if timing.busy:
            from .department_busy import busy_department
            return await busy_department(pbx, two, exten)
        rng = pbx.rng_for("department", exten, two.cid_num)
        answers = rng.random() >= timing.no_answer_rate
        delay = sample(timing.answer_delay, rng) if answers else 86400.0
        talk = sample(timing.talk_time, rng)
        pbx.newexten(two, "NoOp", f"department {exten}", 1)
        pbx.newexten(two, "Ringing", "", 2)
        one = two.peer
        if one is not None and not one.gone and one.state != 5:
            pbx.newstate(one, 5)
        pbx.newexten(two, "Wait", _num(delay), 3)
        if not await pbx.wait(two, delay):
            return pbx.destroy(two)
        if not await self.answer(two, 4):
            return pbx.destroy(two)
        pbx.newexten(two, "Wait", _num(talk), 5)
        if not await pbx.wait(two, talk):
            return pbx.destroy(two)
        pbx.newexten(two, "Hangup", "", 6)
        pbx.destroy(two)


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"


__all__ = ["Dialplan", "CALLER_SCRIPTS", "channel_fields"]
