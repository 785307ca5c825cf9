"""The satisfaction survey on a real Asterisk 22: a citizen rates the call 3 (不满意) after the agent hangs
up, and a signed dissatisfied ticket reaches the ticket backend."""

from __future__ import annotations

import base64
import json

from aiohttp import web
from standardwebhooks.webhooks import Webhook

from real_asterisk.conftest import layer_settings, running_layer
from real_asterisk.desk import login
from real_asterisk.switch import until

# A Standard Webhooks secret of the backend (whsec_ + base64 of the key), the one the layer signs with.
SECRET = "whsec_" + base64.b64encode(b"real-switch-survey-secret-32byte").decode()


class Backend:
    """The ticket backend: a real aiohttp server on loopback that keeps each request (headers, body)."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> Backend:
        app = web.Application()
        app.router.add_post("/tickets", self._receive)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/tickets"
        return self

    async def _receive(self, request: web.Request) -> web.Response:
        self.requests.append(({k.lower(): v for k, v in request.headers.items()}, await request.read()))
        return web.json_response({"ok": True})

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()

    def bodies(self) -> list[dict]:
        return [json.loads(body) for _, body in self.requests]


async def test_given_a_call_with_the_survey_when_the_citizen_presses_3_then_a_signed_dissatisfied_ticket_is_delivered(
        switch, tmp_path):
    backend = await Backend().start()
    settings = layer_settings(switch, tmp_path, tickets={"endpoint_url": backend.url, "secrets": [SECRET],
                                                         "poll_interval": 0.1})
    try:
        async with running_layer(switch, settings) as layer:
            switch.agent("6001", ring=0.5, talk=2)
            await login(layer, "6001", "public")
            # key 1: the public line, whose queue node sets survey: true (config/flows/main.yaml)
            caller = await switch.call(keys="1", key_delay=1.5)
            await until(lambda: switch.caller_events(caller, "AgentConnect"), 60, f"an agent to answer {caller}",
                        lambda: [e["Event"] for e in switch.caller_events(caller)][-10:])
            connect = switch.caller_events(caller, "AgentConnect")[0]
            citizen = connect["Channel"]
            # the agent hangs up; Queue() option c lets the citizen's channel go on into AGI survey
            await until(lambda: any("survey-question" in e.get("Command", "")
                                    for e in switch.events("AGIExecStart", Channel=citizen)), 30,
                        "the survey to ask its question",
                        lambda: [e.get("Command") for e in switch.events("AGIExecStart", Channel=citizen)])
            # the citizen presses 3 while the question plays (GET DATA lets a key cut the prompt)
            await switch.press(switch.citizen_phone(citizen), "3")
            await until(lambda: any(b.get("type") == "ticket.created" for b in backend.bodies()), 30,
                        "the dissatisfied ticket at the backend", backend.bodies)
    finally:
        await backend.stop()

    rating = [e.get("Value") for e in switch.events("VarSet", Channel=citizen, Variable="CTI_RATING")]
    assert rating == ["dissatisfied"], rating
    created = [(h, b) for h, b in backend.requests if json.loads(b).get("type") == "ticket.created"]
    assert len(created) == 1, backend.bodies()
    headers, body = created[0]
    # the reference verifier of Standard Webhooks accepts the signature with the backend's secret
    message = Webhook(SECRET).verify(body, headers)
    ticket = message["data"]
    assert ticket["source"] == "survey", ticket
    assert ticket["rating"] == 3, ticket
    assert ticket["caller_number"] == caller, ticket
    assert connect["Uniqueid"] in ticket["call_ids"], ticket
    assert ticket["recording"] and "/api/recordings/" in ticket["recording"]["url"], ticket   # the call was recorded
    assert "CTI IVR failed" not in switch.log_text()
