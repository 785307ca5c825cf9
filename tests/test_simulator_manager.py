"""The simulator follows what it is given: the shipped manager user's read classes and eventfilter, and
queues.conf's autofill (tests/real_asterisk/test_parity.py proves the same against Asterisk 22)."""

from __future__ import annotations

from sim_support import AmiClient, login

from cti.simulator import SimConfig, Simulator
from cti.simulator.queues_conf import queue_configs

SHIPPED_VARIABLES = {"QUEUESTATUS", "CTI_HOTLINE", "CTI_TAGS", "TRANSFERERNAME"}   # manager_cti.conf's VarSet filter


async def test_given_the_shipped_manager_user_when_a_call_queues_then_it_gets_only_the_filtered_events():
    sim = Simulator(SimConfig(ami_port=0, speed=20, agi_port=1))   # AGI unreachable: fail-open to the queue
    await sim.start()
    client = AmiClient()
    try:
        await login(client, sim.ami_port)
        await client.action({"Action": "Originate", "Async": "true", "Channel": "Local/12345@cti-inbound",
                             "Context": "caller", "Exten": "abandon", "Priority": "1",
                             "CallerID": '"Citizen" <13800000001>', "Timeout": "30000"})
        await client.wait_for(lambda f: dict(f).get("Event") == "UserEvent"
                              and dict(f).get("UserEvent") == "QueueResult", 30)
        names = {dict(f).get("Event") for f in client.frames}
        variables = {dict(f)["Variable"].lstrip("_") for f in client.frames if dict(f).get("Event") == "VarSet"}
        assert "QueueCallerJoin" in names and "Hangup" in names
        assert not names & {"Newexten", "AGIExecStart", "DTMFBegin", "SuccessfulAuth", "DeviceStateChange"}, names
        assert variables and variables <= SHIPPED_VARIABLES, variables   # CTIQUEUE, AGISTATUS... filtered out
    finally:
        await client.close()
        await sim.stop()


def test_given_a_queues_conf_then_autofill_is_what_it_says_and_no_when_it_is_silent(tmp_path):
    conf = tmp_path / "queues.conf"
    conf.write_text("[tpl](!)\nstrategy = linear\ntimeout = 7\n\n[quiet](tpl)\n\n[busy](tpl)\nautofill = yes\n")
    got = {q.name: q for q in queue_configs(conf)}
    assert (got["quiet"].autofill, got["busy"].autofill) == (False, True)   # Asterisk 22's default is no
    assert (got["quiet"].strategy, got["quiet"].timeout) == ("linear", 7)
    assert all(q.autofill and q.wrapuptime == 10 and q.servicelevel == 15 for q in queue_configs())   # shipped
