"""On a real Asterisk 22 (issue 21): an 一企来 call, a three-way with a policy specialist who answers, the agent
drops off; the agent records the specialist's answer as a knowledge item (一问一答) and, once the call is over,
its disposition (专员连线解答); both reach a webhook receiver standing in for the ticket backend, signed."""

from __future__ import annotations

from standardwebhooks.webhooks import Webhook
from tickets_support import Receiver, make_secret

from real_asterisk.conftest import layer_settings, running_layer
from real_asterisk.desk import api, login
from real_asterisk.switch import poll, until
from real_asterisk.test_real_specialists import specialists_for_tests
from real_asterisk.test_real_transfers import bridge_of, transfer_state

SECRET = make_secret(34)


def signed(receiver: Receiver, kind: str) -> list[dict]:
    """The verified bodies of ``kind`` the receiver accepted (a bad signature raises)."""
    out = []
    for headers, body in receiver.requests:
        verified = Webhook(SECRET).verify(body, {k.lower(): v for k, v in headers.items()})
        if verified["type"] == kind:
            out.append(verified)
    return out


async def test_given_a_specialist_answered_on_an_enterprise_call_then_its_knowledge_item_and_the_disposition_arrive_signed(
        switch, tmp_path):
    receiver = await Receiver().start()
    settings = layer_settings(switch, tmp_path, tickets={"endpoint_url": receiver.url, "secrets": [SECRET],
                                                         "poll_interval": 0.05})
    settings = settings.model_copy(update={"specialists": specialists_for_tests(tmp_path)})
    try:
        async with running_layer(switch, settings) as layer:
            legs: list = []
            layer.bus.subscribe("calls.specialist_leg", lambda _t, leg: legs.append(leg))
            switch.department("89180101", ring=1)           # tax-01 answers after 1 s
            switch.agent("6101", ring=0.5)
            await login(layer, "6101", "enterprise")
            caller = await switch.call(keys="2wwww1wwww1", key_delay=1.5)   # 一企来 -> policy -> tax

            def mine(resp):
                return next((c for c in resp[1] if c.get("caller") == caller and c.get("agent_channel")), None)

            call = mine(await poll(lambda: api(layer, "GET", "/api/calls"), mine, 90, f"{caller}'s call answered"))
            status, body = await api(layer, "POST", f"/api/calls/{call['id']}/specialist",
                                     {"field": "税务", "specialist": "tax-01"})
            assert status == 200, body
            await transfer_state(layer, call["id"], {"threeway"})
            status, body = await api(layer, "POST", f"/api/calls/{call['id']}/drop-off")
            assert status == 200, body
            await transfer_state(layer, call["id"], {"handed_off"})
            await until(lambda: legs, 20, "the specialist's leg on the bus", lambda: legs)

            qa = {"question": "小微企业月销售额多少以下免征增值税？", "answer": "月销售额10万元以下（含本数）免征增值税。"}
            status, item = await api(layer, "POST", f"/api/calls/{call['id']}/knowledge", qa)
            assert status == 201, item

            # the citizen and the specialist finish; the agent then records how the call ended
            status, body = await api(layer, "POST", f"/api/calls/{call['id']}/hangup")
            assert status == 200, body
            await until(lambda: not bridge_of(switch, call["citizen_channel"]), 20, "the citizen to hang up")

            await poll(lambda: api(layer, "GET", f"/api/calls/{call['id']}/disposition"),
                       lambda r: r[0] == 200 and r[1].get("ended_at"), 20, "the call's end stored for its disposition")
            status, stored = await api(layer, "POST", f"/api/calls/{call['id']}/disposition", {
                "code": "specialist", "request_type": "consultation", "summary": "专员连线解答小微企业增值税免征标准"})
            assert status == 200 and stored["wrapup_seconds"] >= 0, stored

            await until(lambda: signed(receiver, "knowledge.item") and signed(receiver, "call.disposition"), 20,
                        "both messages at the receiver", lambda: [h.get("webhook-id") for h, _ in receiver.requests])
            (knowledge,) = signed(receiver, "knowledge.item")
            (disposition,) = signed(receiver, "call.disposition")
            k = knowledge["data"]
            assert (k["call_id"], k["question"], k["answer"], k["field"], k["department"]) == \
                (call["id"], qa["question"], qa["answer"], "税务", "地税局"), k
            assert k["specialist"]["id"] == "tax-01" and k["line"] == {"id": "enterprise", "name": "一企来"}, k
            d = disposition["data"]
            assert (d["call_id"], d["agent"], d["queue"], d["caller_number"]) == (call["id"], "6101", "enterprise",
                                                                                 caller), d
            assert d["disposition"]["name"] == "专员连线解答" and d["disposition"]["online"] is True, d
            assert d["line"] == {"id": "enterprise", "name": "一企来"} and "企业" in d["tags"], d
            assert d["recording"] and d["recording"]["url"].startswith("http"), d     # MixMonitor's capture
            assert all(n == 1 for n in receiver.accepted.values()), receiver.accepted   # each delivered once
            assert not switch.our_warnings(), switch.our_warnings()
    finally:
        await receiver.stop()
