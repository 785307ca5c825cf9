"""Each bus seam crossed with its real producer and its real consumer (no hand-made message)."""

from __future__ import annotations

import json

from ivr_rig import rig
from tickets_support import Receiver, free_port, make_secret, wait_for

from cti.app import Layer
from cti.settings import Settings
from cti.tickets.part import TicketsPart

SECRET = make_secret(12)


def tickets_layer_settings(tmp_path, receiver: Receiver) -> Settings:
    s = Settings(data_dir=tmp_path)
    return s.model_copy(update={
        "ami": s.ami.model_copy(update={"port": free_port(), "reconnect_min": 0.2, "reconnect_max": 1}),
        "agi": s.agi.model_copy(update={"port": 0}),
        "http": s.http.model_copy(update={"port": 0}),
        "tickets": s.tickets.model_copy(update={
            "database_url": f"sqlite+aiosqlite:///{tmp_path / 'cti.db'}", "endpoint_url": receiver.url,
            "secrets": [SECRET], "poll_interval": 0.05}),
    })


def delivered(receiver: Receiver) -> list[dict]:
    return [json.loads(body)["data"] for _, body in receiver.requests]


async def test_given_the_survey_flow_when_the_caller_presses_3_then_a_survey_ticket_reaches_the_backend(tmp_path):
    receiver = await Receiver().start()
    layer = Layer(tickets_layer_settings(tmp_path, receiver), parts=[TicketsPart])
    await layer.start()
    try:
        async with rig(bus=layer.bus) as r:
            r.sim.config.agi_script = "survey"   # the dialplan's AGI(.../survey) after the agent hangs up
            unhappy = r.call([("prompt",), ("wait", 1.0), ("dtmf", "3")], caller="13900000003")
            pleased = r.call([("prompt",), ("wait", 1.0), ("dtmf", "1")], caller="13900000001")
            for caller in (unhappy, pleased):
                await caller.wait_queued()
            await wait_for(lambda: any(d["source"] == "survey" for d in delivered(receiver)))
            [survey] = [d for d in delivered(receiver) if d["source"] == "survey"]   # 满意 makes none
            assert survey["rating"] == 3 and survey["call_ids"] == [unhappy.call.pstn.uniqueid]
            assert survey["caller_number"] == "13900000003" and survey["ivr_path"] == ["survey/rate: key 3"]
    finally:
        await layer.stop()
        await receiver.stop()
