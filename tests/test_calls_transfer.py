"""One-key transfer, emergency linkage, after-hours refusal and AMI reconnect, against the simulator."""

from __future__ import annotations

import asyncio
import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from calls_support import centre, until

from cti.calls.service import CallError
from cti.tickets.part import TicketsPart

TZ = ZoneInfo("Asia/Shanghai")
WORKING = dt.datetime(2026, 3, 4, 10, 0, tzinfo=TZ)          # a Wednesday morning
HOLIDAY_3AM = dt.datetime(2026, 10, 2, 3, 0, tzinfo=TZ)      # National Day holiday, 3 a.m.


async def test_given_a_department_that_answers_when_one_key_transfer_then_the_citizen_talks_to_it(tmp_path):
    async with centre(tmp_path) as c:
        c.control.clock = lambda: WORKING
        call_id = await c.citizen()
        citizen = c.control.tracker.get(call_id).citizen
        t = await c.control.transfer(call_id, "12333", "blind")
        await c.state(call_id, "connected")
        blind = next(m for m in c.events if m.name == "BlindTransfer")
        assert (blind["TransfereeChannel"], blind["Extension"], blind["Context"]) == (citizen, "12333", "cti-transfer")
        # the citizen shares a bridge with the department: its Local leg (t.recipient) until Asterisk optimises
        # the pair away, then the hotline's own channel (shipped [departments] Dial(), DESIGN.md section 5)
        def with_department(channels: dict) -> bool:
            bridge = channels.get(citizen, {}).get("BridgeId")
            return bool(bridge) and any(ch.get("BridgeId") == bridge for name, ch in channels.items()
                                        if name != citizen and (name == t.recipient or "12333" in name
                                                                or "hotlines" in name))
        for _ in range(100):
            channels = await c.channels()
            if with_department(channels):
                break
            await asyncio.sleep(0.05)
        assert with_department(channels), channels
        assert c.control.tracker.get(call_id).agent_channel == ""          # the agent is free again


async def test_given_no_answer_when_one_key_transfer_then_the_citizen_returns_to_the_queue_and_the_desk_is_told(tmp_path):
    async with centre(tmp_path) as c:
        c.control.clock = lambda: WORKING
        c.department("12366", answer_delay=999)
        call_id = await c.citizen()
        citizen = c.control.tracker.get(call_id).citizen
        await c.control.transfer(call_id, "12366", "blind")
        t = await c.state(call_id, "returned")
        assert "back to the 12345 queue" in t.reason
        told = [m for m in c.transfers if m.call_id == call_id and m.state == "returned"]
        assert told and told[0].agent == "6001"                          # pushed to that agent's desktop
        rejoin = [m for m in c.events if m.name == "QueueCallerJoin" and m["Channel"] == citizen]
        assert len(rejoin) == 2 and rejoin[-1]["Queue"] == "public"         # never a dead end
        await until(lambda: c.control.tracker.get(call_id).agent_channel)  # another agent answers


async def test_given_3am_on_a_holiday_when_transfer_to_an_emergency_line_then_it_is_dialled_and_flagged(tmp_path):
    async with centre(tmp_path) as c:
        c.control.clock = lambda: HOLIDAY_3AM
        for number, kind in (("110", "threeway"), ("120", "blind")):
            call_id = await c.citizen(number="1390000" + number.zfill(4))
            t = await c.control.transfer(call_id, number, kind)
            assert t.emergency
            await c.state(call_id, "threeway" if kind == "threeway" else "connected")
            # the shipped AMI user receives no such VarSet (eventfilter): ask the switch for the variable
            flag = []
            for channel in await c.channels():
                reply = await c.layer.ami.action({"Action": "Getvar", "Channel": channel, "Variable": "CTI_EMERGENCY"})
                flag += [channel] if reply.get("Value") == "yes" else []
            assert flag, "the emergency flag travels with the call"
            pushed = [m for m in c.transfers if m.call_id == call_id]
            assert all(m.emergency for m in pushed)


async def test_given_after_hours_when_a_parallel_merged_department_is_asked_then_refused_and_a_ticket_is_made(tmp_path):
    async with centre(tmp_path, parts=[TicketsPart]) as c:
        tickets = c.layer.parts[0].tickets
        c.control.clock = lambda: HOLIDAY_3AM
        call_id = await c.citizen(number="13912345678")
        with pytest.raises(CallError) as info:
            await c.control.transfer(call_id, "12333", "threeway")
        refusal = info.value
        assert (refusal.status, refusal.code) == (409, "after_hours")
        assert "非工作时间" in refusal.detail
        ticket = await tickets.get(refusal.extra["ticket"]["id"])
        assert (ticket["department"], ticket["caller_number"], ticket["call_ids"]) == ("人社局", "13912345678", [call_id])
        assert not any(m.name == "PlayDTMF" or m.name == "Hold" for m in c.events)
        assert c.control.tracker.get(call_id).agent_channel                  # the agent keeps the citizen


async def test_given_a_direct_merged_number_when_transfer_then_refused_with_a_clear_reason(tmp_path):
    async with centre(tmp_path) as c:
        c.control.clock = lambda: WORKING
        call_id = await c.citizen()
        with pytest.raises(CallError) as info:
            await c.control.transfer(call_id, "12316", "blind")
        assert info.value.status == 422 and "directly merged" in info.value.detail


async def test_given_an_ami_reconnect_while_the_department_rings_then_the_state_is_reconciled(tmp_path):
    async with centre(tmp_path) as c:
        c.control.clock = lambda: WORKING
        c.department("12320", answer_delay=6)
        call_id = await c.citizen()
        t = await c.control.transfer(call_id, "12320", "threeway")
        await c.state(call_id, "ringing")
        resyncs = []
        c.layer.bus.subscribe("ami.resynced", lambda _t, m: resyncs.append(m))
        listeners = list(c.sim.pbx.listeners)
        c.sim.pbx.listeners.clear()                      # the link goes silent: the answer event is lost
        far = c.sim.pbx.find_channel(t.recipient.replace(";1", ";2"))
        await until(lambda: far.state == 6)             # the department answers while the layer is away
        c.sim.pbx.listeners.extend(listeners)
        for session in list(c.sim.ami.sessions):        # then the connection drops and comes back
            session.close()
        # on resync the layer finds the answered leg in CoreShowChannels and plays the three-way code
        await c.state(call_id, "threeway", timeout=15)
        assert resyncs and resyncs[-1].reconnect
        assert not any(m.name == "DialEnd" and m["DestChannel"] == t.recipient for m in c.events)
        resynced = [m for m in c.events if m.name == "AttendedTransfer"]
        assert resynced and resynced[0]["DestType"] == "Threeway"


async def test_given_an_ami_reconnect_after_the_citizen_left_then_the_call_and_transfer_end(tmp_path):
    async with centre(tmp_path) as c:
        c.control.clock = lambda: WORKING
        c.department("12313", answer_delay=999)
        call_id = await c.citizen()
        call = c.control.tracker.get(call_id)
        t = await c.control.transfer(call_id, "12313", "threeway")
        await c.state(call_id, "ringing")
        listeners = list(c.sim.pbx.listeners)
        c.sim.pbx.listeners.clear()                  # events stop reaching the layer (a silent link)
        c.sim.pbx.deliver_hangup(c.sim.pbx.find_channel(call.citizen))
        c.sim.pbx.listeners.extend(listeners)
        for session in list(c.sim.ami.sessions):
            session.close()
        await until(lambda: t.done, 15)
        assert t.state == "abandoned"
        assert c.control.tracker.get(call_id) is None
