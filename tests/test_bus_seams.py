"""Each bus seam crossed with its real producer and its real consumer (no hand-made message)."""

from __future__ import annotations

import ast
import datetime as dt
import importlib
import json
import logging
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from calls_support import centre, until
from ivr_rig import rig
from tickets_support import Receiver, make_secret, tickets_layer_settings, wait_for

from cti.app import Layer
from cti.bus import MESSAGE_TYPES, EventBus, message_type
from cti.calls.service import CallError
from cti.tickets.events import TOPIC_CREATED
from cti.tickets.part import TicketsPart
from ivr_flows.record import TOPIC_SESSION

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("cti", "ivr_flows", "queue_monitor", "recordings")
HOLIDAY_3AM = dt.datetime(2026, 10, 2, 3, 0, tzinfo=ZoneInfo("Asia/Shanghai"))   # National Day, 3 a.m.

SECRET = make_secret(12)


def delivered(receiver: Receiver) -> list[dict]:
    return [json.loads(body)["data"] for _, body in receiver.requests]


async def test_given_the_survey_flow_when_the_caller_presses_3_then_a_survey_ticket_reaches_the_backend(tmp_path):
    receiver = await Receiver().start()
    layer = Layer(tickets_layer_settings(tmp_path, receiver, SECRET), parts=[TicketsPart])
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


async def test_given_call_control_without_a_tickets_part_when_an_after_hours_transfer_is_refused_then_the_bus_request_makes_the_ticket(tmp_path):
    async with centre(tmp_path) as c:
        assert c.control.make_ticket is None            # no tickets part in this layer: tickets.request it is
        created: list[str] = []
        c.layer.bus.subscribe(TOPIC_CREATED, lambda _t, event: created.append(event.ticket_id))
        tickets = TicketsPart(c.layer)                  # the consumer, on the same bus
        await tickets.start()
        try:
            c.control.clock = lambda: HOLIDAY_3AM
            call_id = await c.citizen(number="13912345678")
            with pytest.raises(CallError) as refused:
                await c.control.transfer(call_id, "12333", "threeway")
            assert refused.value.code == "after_hours"
            await until(lambda: created)
            ticket = await tickets.tickets.get(created[0])
            assert (ticket["source"], ticket["department"], ticket["request_type"]) == ("after_hours", "人社局", "help")
            assert (ticket["caller_number"], ticket["call_ids"], ticket["agent"]) == ("13912345678", [call_id], "6001")
        finally:
            await tickets.stop()


def _modules():
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            yield ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"), ast.parse(
                path.read_text(encoding="utf-8"))


def test_given_the_code_base_then_every_topic_constant_has_one_message_type():
    constants = {(module, node.targets[0].id): node.value.value
                 for module, tree in _modules() for node in tree.body
                 if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
                 and node.targets[0].id.startswith("TOPIC_") and isinstance(node.value, ast.Constant)}
    assert len(constants) > 20
    missing = {where: topic for where, topic in constants.items() if topic not in MESSAGE_TYPES}
    assert missing == {}
    assert all(isinstance(message_type(topic), type) for topic in MESSAGE_TYPES)


def test_given_the_code_base_then_every_publish_names_a_typed_topic():
    published = []
    for module, tree in _modules():
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "publish"
                    and node.args and "_redis" not in ast.unparse(node.func)):   # Redis: a channel, not a topic
                continue
            topic = node.args[0]
            if isinstance(topic, ast.Constant):
                published.append((module, topic.value))
            elif isinstance(topic, ast.Name) and topic.id.startswith("TOPIC_"):
                published.append((module, getattr(importlib.import_module(module), topic.id)))
            else:   # a parameter carrying a constant (tickets' _publish(topic, event)): covered above
                assert isinstance(topic, ast.Name | ast.Attribute), f"{module}: publish({ast.unparse(topic)})"
    assert len(published) > 15
    assert [(module, topic) for module, topic in published if topic not in MESSAGE_TYPES] == []


def test_given_a_strict_bus_when_a_dict_is_published_on_a_typed_topic_then_the_producer_gets_a_type_error():
    bus = EventBus(strict=True)
    got = []
    bus.subscribe(TOPIC_SESSION, lambda _t, m: got.append(m))
    with pytest.raises(TypeError, match="carries IvrSession, not dict"):
        bus.publish(TOPIC_SESSION, {"rating": 3})
    with pytest.raises(TypeError, match="no message type"):
        bus.publish("calls.unknown", object())
    assert got == []


def test_given_a_production_bus_when_a_wrong_message_is_published_then_it_is_logged_once_and_delivered(caplog):
    bus = EventBus(strict=False)
    got = []
    bus.subscribe(TOPIC_SESSION, lambda _t, m: got.append(m))
    with caplog.at_level(logging.ERROR, logger="cti.bus"):
        bus.publish(TOPIC_SESSION, {"rating": 3})
        bus.publish(TOPIC_SESSION, {"rating": 1})
    assert got == [{"rating": 3}, {"rating": 1}]
    assert [r.getMessage() for r in caplog.records] == ["bus topic 'ivr.session' carries IvrSession, not dict"]
