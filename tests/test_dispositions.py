"""Dispositions (话后小结) and knowledge items against the simulator, a real webhook receiver standing in for
the ticket backend (issue 21).

Given an enterprise call answered by an agent, when the agent records how it ended, then the disposition is
stored once and reaches the backend once as a signed ``call.disposition`` message; bad fields are 400s
naming the field; another agent is refused; a call whose wrap-up window passed is "not recorded" and takes
no disposition. Given a specialist three-way that ended answered, the question and answer reach the backend
as a signed ``knowledge.item`` with the leg's field, department, specialist and line.
"""

from __future__ import annotations

import datetime as dt
import time
from zoneinfo import ZoneInfo

import aiohttp
from calls_support import centre, until
from prometheus_client.parser import text_string_to_metric_families
from standardwebhooks.webhooks import Webhook
from test_agent_api import _desk
from test_tickets_part import survey_session
from tickets_support import Receiver, make_secret

from cti.auth import hash_pin
from cti.calls.messages import TOPIC_SPECIALIST_LEG
from cti.dispositions.messages import TOPIC_OUTCOME
from cti.dispositions.part import DispositionsPart
from cti.messages import Rating
from cti.tickets.part import TicketsPart
from ivr_flows.part import FlowsPart
from queue_monitor.part import MonitorPart

SECRET = make_secret(33)
ADMIN = {"Authorization": "Bearer desk-token"}
WORKING = dt.datetime(2026, 3, 4, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))   # a Wednesday, office hours


def configure(receiver: Receiver, tmp_path):
    def change(s):
        return s.model_copy(update={
            "tickets": s.tickets.model_copy(update={
                "database_url": f"sqlite+aiosqlite:///{tmp_path / 'cti.db'}", "endpoint_url": receiver.url,
                "secrets": [SECRET], "poll_interval": 0.05}),
            "dispositions": s.dispositions.model_copy(update={"expire_interval": 0.05})})
    return change


def messages(receiver: Receiver, kind: str) -> list[tuple[dict, dict]]:
    """(headers, verified body) of every request of ``kind``; the signature is checked on each."""
    out = []
    for headers, body in receiver.requests:
        verified = Webhook(SECRET).verify(body, {k.lower(): v for k, v in headers.items()})
        if verified["type"] == kind:
            out.append((headers, verified))
    return out


async def sessions_for(c, http, agents=("6001", "6002", "6101")) -> dict[str, dict]:
    s = c.layer.settings
    pins = {a: [hash_pin(f"{a}9")] for a in agents}
    c.layer.reload_credentials(s.model_copy(update={"http": s.http.model_copy(update={"agent_pins": pins})}))
    out = {}
    for agent in agents:
        async with http.post(f"/api/agents/{agent}/session", json={"pin": f"{agent}9"}) as r:
            out[agent] = {"Authorization": f"Bearer {(await r.json())['token']}"}
    return out


async def post(http, path: str, body, headers) -> tuple[int, dict]:
    async with http.post(path, json=body, headers=headers) as r:
        return r.status, await r.json()


async def test_a_disposition_is_stored_once_sent_signed_once_and_refused_when_bad_late_or_not_yours(tmp_path):
    receiver = await Receiver().start()
    parts = [TicketsPart, FlowsPart, MonitorPart, DispositionsPart]
    try:
        async with centre(tmp_path, parts=parts, configure=configure(receiver, tmp_path)) as c, \
                aiohttp.ClientSession(f"http://127.0.0.1:{c.layer.http_port}") as http, \
                aiohttp.ClientSession() as plain:
            tickets, dispositions = c.layer.parts[0], c.layer.parts[3]
            outcomes = []
            c.layer.bus.subscribe(TOPIC_OUTCOME, lambda _t, m: outcomes.append(m))
            desks = await sessions_for(c, http)
            call_id = await c.citizen("13800000021", exten="12345", script="press2")   # key 2: 一企来
            owner = c.control.tracker.get(call_id).agent
            other = next(a for a in desks if a != owner)
            path = f"/api/calls/{call_id}/disposition"

            # bad fields: a 400 naming the field, whether the call is connected or not
            good = {"code": "answered_online", "request_type": "consultation", "summary": "咨询企业开办流程，已在线答复"}
            for body, field in (({"code": "guessed", "request_type": "consultation"}, "code"),
                                ({"code": 7, "request_type": "consultation"}, "code"),
                                ({"code": "answered_online"}, "request_type"),
                                ({"code": "answered_online", "request_type": "gossip"}, "request_type"),
                                ({**good, "colour": "red"}, "colour"),
                                ({**good, "summary": "长" * 501}, "summary"),
                                ({**good, "ticket_id": "no-such-ticket"}, "ticket_id")):
                status, answer = await post(http, path, body, desks[owner])
                assert (status, answer.get("field")) == (400, field), (body, status, answer)
            assert (await post(http, path, good, desks[other]))[0] == 403

            await post(http, f"/api/calls/{call_id}/hangup", None, ADMIN)
            # the citizen rates the call in the survey after it (as the IVR engine publishes it)
            c.layer.bus.publish("ivr.session", survey_session("13800000021", call_id, Rating.BASICALLY_SATISFIED))
            async def pending():
                async with http.get(path, headers=desks[owner]) as r:
                    return r.status == 200 and (await r.json())["ended_at"] is not None
            await until(pending, 10)

            desk = await _desk(c, plain)          # each answer below is checked against /api/openapi.json
            choices = await desk.call("GET", "/api/dispositions")
            assert [x["name"] for x in choices["choices"]] == ["在线答复", "专员连线解答", "转办工单", "转接", "无效来电"]
            await desk.call("POST", path, {"code": "guessed"}, headers=desks[owner], expect=400)
            stored = await desk.call("POST", path, good, headers=desks[owner])
            assert stored["status"] == "recorded" and stored["name"] == "在线答复" and stored["online"] is True
            assert stored["line"] == {"id": "enterprise", "name": "一企来"} and "企业" in stored["tags"]
            assert stored["agent"] == owner and stored["wrapup_seconds"] >= 0
            again = await desk.call("POST", path, {**good, "code": "ticket"}, headers=desks[owner], expect=409)
            assert again["error"] == "already recorded"
            assert (await desk.call("GET", path, headers=desks[owner]))["status"] == "recorded"

            await until(lambda: messages(receiver, "call.disposition"), 10)
            await until(lambda: tickets.dispatcher.delivered >= 1, 10)
            assert await tickets.dispatcher.run_once() == 0          # nothing left to send: delivered once
            (headers, sent), = messages(receiver, "call.disposition")
            assert receiver.accepted[headers["webhook-id"]] == 1
            data = sent["data"]
            assert data["call_id"] == call_id and data["agent"] == owner and data["caller_number"] == "13800000021"
            assert data["disposition"] == {"code": "answered_online", "name": "在线答复", "online": True, "request": True}
            assert data["line"] == {"id": "enterprise", "name": "一企来"} and data["request_type"] == "consultation"
            assert data["summary"] == good["summary"] and data["tickets"] == [] and data["wrapup_seconds"] >= 0
            assert (data["rating"], data["recording"]) == (2, None)           # no recordings part here
            assert [(o.call_id, o.status, o.line) for o in outcomes] == [(call_id, "recorded", "enterprise")]

            # a call nobody disposes of within the window is "not recorded", and stays so
            late = await c.citizen("13800000022")
            await post(http, f"/api/calls/{late}/hangup", None, ADMIN)
            await until(pending_row(dispositions, late), 10)
            dispositions.service.clock = lambda: time.time() + dispositions.settings.wrapup_window + 1
            await until(lambda: any(o.call_id == late for o in outcomes), 10)
            assert [o.status for o in outcomes if o.call_id == late] == ["not_recorded"]
            status, refused = await post(http, f"/api/calls/{late}/disposition", good, ADMIN)
            assert (status, refused["error"]) == (409, "wrap-up window passed"), refused
            async with http.get(f"/api/calls/{late}/disposition", headers=ADMIN) as r:
                assert (await r.json())["status"] == "not_recorded"
            assert len(messages(receiver, "call.disposition")) == 1

            # the figures: the enterprise line answered online, the public line's call apart as not recorded
            async with http.get("/api/figures", headers=ADMIN) as r:
                today = (await r.json())["dispositions"]["windows"]["today"]
            enterprise, public = today["lines"]["enterprise"], today["lines"]["public"]
            assert (enterprise["requests"], enterprise["online"], enterprise["online_rate"]) == (1, 1, 1.0)
            assert (public["requests"], public["not_recorded"], public["online_rate"]) == (0, 1, None)
            async with http.get("/metrics", headers=ADMIN) as r:
                samples = {(m.name, tuple(sorted(m.labels.items()))): m.value
                           for f in text_string_to_metric_families(await r.text()) for m in f.samples}
            assert samples[("cti_line_online_answer_rate", (("line", "enterprise"), ("window", "today")))] == 1.0
            assert samples[("cti_line_not_recorded", (("line", "public"), ("window", "today")))] == 1.0
            day = dt.datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()
            async with http.get(f"/api/reports?from={day}&to={day}", headers=ADMIN) as r:
                lines = (await r.json())["dispositions"]["lines"]
            assert (lines["enterprise"]["online"], lines["public"]["not_recorded"]) == (1, 1), lines
    finally:
        await receiver.stop()


def pending_row(part: DispositionsPart, call_id: str):
    async def stored() -> bool:
        return await part.service.get(call_id) is not None
    return stored


async def test_a_specialists_answer_becomes_a_signed_knowledge_item(tmp_path):
    receiver = await Receiver().start()
    try:
        async with centre(tmp_path, parts=[TicketsPart, FlowsPart, DispositionsPart],
                          configure=configure(receiver, tmp_path)) as c, \
                aiohttp.ClientSession(f"http://127.0.0.1:{c.layer.http_port}") as http, \
                aiohttp.ClientSession() as plain:
            desk = await _desk(c, plain)
            legs = []
            c.layer.bus.subscribe(TOPIC_SPECIALIST_LEG, lambda _t, m: legs.append(m))
            c.control.clock = lambda: WORKING        # specialists are offered in their working hours
            call_id = await c.citizen("13800000023", exten="12345", script="press2")
            qa = {"question": "小微企业增值税减免的条件？", "answer": "月销售额10万元以下免征增值税。"}
            refused = await desk.call("POST", f"/api/calls/{call_id}/knowledge", qa, expect=409)
            assert refused["error"] == "no specialist answer", refused

            status, t = await post(http, f"/api/calls/{call_id}/specialist",
                                   {"field": "税务", "specialist": "tax-01"}, ADMIN)
            assert status == 200, t
            await c.state(call_id, "threeway")
            await c.control.drop_off(call_id)                 # the agent leaves citizen and specialist talking
            await until(lambda: legs, 10)
            item = await desk.call("POST", f"/api/calls/{call_id}/knowledge", qa, expect=201)

            await until(lambda: messages(receiver, "knowledge.item"), 10)
            (_, sent), = messages(receiver, "knowledge.item")
            data = sent["data"]
            leg = legs[0]
            assert data["call_id"] == call_id and data["question"] == qa["question"] and data["answer"] == qa["answer"]
            assert data["field"] == "税务" and data["specialist"] == {"id": "tax-01", "name": leg.specialist_name}
            assert data["department"] == leg.department and data["line"] == {"id": "enterprise", "name": "一企来"}
            assert data == item
    finally:
        await receiver.stop()
