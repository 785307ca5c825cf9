"""Call flows beyond the recordings: IVR fail-open, AGI errors, transfers, member ring timeout."""

from __future__ import annotations

import asyncio

import pytest
from sim_support import AgiResponder, AmiClient, login

from cti.simulator import SimConfig, Simulator
from cti.simulator.queues import Queue

PRESS1 = {"Action": "Originate", "Async": "true", "Channel": "Local/12345@from-pstn", "Context": "caller",
          "Exten": "press1", "Priority": "1", "CallerID": '"Citizen" <13800000001>', "Timeout": "30000"}


async def _sim(agi_port: int = 1, **kw) -> Simulator:
    kw.setdefault("manager_conf", None)   # these tests read every event, as the recordings' user did
    s = Simulator(SimConfig(ami_port=0, speed=20, agi_port=agi_port, **kw))
    await s.start()
    return s


def _names(client: AmiClient) -> list[str]:
    return [f[0][1] for f in client.frames if f[0][0] == "Event"]


async def test_unreachable_agi_fails_open_to_the_public_queue():
    sim = await _sim(agi_port=1)
    client = AmiClient()
    await login(client, sim.ami_port)
    await client.action(PRESS1)
    status = dict(await client.wait_for(lambda f: dict(f).get("Variable") == "AGISTATUS"))
    assert status["Value"] == "FAILURE"
    join = dict(await client.wait_for(lambda f: f[0] == ("Event", "QueueCallerJoin")))
    assert join["Queue"] == "public"
    await client.close()
    await sim.stop()


async def test_cti_result_failed_still_queues_in_ctiqueue():
    agi = AgiResponder()
    port = await agi.start()
    agi.script = ["SET VARIABLE CTIQUEUE enterprise", "SET VARIABLE CTI_RESULT failed"]
    sim = await _sim(agi_port=port)
    client = AmiClient()
    await login(client, sim.ami_port)
    await client.action(PRESS1)
    join = dict(await client.wait_for(lambda f: f[0] == ("Event", "QueueCallerJoin")))
    assert join["Queue"] == "enterprise"
    await client.close()
    await sim.stop()
    await agi.stop()


async def test_agi_unknown_command_510_and_dead_channel_511():
    agi = AgiResponder()
    port = await agi.start()
    agi.script = ["FLY ME", "GET DATA beep 6000 1", "STREAM FILE hello-world \"\"", "GET VARIABLE CALLERID(num)",
                  "ANSWER"]
    sim = await _sim(agi_port=port)
    client = AmiClient()
    await login(client, sim.ami_port)
    await client.action({**PRESS1, "Exten": "abandon"})
    await client.wait_for(lambda f: dict(f).get("Variable") == "AGISTATUS", timeout=5)
    replies = agi.sessions[0]["replies"]
    assert replies[0] == "510 Invalid or unknown command"
    assert replies[1] == "200 result=-1"
    assert replies[2] == "HANGUP"
    assert replies[3].startswith("511 ")
    assert replies[4] == "200 result=1 (13800000001)"
    assert replies[5].startswith("511 ")
    await client.close()
    await sim.stop()
    await agi.stop()


async def test_get_data_times_out_without_digits():
    agi = AgiResponder()
    port = await agi.start()
    agi.script = ["GET DATA beep 2000 1", "STREAM FILE hello-world \"12\""]
    sim = await _sim(agi_port=port)
    client = AmiClient()
    await login(client, sim.ami_port)
    await client.action({**PRESS1, "Exten": "silent"})
    await client.wait_for(lambda f: f[0] == ("Event", "QueueCallerJoin"), timeout=5)
    assert agi.sessions[0]["replies"][0] == "200 result= (timeout)"
    assert agi.sessions[0]["replies"][1] == "200 result=0 endpos=11200"
    await client.close()
    await sim.stop()
    await agi.stop()


async def _answered_call(sim: Simulator, client: AmiClient, talk: float = 60):
    sim.pbx.set_agent("6001", 1, talk)
    sim.pbx.set_agent("6002", 1, talk)
    await client.action({"Action": "Originate", "Async": "true", "Channel": "Local/99@from-pstn",
                         "Context": "caller", "Exten": "silent", "Priority": "1", "CallerID": "C <13800000002>"})
    connect = dict(await client.wait_for(lambda f: f[0] == ("Event", "AgentConnect")))
    await client.wait_for(lambda f: f[0] == ("Event", "BridgeEnter") and dict(f)["Channel"] == connect["Channel"])
    return connect


async def test_department_not_answering_rebridges_agent_and_citizen():
    sim = await _sim()
    sim.config.departments["12315"] = sim.config.default_department.__class__(answer_delay=999, talk_time=30)
    client = AmiClient()
    await login(client, sim.ami_port)
    connect = await _answered_call(sim, client)
    agent = connect["DestChannel"]
    for var, val in (("TRANSFER_EXTEN", "12315"), ("TRANSFER_CONTEXT", "departments")):
        await client.action({"Action": "Setvar", "Channel": agent, "Variable": var, "Value": val})
    for digit in "*2":
        await client.action({"Action": "PlayDTMF", "Channel": agent, "Digit": digit, "Receive": "yes"})
    await client.wait_for(lambda f: f[0] == ("Event", "Hold"))
    unhold = await client.wait_for(lambda f: f[0] == ("Event", "Unhold"), timeout=5)
    back = [dict(f) for f in client.frames[client.frames.index(unhold) - 6:]
            if f[0] == ("Event", "BridgeEnter") and dict(f)["Channel"] == agent]
    assert back and back[-1]["BridgeNumChannels"] == "2"
    assert "AttendedTransfer" not in _names(client)
    await client.close()
    await sim.stop()


async def test_blind_transfer_to_department_context():
    sim = await _sim()
    client = AmiClient()
    await login(client, sim.ami_port)
    connect = await _answered_call(sim, client)
    resp = dict(await client.action({"Action": "BlindTransfer", "Channel": connect["DestChannel"],
                                     "Exten": "12315", "Context": "cti-transfer"}))
    assert resp["Message"] == "Transfer succeeded"
    blind = dict(await client.wait_for(lambda f: f[0] == ("Event", "BlindTransfer")))
    assert (blind["TransfereeChannel"], blind["Extension"]) == (connect["Channel"], "12315")
    complete = dict(await client.wait_for(lambda f: f[0] == ("Event", "AgentComplete")))
    assert complete["Reason"] == "transfer"
    dial = dict(await client.wait_for(lambda f: f[0] == ("Event", "DialEnd") and dict(f).get("Channel")
                                      == connect["Channel"] and dict(f)["DestChannel"].startswith("Local/12315@"),
                                      timeout=5))
    assert dial["DialStatus"] == "ANSWER"
    await client.close()
    await sim.stop()


async def test_member_ring_timeout_moves_to_the_next_agent():
    sim = await _sim()
    sim.pbx.set_agent("6001", 100, 5)
    sim.pbx.set_agent("6002", 1, 5)
    client = AmiClient()
    await login(client, sim.ami_port)
    await client.action({"Action": "Originate", "Async": "true", "Channel": "Local/99@from-pstn",
                         "Context": "caller", "Exten": "silent", "Priority": "1", "CallerID": "C <1>"})
    rna = dict(await client.wait_for(lambda f: f[0] == ("Event", "AgentRingNoAnswer"), timeout=5))
    assert (rna["MemberName"], rna["RingTime"]) == ("Agent 6001", "20000")
    connect = dict(await client.wait_for(lambda f: f[0] == ("Event", "AgentConnect"), timeout=5))
    assert connect["MemberName"] == "Agent 6002" and connect["HoldTime"] in ("22", "23")
    assert any(line.split("|")[4] == "RINGNOANSWER" for line in sim.queue_log.lines)
    await client.close()
    await sim.stop()


def test_servicelevel_arithmetic_is_app_queue_s():
    q = Queue("public", servicelevel=15)
    assert q.record_connect(100.9, 115.95) == (15, True)    # whole seconds: 115 - 100
    q.record_complete(True, 10)
    assert q.record_connect(200.0, 216.0) == (16, False)
    q.record_complete(False, 30)
    assert q.record_abandon(300.5, 304.1) == 4               # abandoned within service level
    q.record_abandon(400.0, 430.0)                           # a timeout counts as an abandon too
    assert (q.holdtime, q.talktime) == ((3 * 15 + 16) >> 2, (3 * 10 + 30) >> 2)
    assert q.sl_perf == pytest.approx(50.0)
    assert q.sl_perf2 == pytest.approx(50.0)
    assert Queue("x").sl_perf == 0.0 and Queue("x").sl_perf2 == 0.0


async def test_queue_log_file_is_written(tmp_path):
    path = tmp_path / "log" / "queue_log"
    sim = await _sim(queue_log=str(path))
    sim.pbx.set_agent("6001", 30, 5)
    sim.pbx.set_agent("6002", 30, 5)
    client = AmiClient()
    await login(client, sim.ami_port)
    await client.action({"Action": "Originate", "Async": "true", "Channel": "Local/99@from-pstn",
                         "Context": "caller", "Exten": "abandon", "Priority": "1", "CallerID": "C <1>"})
    await client.wait_for(lambda f: f[0] == ("Event", "QueueCallerLeave"), timeout=5)
    await asyncio.sleep(0.05)
    events = [line.split("|")[4] for line in path.read_text().splitlines()]
    assert events[0] == "QUEUESTART" and "ENTERQUEUE" in events and events[-1] == "ABANDON"
    await client.close()
    await sim.stop()
