"""The simulator's contract: scripted scenarios run on the real Asterisk 22 and on the simulator, both with
the shipped config/asterisk snippets, give the layer's AMI user (``cti``: read classes and eventfilter
applied) the same events: per party the same names in the same order, the same key fields, times within
a tolerance (see ``real_asterisk.parity``). One Asterisk, one simulator and a layer on each (its FastAGI
IVR) for the whole module; each scenario runs on both switches at once, with short ring and talk times.
"""

from __future__ import annotations

import asyncio
import contextlib
import wave
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
import pytest_asyncio

from cti.simulator import SimConfig, Simulator
from cti.simulator.queues_conf import SHIPPED_QUEUES, queue_configs
from real_asterisk import sim_phones
from real_asterisk.conftest import layer_settings, running_layer
from real_asterisk.parity import Step, compare, normalise, render
from real_asterisk.parity_sides import ProbeAgi, Side, SimSwitch
from real_asterisk.switch import OBSERVER_SECRET, Switch, free_port

pytestmark = pytest.mark.asyncio(loop_scope="module")
Scenario = Callable[[Side, int], Awaitable[None]]


# A queue of the test's own beside the shipped ones: the shipped template with autofill off (Asterisk's
# default) and agents rung in login order, so the head-of-line rule shows in the event times.
NO_AUTOFILL_QUEUE = "noautofill"
EXTRA_QUEUES = f"[{NO_AUTOFILL_QUEUE}](cti-queue)\nautofill = no\nstrategy = linear\n"


@pytest.fixture(scope="module")
def parity_switch(lab, prompt_audio, tmp_path_factory):
    """One real Asterisk 22 for every scenario of the module (each leaves no agent logged in)."""
    sw = Switch(lab, tmp_path_factory.mktemp("parity") / "asterisk", free_port(), free_port(), sounds=prompt_audio,
                extra_conf={"queues.conf": EXTRA_QUEUES})
    sw.start()
    yield sw
    sw.stop()


def prompt_seconds(prompt_audio: Path) -> dict[str, float]:
    """How long each prompt the real switch plays lasts (``cti12345/welcome`` -> seconds of its WAV)."""
    out = {}
    for path in prompt_audio.rglob("*.wav"):
        with wave.open(str(path)) as w:
            out[str(path.relative_to(prompt_audio).with_suffix(""))] = w.getnframes() / w.getframerate()
    return out


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def sides(parity_switch, prompt_audio, tmp_path_factory):
    """(real, simulator): each switch with the layer running on it and two AMI sessions of the test's."""
    agi_port = free_port()
    extra = tmp_path_factory.mktemp("sim-conf") / "queues_extra.conf"
    extra.write_text(EXTRA_QUEUES)
    monitor = tmp_path_factory.mktemp("sim-monitor")
    cfg = SimConfig(ami_port=0, agi_port=agi_port, speed=1, queues=queue_configs(SHIPPED_QUEUES, extra),
                    extra_users={"observer": OBSERVER_SECRET}, prompts=prompt_seconds(prompt_audio),
                    recording_dir=str(monitor))
    sim = Simulator(cfg)
    await sim.start()
    sim_phones.install(sim.pbx)
    sim_switch = SimSwitch(sim.ami_port, agi_port, monitor)
    real, simulated = Side("real Asterisk", parity_switch.ami_port), Side("simulator", sim.ami_port)
    async with contextlib.AsyncExitStack() as stack:
        real.layer = await stack.enter_async_context(running_layer(
            parity_switch, layer_settings(parity_switch, tmp_path_factory.mktemp("real-layer"))))
        simulated.layer = await stack.enter_async_context(running_layer(
            sim_switch, layer_settings(sim_switch, tmp_path_factory.mktemp("sim-layer"))))
        await asyncio.gather(real.connect(), simulated.connect())
        yield real, simulated
        await asyncio.gather(real.close(), simulated.close())
    await sim.stop()


# -- scenarios: the same AMI actions to both switches -------------------------------------------------
async def _answered(side: Side, since: int, caller: str, ring: float) -> None:
    await side.agent("6001", ring=ring, talk=1)
    await side.login("6001")
    await side.queue_caller(caller, patience=60)
    await side.settled(since)
    await side.logout("6001")


async def answered_within_sl(side: Side, since: int) -> None:
    await _answered(side, since, "13900000001", ring=1)


async def abandon(side: Side, since: int) -> None:
    await side.queue_caller("13900000003", patience=2)


async def queue_timeout(side: Side, since: int) -> None:
    await side.queue_caller("13900000004", patience=60, timeout=3)


IVR_KEYS = {"1": "13900000011", "2": "13900000012", "9": "13900000019", "none": "13900000010",
            "7ww1": "13900000017"}     # 7: an invalid key, the re-prompt, then 1


async def ivr_keys_and_110(side: Side, since: int) -> None:
    """Five citizens at once, one per key path of the shipped main menu, each hanging up once queued; beside
    them (the IVR's longest path takes ~40 s) a 110 hand-over (no menu, queue linkage110) that an agent
    answers after 16 s of ringing: more than the queue's servicelevel (15 s)."""
    async def one(keys: str, caller: str) -> None:
        await side.call(caller, keys="" if keys == "none" else keys, delay=1.5)
        join = await side.cti_event(since, "QueueCallerJoin", CallerIDNum=caller, timeout=90)
        await side.act({"Action": "Hangup", "Channel": join["Channel"][:-1] + "1", "Cause": 16})

    async def handover() -> None:
        await side.agent("6002", ring=16, talk=1)
        await side.login("6002", "linkage110")
        await side.call("13900000110", dialled="12345110", stay=60)
        await side.cti_event(since, "AgentComplete", Queue="linkage110", timeout=60)
        await side.cti_event(since, "Hangup", CallerIDNum="13900000110", Context="cti-ivr", timeout=30)
        await side.logout("6002", "linkage110")

    await asyncio.gather(handover(), *(one(k, c) for k, c in IVR_KEYS.items()))


async def second_agi_host(side: Side, since: int) -> None:
    """Two layer hosts, the first down (nothing listens on CTI_AGI_PORT): the shipped dialplan runs the IVR on
    CTI_AGI_HOST2 / CTI_AGI_PORT2, whose key 2 reaches the enterprise queue (the fail-open would be public)."""
    second = {"CTI_AGI_PORT": free_port(), "CTI_AGI_HOST2": "127.0.0.1", "CTI_AGI_PORT2": side.layer.settings.agi.port}
    await side.call("13900000032", keys="2", delay=1.5, variables=second)
    join = await side.cti_event(since, "QueueCallerJoin", CallerIDNum="13900000032", timeout=90)
    assert join["Queue"] == "enterprise", join
    await side.act({"Action": "Hangup", "Channel": join["Channel"][:-1] + "1", "Cause": 16})


async def threeway_answered(side: Side, since: int) -> None:
    """The agent adds department 12315 (answers after 2 s), all three talk, the agent drops off; the citizen
    hangs up 2 s later."""
    await side.department("12315", ring=2)
    await side.agent("6001", ring=0.5)
    await side.login("6001")
    await side.queue_caller("13900000021", patience=600)
    call = await side.answered_call("13900000021")
    await side.api("POST", f"/api/calls/{call['id']}/threeway", {"number": "12315"})
    await side.transfer_state(call["id"], {"threeway"})
    await side.cti_event(since, "LocalOptimizationEnd")
    await side.api("POST", f"/api/calls/{call['id']}/drop-off")
    await side.transfer_state(call["id"], {"handed_off"})
    await side.cti_event(since, "Hangup", Channel=call["agent_channel"])
    await side.act({"Action": "Hangup", "Channel": call["citizen_channel"][:-1] + "1", "Cause": 16})
    await side.settled(since)
    await side.logout("6001")


async def _transfer_ending(side: Side, since: int, caller: str, kind: str, number: str, states: set[str],
                           **department) -> None:
    """Agent 6001 answers ``caller``, asks for a transfer (``threeway`` or ``transfer``) to ``number`` whose
    phone behaves as ``department`` says; once it is in one of ``states`` the citizen hangs up."""
    await side.department(number, **department)
    await side.agent("6001", ring=0.5)
    await side.login("6001")
    await side.queue_caller(caller, patience=600)
    call = await side.answered_call(caller)
    await side.api("POST", f"/api/calls/{call['id']}/{kind}", {"number": number})
    await side.transfer_state(call["id"], states)
    await side.act({"Action": "Hangup", "Channel": call["citizen_channel"][:-1] + "1", "Cause": 16})
    await side.cti_event(since, "Hangup", Channel=call["citizen_channel"], timeout=30)
    await side.cti_event(since, "Hangup", Channel=call["agent_channel"], timeout=30)
    await side.logout("6001")


async def threeway_busy(side: Side, since: int) -> None:
    await _transfer_ending(side, since, "13900000022", "threeway", "12366", {"busy", "no_answer", "cancelled"},
                           busy=True)


async def threeway_not_answered(side: Side, since: int) -> None:
    """The department rings past features.conf's atxfernoanswertimeout (15 s): the agent gets the citizen back.
    120 (hotlines.yaml answer_timeout 30): Dial()'s own timeout would race the 15 s of a 15 s hotline."""
    await _transfer_ending(side, since, "13900000023", "threeway", "120", {"no_answer", "cancelled"}, ring=60)


async def transfer_answered(side: Side, since: int) -> None:
    """One-key transfer: the department answers after 1 s and talks with the citizen."""
    await _transfer_ending(side, since, "13900000024", "transfer", "12315", {"connected"}, ring=1)


async def transfer_not_answered(side: Side, since: int) -> None:
    """One-key transfer to a busy department: the citizen is back in the 12345 queue (UserEvent
    CTITransferFailed). A department that rings out is left out: [cti-transfer]'s and [departments]' Dial()
    share CTI_DEPT_TIMEOUT, and which one gives up first varies on the real switch."""
    await _transfer_ending(side, since, "13900000025", "transfer", "12366", {"returned", "busy"}, busy=True)


async def agi_two_files(side: Side, since: int) -> None:
    """GET DATA with two files joined by ``&`` (Playback()'s list syntax, not AGI's): Asterisk 22 answers
    ``200 result=-1`` at once, the channel live (the probe reports the answer in CTI_TAGS)."""
    probe = await ProbeAgi("GET DATA cti12345/welcome&cti12345/main-menu 2000 1").start()
    try:
        await side.call("13900000031", stay=60, variables={"CTI_AGI_PORT": probe.port})
        join = await side.cti_event(since, "QueueCallerJoin", CallerIDNum="13900000031", timeout=30)
        await side.act({"Action": "Hangup", "Channel": join["Channel"][:-1] + "1", "Cause": 16})
    finally:
        await probe.stop()


HEAD_OF_LINE_AGENTS = ("6003", "6004")


async def head_of_line(side: Side, since: int) -> None:
    """Two agents free, two callers 0.3 s apart in a queue with autofill off: only the head of the line rings
    (the second caller's agent rings once the first has answered, 4 s later)."""
    for agent in HEAD_OF_LINE_AGENTS:
        await side.agent(agent, ring=4, talk=1)
        await side.login(agent, NO_AUTOFILL_QUEUE)
    await side.queue_caller("13900000041", patience=60, queue=NO_AUTOFILL_QUEUE)
    await side.cti_event(since, "QueueCallerJoin", CallerIDNum="13900000041")
    await asyncio.sleep(0.3)
    await side.queue_caller("13900000042", patience=60, queue=NO_AUTOFILL_QUEUE)
    for caller in ("13900000041", "13900000042"):
        join = await side.cti_event(since, "QueueCallerJoin", CallerIDNum=caller)
        await side.cti_event(since, "Hangup", Uniqueid=join["Uniqueid"], timeout=30)
    for agent in HEAD_OF_LINE_AGENTS:
        await side.logout(agent, NO_AUTOFILL_QUEUE)


async def recordings(side: Side, since: int) -> None:
    """An answered call (2 s of talk) and a caller who gave up: what the layer made of MixMonitor's
    ``<uid>.raw`` of each (GET /api/recordings/{uid}/info: ready with about 2 s of audio, and empty)."""
    await side.agent("6001", ring=1, talk=2)
    await side.login("6001")
    await side.queue_caller("13900000051", patience=60)
    answered = await side.cti_event(since, "QueueCallerJoin", CallerIDNum="13900000051")
    await side.cti_event(since, "Hangup", Uniqueid=answered["Uniqueid"], timeout=30)
    await side.logout("6001")
    await side.queue_caller("13900000052", patience=1)
    gave_up = await side.cti_event(since, "QueueCallerJoin", CallerIDNum="13900000052")
    await side.cti_event(since, "Hangup", Uniqueid=gave_up["Uniqueid"], timeout=30)
    for who, uid in (("citizen 13900000051#1", answered["Uniqueid"]), ("citizen 13900000052#1", gave_up["Uniqueid"])):
        info = await side.recording(uid)
        # its length stands where an event's time would: compared within the same tolerance
        side.facts[f"{who} [recording]"] = [("Recording", (("status", info["status"]),), info.get("duration") or 0.0)]


async def ami_cut(side: Side, since: int) -> None:
    """One citizen talks to agent 6001, another waits; the layer's AMI connection drops and comes back: the
    fresh session's QueueStatus and CoreShowChannels show both calls alike; then both citizens hang up."""
    await side.agent("6001", ring=0.5, talk=600)
    await side.login("6001")
    await side.queue_caller("13900000061", patience=600)
    talking = await side.cti_event(since, "AgentConnect", Queue="public", timeout=30)
    await side.queue_caller("13900000062", patience=600)
    waiting = await side.cti_event(since, "QueueCallerJoin", CallerIDNum="13900000062")
    side.snapshot = await side.cut()
    for citizen in (talking["Channel"], waiting["Channel"]):
        await side.act({"Action": "Hangup", "Channel": citizen[:-1] + "1", "Cause": 16})
    for channel in (talking["Channel"], waiting["Channel"], talking["DestChannel"]):
        await side.cti_event(0, "Hangup", Channel=channel, timeout=30)
    await side.logout("6001")
    side.after_cut = await side.settled(0, channels=False)


async def core_restart(side: Side, since: int) -> None:
    """An admin types ``core restart now`` while a citizen waits: the caller is let go (abandon, QueueResult,
    Hangup cause 0), Shutdown, then the connection closes. Last of the module: the sessions are gone after."""
    await side.queue_caller("13900000071", patience=60)
    await side.cti_event(since, "QueueCallerJoin", CallerIDNum="13900000071")
    side.admin.send({"Action": "Command", "Command": "core restart now"})
    await asyncio.wait_for(asyncio.shield(side.cti._task), 20)   # the switch closes the layer's connection
    side.cut_frames, side.snapshot, side.after_cut = list(side.cti.frames), [], []


async def long_ones_together(side: Side, since: int) -> None:
    """The scenarios that mostly wait, at once (they share no agent, queue or citizen): the IVR keys and the
    110 hand-over (~40 s), a three-way call not answered (~16 s), the head-of-line rule (~8 s), the IVR on
    the second FastAGI host."""
    await asyncio.gather(ivr_keys_and_110(side, since), threeway_not_answered(side, since), head_of_line(side, since),
                         second_agi_host(side, since))


SCENARIOS: dict[str, Scenario] = {
    "an answered call's recording and an abandoned caller's": recordings,
    "AGI GET DATA with two files": agi_two_files,
    "three-way answered": threeway_answered,
    "three-way busy": threeway_busy,
    "one-key transfer answered": transfer_answered,
    "one-key transfer not answered (busy)": transfer_not_answered,
    "an AMI cut while one citizen talks and one waits": ami_cut,
    "answered within the service level": answered_within_sl,
    "abandon": abandon,
    "timeout": queue_timeout,
    # (an id over 100 characters becomes "name10" in pytest's test ids)
    "IVR keys, 110 hand-over after the SL, three-way not answered, autofill no, second AGI host": long_ones_together,
    "core restart now with a caller waiting": core_restart,   # last: it ends the module's sessions
}


async def _run(side: Side, scenario: Scenario) -> list:
    since = len(side.cti.frames)
    side.cut_frames, side.snapshot = None, []
    try:
        await scenario(side, since)
        if side.cut_frames is not None:   # the stream before the cut, the fresh session's answers, and after
            after = [f for f in side.after_cut if "ActionID" not in dict(f)]   # the answers are in the snapshot
            return side.cut_frames[since:] + side.snapshot + after
        return await side.settled(since)
    finally:   # a failed scenario leaves no agent behind for the next
        for agent, queue in (("6001", "public"), ("6002", "linkage110"), *((a, NO_AUTOFILL_QUEUE)
                                                                              for a in HEAD_OF_LINE_AGENTS)):
            side.admin.send({"Action": "QueueRemove", "Queue": queue, "Interface": f"Local/{agent}@agents/n"})


@pytest.mark.parametrize("name", list(SCENARIOS))
async def test_given_a_scenario_when_run_on_both_then_the_layer_user_sees_the_same_events(sides, name):
    real, simulated = sides
    async with asyncio.TaskGroup() as both:   # one side failing stops the other (no leftovers for the next)
        real_run, sim_run = both.create_task(_run(real, SCENARIOS[name])), both.create_task(_run(simulated, SCENARIOS[name]))
    expected, got = real_run.result(), sim_run.result()
    want, have = normalise(expected), normalise(got)
    for streams, side in ((want, real), (have, simulated)):   # what a scenario found out beside the events
        for who, facts in side.facts.items():
            streams[who] = [Step(name, fields, at) for name, fields, at in facts]
        side.facts.clear()
    diff = compare(name, want, have)
    assert not diff, f"{diff}\n\nreal Asterisk:\n{render(want)}\n\nsimulator:\n{render(have)}"
