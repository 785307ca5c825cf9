"""The simulator's AMI server speaks like Asterisk 22 (login.ami.txt and the protocol rules)."""

from __future__ import annotations

import asyncio

import pytest
from sim_support import AmiClient, Recording, login

from cti.simulator import SimConfig, Simulator


@pytest.fixture
async def sim():
    # port 1: AGI unreachable, fail-open; manager_conf None: every event, as the recording's user saw them
    s = Simulator(SimConfig(ami_port=0, speed=20, agi_port=1, manager_conf=None))
    await s.start()
    yield s
    await s.stop()


async def test_banner_and_login_like_the_recording(sim):
    client = AmiClient()
    banner = await client.connect(sim.ami_port)
    assert banner == b"Asterisk Call Manager/11.0.0\r\n"
    resp = await client.action({"Action": "Login", "Username": "cti", "Secret": "cti-secret", "Events": "on"})
    rec = Recording("login").frames
    assert [k for k, _ in resp] == [k for k, _ in rec[0][1]]
    assert dict(resp)["Message"] == "Authentication accepted"
    booted = await client.wait_for(lambda f: f[0] == ("Event", "FullyBooted"))
    auth = await client.wait_for(lambda f: f[0] == ("Event", "SuccessfulAuth"))
    assert [k for k, _ in booted] == [k for k, _ in rec[1][1]]
    assert [k for k, _ in auth] == [k for k, _ in rec[2][1]]
    assert client.frames.index(booted) < client.frames.index(auth)
    await client.close()


async def test_bad_secret_is_refused(sim):
    client = AmiClient()
    await client.connect(sim.ami_port)
    resp = dict(await client.action({"Action": "Login", "Username": "cti", "Secret": "wrong"}))
    assert resp["Response"] == "Error" and resp["Message"] == "Authentication failed"
    resp = dict(await client.action({"Action": "Ping"}))
    assert resp["Response"] == "Error"
    await client.close()


async def test_unknown_action_and_case_insensitive_headers(sim):
    client = AmiClient()
    await client.connect(sim.ami_port)
    client.writer.write(b"action: login\r\nusername: cti\r\nSECRET: cti-secret\r\nactionid: x1\r\n\r\n")
    resp = await client.wait_for(lambda f: dict(f).get("ActionID") == "x1")
    assert dict(resp)["Response"] == "Success"
    resp = dict(await client.action({"Action": "FlyToTheMoon"}))
    assert (resp["Response"], resp["Message"]) == ("Error", "Invalid/unknown command")
    pong = dict(await client.action({"Action": "Ping"}))
    assert pong["Ping"] == "Pong" and float(pong["Timestamp"]) > 0
    await client.close()


async def test_events_off_then_on(sim):
    client = AmiClient()
    await login(client, sim.ami_port, events="off")
    await client.action({"Action": "Originate", "Async": "true", "Channel": "Local/99@from-pstn",
                         "Context": "caller", "Exten": "silent", "Priority": "1", "CallerID": "x <1>"})
    await sim.clock.sleep(2)
    assert not any(f[0] == ("Event", "Newchannel") for f in client.frames)
    resp = dict(await client.action({"Action": "Events", "EventMask": "on"}))
    assert resp["Response"] == "Success"
    sim.pbx.set_agent("6001", 1, 1)
    sim.pbx.set_agent("6002", 1, 1)
    await client.wait_for(lambda f: f[0] == ("Event", "AgentConnect"), timeout=5)
    await client.close()


async def test_chinese_caller_name_passes_intact(sim):
    client = AmiClient()
    await login(client, sim.ami_port)
    await client.action({"Action": "Originate", "Async": "true", "Channel": "Local/99@from-pstn",
                         "Context": "caller", "Exten": "abandon", "Priority": "1",
                         "CallerID": '"张三" <13800000001>', "Timeout": "30000"})
    join = dict(await client.wait_for(lambda f: f[0] == ("Event", "QueueCallerJoin")))
    assert join["CallerIDName"] == "张三" and join["CallerIDNum"] == "13800000001"
    await client.close()


async def test_setvar_getvar_playdtmf_and_errors(sim):
    client = AmiClient()
    await login(client, sim.ami_port)
    await client.action({"Action": "Originate", "Async": "true", "Channel": "Local/99@from-pstn",
                         "Context": "caller", "Exten": "silent", "Priority": "1", "CallerID": "C <1>"})
    join = dict(await client.wait_for(lambda f: f[0] == ("Event", "QueueCallerJoin")))
    chan = join["Channel"]
    resp = dict(await client.action({"Action": "Setvar", "Channel": chan, "Variable": "FOO", "Value": "bar"}))
    assert resp["Message"] == "Variable Set"
    resp = dict(await client.action({"Action": "Getvar", "Channel": chan, "Variable": "FOO"}))
    assert (resp["Variable"], resp["Value"]) == ("FOO", "bar")
    resp = dict(await client.action({"Action": "Getvar", "Channel": chan, "Variable": "CALLERID(num)"}))
    assert resp["Value"] == "1"
    resp = dict(await client.action({"Action": "PlayDTMF", "Channel": chan, "Digit": "5", "Receive": "yes"}))
    assert resp["Message"] == "DTMF successfully queued"
    end = dict(await client.wait_for(lambda f: f[0] == ("Event", "DTMFEnd")))
    assert end["Digit"] == "5" and end["Direction"] == "Received"
    resp = dict(await client.action({"Action": "Hangup", "Channel": "Local/nope-1;1"}))
    assert (resp["Response"], resp["Message"]) == ("Error", "No such channel")
    resp = dict(await client.action({"Action": "Hangup", "Channel": chan}))
    assert resp["Message"] == "Channel Hungup"
    abandon = dict(await client.wait_for(lambda f: f[0] == ("Event", "QueueCallerAbandon")))
    assert abandon["Queue"] == "public"
    await client.close()


async def test_queue_add_pause_remove_and_summary(sim):
    client = AmiClient()
    await login(client, sim.ami_port)
    resp = dict(await client.action({"Action": "QueueAdd", "Queue": "public", "Interface": "Local/6009@agents/n",
                                     "MemberName": "Agent 6009"}))
    assert resp["Message"] == "Added interface to queue"
    resp = dict(await client.action({"Action": "QueueAdd", "Queue": "public", "Interface": "Local/6009@agents/n"}))
    assert resp["Response"] == "Error"
    for iface in ("Local/6001@agents/n", "Local/6002@agents/n"):
        resp = dict(await client.action({"Action": "QueuePause", "Interface": iface, "Paused": "true",
                                         "Reason": "lunch"}))
        assert resp["Message"] == "Interface paused successfully"
    summary = await client.list_action({"Action": "QueueSummary", "Queue": "public"})
    item = dict(next(f for f in summary if f[0] == ("Event", "QueueSummary")))
    assert (item["LoggedIn"], item["Available"]) == ("3", "1")
    sim.pbx.set_agent("6009", 1, 2)
    await client.action({"Action": "Originate", "Async": "true", "Channel": "Local/99@from-pstn",
                         "Context": "caller", "Exten": "silent", "Priority": "1", "CallerID": "C <1>"})
    connect = dict(await client.wait_for(lambda f: f[0] == ("Event", "AgentConnect"), timeout=5))
    assert connect["MemberName"] == "Agent 6009"
    resp = dict(await client.action({"Action": "QueueRemove", "Queue": "public", "Interface": "Local/6009@agents/n"}))
    assert resp["Message"] == "Removed interface from queue"
    status = await client.list_action({"Action": "QueueStatus", "Queue": "public"})
    names = [dict(f)["Name"] for f in status if f[0] == ("Event", "QueueMember")]
    assert "Agent 6009" not in names and len(names) == 2
    await client.close()


async def test_logoff(sim):
    client = AmiClient()
    await login(client, sim.ami_port)
    resp = dict(await client.action({"Action": "Logoff"}))
    assert resp["Response"] == "Goodbye"
    await asyncio.wait_for(client._task, 2)
