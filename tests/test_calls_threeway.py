"""Three-way calls against the PBX simulator: completed, dropped off, cancelled, and the failure matrix."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from calls_support import centre, until

TZ = ZoneInfo("Asia/Shanghai")
WORKING = dt.datetime(2026, 3, 4, 10, 0, tzinfo=TZ)    # a Wednesday morning


async def test_given_an_answered_call_when_threeway_and_agent_drops_off_then_citizen_and_department_stay(tmp_path):
    async with centre(tmp_path, lockstep=True) as c:   # simulated times, however loaded the machine
        c.control.clock = lambda: WORKING
        call_id = await c.citizen()
        call = c.control.tracker.get(call_id)
        agent_channel, citizen_channel = call.agent_channel, call.citizen
        t = await c.control.transfer(call_id, "12315", "threeway")
        await c.state(call_id, "threeway")
        assert t.answer_seconds is not None and 2.5 <= t.answer_seconds <= 4   # Wait(3) then Answer
        await c.control.drop_off(call_id)
        await c.state(call_id, "handed_off")
        channels = await c.channels()
        assert agent_channel not in channels
        department = channels[t.recipient]
        assert department["BridgeId"] and department["BridgeId"] == channels[citizen_channel]["BridgeId"]
        states = [m.state for m in c.transfers if m.call_id == call_id]
        assert states == ["requested", "ringing", "answered", "threeway", "handed_off"]
        figures = {f["number"]: f for f in c.control.stats.as_list()}
        assert figures["12315"]["answered_15s"] == 1 and figures["12315"]["answer_rate_15s"] == 1.0


async def test_given_a_threeway_call_when_the_agent_cancels_then_agent_and_citizen_are_alone_again(tmp_path):
    async with centre(tmp_path, lockstep=True) as c:   # simulated times, however loaded the machine
        c.control.clock = lambda: WORKING
        call_id = await c.citizen()
        t = await c.control.transfer(call_id, "12315", "threeway")
        await c.state(call_id, "threeway")
        await c.control.cancel(call_id)
        await c.state(call_id, "cancelled")
        call = c.control.tracker.get(call_id)
        channels = await c.channels()
        assert t.recipient not in channels
        assert channels[call.agent_channel]["BridgeId"] == channels[call.citizen]["BridgeId"]


async def test_given_a_ringing_department_when_the_agent_cancels_then_the_agent_is_back_with_the_citizen(tmp_path):
    async with centre(tmp_path, lockstep=True) as c:   # simulated times, however loaded the machine
        c.control.clock = lambda: WORKING
        c.department("12333", answer_delay=10)
        call_id = await c.citizen()
        await c.control.transfer(call_id, "12333", "threeway")
        await c.state(call_id, "ringing")
        await c.control.cancel(call_id)
        t = await c.state(call_id, "cancelled")
        assert t.answered_at is None
        assert any(m.name == "Unhold" for m in c.events)
        assert not any(m.name == "AttendedTransfer" for m in c.events)


async def test_given_a_department_that_never_answers_when_threeway_then_the_agent_gets_the_citizen_back(tmp_path):
    async with centre(tmp_path, lockstep=True) as c:   # simulated times, however loaded the machine
        c.control.clock = lambda: WORKING
        c.department("12329", answer_delay=999)
        call_id = await c.citizen()
        await c.control.transfer(call_id, "12329", "threeway")
        t = await c.state(call_id, "no_answer")             # atxfernoanswertimeout (15 s)
        assert "no answer" in t.reason
        call = c.control.tracker.get(call_id)
        channels = await c.channels()
        assert channels[call.agent_channel]["BridgeId"] == channels[call.citizen]["BridgeId"]
        figures = {f["number"]: f for f in c.control.stats.as_list()}
        assert (figures["12329"]["offered"], figures["12329"]["answered"]) == (1, 0)


async def test_given_a_busy_department_when_threeway_then_busy_and_the_agent_gets_the_citizen_back(tmp_path):
    async with centre(tmp_path, lockstep=True) as c:   # simulated times, however loaded the machine
        c.control.clock = lambda: WORKING
        c.department("12348", busy=True)
        call_id = await c.citizen()
        await c.control.transfer(call_id, "12348", "threeway")
        t = await c.state(call_id, "busy")
        assert "busy" in t.reason
        await until(lambda: any(m.name == "Unhold" for m in c.events))
        assert c.control.tracker.get(call_id).agent_channel     # the agent still has the citizen


async def test_given_a_ringing_department_when_the_citizen_hangs_up_then_the_department_leg_is_hung_up(tmp_path):
    async with centre(tmp_path, lockstep=True) as c:   # simulated times, however loaded the machine
        c.control.clock = lambda: WORKING
        c.department("12365", answer_delay=10)
        call_id = await c.citizen()
        citizen = c.control.tracker.get(call_id).citizen
        t = await c.control.transfer(call_id, "12365", "threeway")
        await c.state(call_id, "ringing")
        await c.layer.ami.action({"Action": "Hangup", "Channel": citizen})
        await until(lambda: t.state == "abandoned")
        await until(lambda: any(m.name == "Hangup" and m["Channel"] == t.recipient for m in c.events))
        assert c.control.tracker.get(call_id) is None
        channels = await c.channels()
        assert not [ch for ch in channels if ch.startswith("Local/12365@")]


async def test_given_a_ringing_department_when_the_agent_hangs_up_then_citizen_is_handed_to_the_department(tmp_path):
    async with centre(tmp_path, lockstep=True) as c:   # simulated times, however loaded the machine
        c.control.clock = lambda: WORKING
        c.department("12358", answer_delay=4)
        call_id = await c.citizen()
        call = c.control.tracker.get(call_id)
        citizen = call.citizen
        await c.control.transfer(call_id, "12358", "threeway")
        await c.state(call_id, "ringing")
        await c.layer.ami.action({"Action": "Hangup", "Channel": call.agent_channel})   # atxferdropcall=no
        t = await c.state(call_id, "handed_off")
        transfer = next(m for m in c.events if m.name == "AttendedTransfer")
        assert transfer["DestType"] == "Bridge"
        await until(lambda: any(m.name == "Newstate" and m["Channel"] == t.recipient and m["ChannelState"] == "6"
                                for m in c.events))          # the department answers the citizen
        channels = await c.channels()
        assert channels[t.recipient]["BridgeId"] == channels[citizen]["BridgeId"]


async def test_given_a_finished_transfer_when_hangups_repeat_then_the_end_state_does_not_change(tmp_path):
    async with centre(tmp_path, lockstep=True) as c:   # simulated times, however loaded the machine
        c.control.clock = lambda: WORKING
        call_id = await c.citizen()
        t = await c.control.transfer(call_id, "12315", "threeway")
        await c.state(call_id, "threeway")
        await c.control.drop_off(call_id)
        await c.state(call_id, "handed_off")
        hangup = next(m for m in c.events if m.name == "Hangup" and m["Channel"] == t.initiator)
        for _ in range(2):                                 # the same Hangup delivered twice
            c.control.on_ami_event("ami.event", hangup)
        assert t.state == "handed_off"
        assert [m.state for m in c.transfers if m.call_id == call_id].count("handed_off") == 1
        assert c.control.stats.hotlines["12315"].offered == 1
