"""110 linkage: a hand-over call on the 110 DID is tagged, skips the menu into its queue and is counted;
an agent's emergency transfer to 110 is counted the other way."""

from __future__ import annotations

import aiohttp
from calls_support import until
from outbound_support import hand_over_from_110, outbound_centre, outbound_settings


async def test_given_110_handover_when_it_arrives_then_tagged_queued_and_counted(tmp_path):
    s = outbound_settings(tmp_path)
    async with outbound_centre(tmp_path, s) as c:
        c.sim.pbx.set_agent("6201", 1, 3600)
        await hand_over_from_110(c, s)
        await until(lambda: any(m.name == "AgentConnect" and m.get("Queue") == "linkage110" for m in c.events), 10)
        names = [m.name for m in c.events]
        assert "AGIExecStart" not in names            # no menu: the IVR never ran
        tags = [m for m in c.events if m.name == "UserEvent" and m.get("UserEvent") == "CTILinkage"]
        assert tags[0]["Tag"] == "110分流"
        assert any(m.name == "VarSet" and m.get("Variable") == "__CTI_TAGS" and m.get("Value") == "110分流"
                   for m in c.events)
        await until(lambda: c.outbound.linkage.from_110 == 1)

        # 12345 -> 110: the agent hands a caller to 110 (emergency linkage of cti.calls)
        call_id = await c.citizen("13800000002")
        await c.control.transfer(call_id, "110", "threeway")
        await until(lambda: c.outbound.linkage.to_110 == 1)
        await until(lambda: len(c.outbound._tasks) == 0)
        async with aiohttp.ClientSession() as http:
            r = await http.get(f"http://127.0.0.1:{c.layer.http_port}/api/outbound/linkage?token=desk-token")
            body = await r.json()
        assert (body["from_110"], body["to_110"]) == (1, 1)


async def test_given_counts_when_layer_restarts_then_they_survive(tmp_path):
    s = outbound_settings(tmp_path)
    async with outbound_centre(tmp_path, s) as c:
        await c.layer.ami.action({"Action": "Originate", "Channel": f"Local/{s.linkage_did}@from-pstn",
                                  "Context": "caller", "Exten": "abandon", "Priority": 1,
                                  "CallerID": '"110" <110>', "Timeout": 30000})
        await until(lambda: c.outbound.linkage.from_110 == 1)
        await until(lambda: len(c.outbound._tasks) == 0)
    async with outbound_centre(tmp_path, s) as c:
        assert c.outbound.linkage.as_dict() == {"from_110": 1, "to_110": 0}
