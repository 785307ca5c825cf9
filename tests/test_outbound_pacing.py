"""Pacing of follow-up calls under inbound load, against the simulator: no follow-up is dialled while
inbound callers wait in a queue (the simulator's own queue state at each dial is the witness), and once
the queue drains, calls per minute and concurrent outbound channels stay within the limits."""

from __future__ import annotations

from outbound_support import followup_centre, outbound_settings
from tickets_support import Receiver, make_secret, wait_for

from cti.simulator.outbound import CitizenPhone

CITIZENS = [f"1390000010{i}" for i in range(6)]


async def test_given_callers_waiting_when_followups_due_then_held_until_queue_drains_within_limits(tmp_path):
    receiver = await Receiver().start()
    s = outbound_settings(tmp_path, followup_hours=["00:00-23:59"], calls_per_minute=3, max_channels=2)
    try:
        async with followup_centre(tmp_path, s, receiver, make_secret(42), speed=40) as c:
            part, pbx = c.outbound, c.sim.pbx
            part.now = c.sim.clock.now                     # pacing in simulated minutes
            for agent in ("6001", "6002"):
                pbx.set_agent(agent, 1, 20)                # two agents, 20 s calls
            for number in CITIZENS:
                c.ext.citizens[number] = CitizenPhone(answer_delay=2, keys=["1", "1"])
            # six inbound callers at once on the public line: two answered, four wait up to ~40 s
            for i in range(6):
                await c.layer.ami.action({"Action": "Originate", "Channel": "Local/99@from-pstn",
                                          "Context": "caller", "Exten": "silent", "Priority": 1,
                                          "CallerID": f'"市民" <1380000020{i}>', "Timeout": 30000})
            await wait_for(lambda: c.monitor.engine.waiting(["public"]) >= 4)
            for number in CITIZENS:
                await part.schedule("list-2025", number)
            await wait_for(lambda: part.hold_reason and part.hold_reason.startswith("inbound callers waiting"))

            await wait_for(lambda: len(c.ext.dial_log) == len(CITIZENS), 30)
            await wait_for(lambda: not part.calling, 30)

            connects = [m for m in c.events if m.name == "AgentConnect" and m["Queue"] == "public"]
            assert len(connects) == 6                              # every inbound caller was answered
            assert not any(m.name == "QueueCallerAbandon" for m in c.events)
            dials = [t for t, _, _, _ in c.ext.dial_log]
            # held back: no follow-up dialled while any inbound caller waited, none before the last was answered
            assert all(waiting == 0 for _, _, _, waiting in c.ext.dial_log)
            assert min(dials) >= max(m.timestamp for m in connects)
            # limits: never more than 2 outbound channels up, never more than 3 dials in a minute ...
            live = [n for _, _, n, _ in c.ext.dial_log]
            assert max(live) == 2
            assert all(dials[i + 3] - dials[i] >= 59.5 for i in range(len(dials) - 3))
            # ... and both limits bit: the six calls took more than a minute
            assert dials[-1] - dials[0] >= 60
            done = await part.store.followups("list-2025")
            assert [f.state for f in done] == ["done"] * 6 and all(f.attempts == 1 for f in done)
    finally:
        await receiver.stop()
