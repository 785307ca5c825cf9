"""The agent desktop API over HTTP against the simulator: token, 404 bodies, every documented operation."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from zoneinfo import ZoneInfo

import aiohttp
from calls_support import centre, until

TZ = ZoneInfo("Asia/Shanghai")
WORKING = dt.datetime(2026, 3, 4, 10, 0, tzinfo=TZ)
TOKEN = {"Authorization": "Bearer desk-token"}


def _check(schema: dict, value, doc: dict, where: str = "$") -> None:
    """A small JSON Schema check (type, required, properties, items, enum, oneOf, $ref)."""
    if "$ref" in schema:
        return _check(doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]], value, doc, where)
    if "oneOf" in schema:
        errors = []
        for option in schema["oneOf"]:
            try:
                return _check(option, value, doc, where)
            except AssertionError as exc:
                errors.append(str(exc))
        raise AssertionError(f"{where}: matches no option: {errors}")
    types = schema.get("type")
    if types is not None:
        kinds = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None),
                 "integer": int, "number": (int, float)}
        allowed = types if isinstance(types, list) else [types]
        ok = any(isinstance(value, kinds[t]) and not (t in ("integer", "number") and isinstance(value, bool))
                 for t in allowed)
        assert ok, f"{where}: {value!r} is not {types}"
    if "enum" in schema:
        assert value in schema["enum"], f"{where}: {value!r} not in {schema['enum']}"
    if isinstance(value, dict):
        for key in schema.get("required", ()):
            assert key in value, f"{where}: {key} is required"
        for key, sub in schema.get("properties", {}).items():
            if key in value:
                _check(sub, value[key], doc, f"{where}.{key}")
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            _check(schema["items"], item, doc, f"{where}[{i}]")


class Desk:
    """An HTTP client that checks every answer against the OpenAPI document and notes what it used."""

    def __init__(self, session: aiohttp.ClientSession, base: str, doc: dict) -> None:
        self.session, self.base, self.doc = session, base, doc
        self.used: set[tuple[str, str]] = set()

    def _template(self, path: str) -> str:
        for template in self.doc["paths"]:
            if re.fullmatch(re.sub(r"\{[^}]+\}", "[^/]+", template), path):
                return template
        raise AssertionError(f"{path} is not in the OpenAPI document")

    async def call(self, method: str, path: str, body=None, headers=TOKEN, expect: int = 200):
        template = self._template(path.split("?", 1)[0])
        op = self.doc["paths"][template][method.lower()]
        async with self.session.request(method, self.base + path, json=body, headers=headers) as r:
            data = await r.json()
            assert r.status == expect, f"{method} {path}: {r.status} {data}"
        documented = op["responses"].get(str(r.status))
        assert documented, f"{method} {path}: status {r.status} is not documented"
        _check(documented["content"]["application/json"]["schema"], data, self.doc, f"{method} {path}")
        self.used.add((method.lower(), template))
        return data


async def _desk(c, session) -> Desk:
    base = f"http://127.0.0.1:{c.layer.http_port}"
    async with session.get(base + "/api/openapi.json", headers=TOKEN) as r:
        doc = await r.json()
    return Desk(session, base, doc)


async def test_every_documented_operation_answers_as_documented(tmp_path):
    async with centre(tmp_path) as c, aiohttp.ClientSession() as session:
        c.control.clock = lambda: WORKING
        desk = await _desk(c, session)
        await desk.call("GET", "/api/openapi.json")
        assert len(await desk.call("GET", "/api/hotlines")) == 38
        # agents: sign in, pause with a reason, unpause, sign out (QueueAdd / QueuePause / QueueRemove)
        joined = await desk.call("POST", "/api/agents/6003/login", {"queues": ["public"]})
        assert joined["interface"] == "Local/6003@agents/n"
        await until(lambda: any(m.name == "QueueMemberAdded" and m["Interface"] == "Local/6003@agents/n"
                                for m in c.events))
        await desk.call("POST", "/api/agents/6003/pause", {"reason": "培训"})
        paused = next(m for m in c.events if m.name == "QueueMemberPause")
        assert (paused["Paused"], paused["PausedReason"]) == ("1", "培训")
        await desk.call("POST", "/api/agents/6003/pause", {"reason": ""}, expect=400)
        await desk.call("POST", "/api/agents/6003/unpause")
        await desk.call("POST", "/api/agents/6003/logout", {"queues": ["public"]})
        await desk.call("POST", "/api/agents/6003/unpause", expect=409)           # no longer in a queue
        await desk.call("POST", "/api/agents/bad%20id/login", expect=400)
        # a call reaches agent 6001
        call_id = await c.citizen()
        assert [x["id"] for x in await desk.call("GET", "/api/calls")] == [call_id]
        call = await desk.call("GET", f"/api/calls/{call_id}")
        assert call["agent"] == "6001"
        spy = await desk.call("POST", f"/api/calls/{call_id}/spy", {"supervisor": "7001", "mode": "whisper"})
        assert spy["target"] == call["agent_channel"]
        # the shipped AMI user receives no Newexten (eventfilter): ask the switch what the spy channel runs
        async def spying() -> bool:
            channels = await c.channels()
            return any(ch.get("Application") == "ChanSpy" and ch.get("ApplicationData") == f"{call['agent_channel']},qwES"
                       for ch in channels.values())
        for _ in range(100):
            if await spying():
                break
            await asyncio.sleep(0.1)
        assert await spying(), await c.channels()
        await desk.call("POST", f"/api/calls/{call_id}/spy", {"supervisor": "7001", "mode": "peek"}, expect=400)
        # three-way, cancel; three-way again, drop off
        await desk.call("POST", f"/api/calls/{call_id}/threeway", {"number": "12315"})
        await desk.call("POST", f"/api/calls/{call_id}/threeway", {"number": "12315"}, expect=409)
        await c.state(call_id, "threeway")
        await desk.call("POST", f"/api/calls/{call_id}/cancel")
        await c.state(call_id, "cancelled")
        await desk.call("POST", f"/api/calls/{call_id}/threeway", {"number": "12315"})
        await c.state(call_id, "threeway")
        await desk.call("POST", f"/api/calls/{call_id}/drop-off")
        await c.state(call_id, "handed_off")
        await desk.call("POST", f"/api/calls/{call_id}/cancel", expect=409)
        # one-key transfer, bad numbers, hang up
        second = await c.citizen(number="13800000003")
        await desk.call("POST", f"/api/calls/{second}/transfer", {"number": "12x"}, expect=400)
        await desk.call("POST", f"/api/calls/{second}/transfer", {"number": "12316"}, expect=422)
        await desk.call("POST", f"/api/calls/{second}/transfer", {"number": "12333"})
        await c.state(second, "connected")
        third = await c.citizen(number="13800000004")
        await desk.call("POST", f"/api/calls/{third}/hangup")
        await until(lambda: c.control.tracker.get(third) is None)
        # a policy specialist (政策专员) on an 一企来 call: the offer for a field, one of it rung (issue 21)
        fourth = await c.citizen(number="13800000005", exten="98")           # the enterprise queue
        offer = await desk.call("GET", f"/api/calls/{fourth}/specialists?field=税务")
        assert (offer["line"]["id"], [s["id"] for s in offer["specialists"]]) == \
            ("enterprise", ["tax-01", "tax-02", "tax-03"]), offer
        await desk.call("GET", f"/api/calls/{fourth}/specialists?field=a/b", expect=400)
        await desk.call("POST", f"/api/calls/{fourth}/specialist", {"field": "税务"}, expect=400)
        await desk.call("POST", f"/api/calls/{fourth}/specialist", {"field": "社保", "specialist": "hrss-03"},
                        expect=409)                                          # talent line only
        rung = await desk.call("POST", f"/api/calls/{fourth}/specialist", {"field": "税务", "specialist": "tax-02"})
        assert rung["specialist"]["id"] == "tax-02" and rung["owner"] == "地税局", rung
        await c.state(fourth, "threeway")
        rates = await desk.call("GET", "/api/departments/answer-rates")
        assert {r["number"] for r in rates} >= {"12315", "12333"}
        await desk.call("GET", "/api/agents/6001/ws", expect=400)                 # not a WebSocket request
        for method, path in [("GET", "/api/calls/nope")] + [
                ("POST", f"/api/calls/nope/{op}") for op in ("transfer", "threeway", "cancel", "drop-off",
                                                               "hangup", "spy")]:
            op = path.rsplit("/", 1)[-1]
            body = ({"number": "12315"} if op in ("transfer", "threeway") else
                    {"supervisor": "7001", "mode": "listen"} if op == "spy" else None)   # each its own fields
            answer = await desk.call(method, path, body, expect=404)
            assert answer == {"error": "unknown_call",
                              "detail": "no call with id 'nope' is connected to an agent"}
        documented = {(m, p) for p, ops in desk.doc["paths"].items() for m, op in ops.items() if "desktop" in op["tags"]}
        assert documented - desk.used == set()


async def test_without_the_token_every_documented_route_is_refused(tmp_path):
    async with centre(tmp_path) as c, aiohttp.ClientSession() as session:
        desk = await _desk(c, session)
        for template, ops in desk.doc["paths"].items():
            path = template.replace("{call_id}", "1").replace("{agent}", "6001")
            for method, op in ops.items():
                if op.get("security") == []:
                    continue   # public: /healthz, agent sign-in with a PIN, the signed ticket callback
                for headers in ({}, {"Authorization": "Bearer wrong"}):
                    answer = await desk.call(method.upper(), path, {"number": "12315"}, headers=headers,
                                             expect=401)
                    assert answer["error"] == "unauthorized"
        assert not any(m.name in ("QueueMemberAdded", "Hold", "BlindTransfer") for m in c.events)
