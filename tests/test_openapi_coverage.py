"""/api/openapi.json documents every HTTP route of a layer with all its parts, with request and response
schemas, and its examples for creating a ticket are accepted as they are (issue 18).

openapi-spec-validator and jsonschema come with moto[server] (a test dependency)."""

from __future__ import annotations

import aiohttp
import jsonschema
import pytest
from openapi_spec_validator import validate
from referencing import Registry, Resource
from test_end_to_end import settings_for

from cti.app import Layer
from cti.demo import free_port

TOKEN = {"Authorization": "Bearer admin-token-for-openapi"}
NO_BODY = {("post", "/api/calls/{call_id}/cancel"), ("post", "/api/calls/{call_id}/drop-off"),
           ("post", "/api/calls/{call_id}/hangup"), ("post", "/api/agents/{agent}/unpause"),
           ("post", "/api/outbound/campaigns/{name}/pause"), ("post", "/api/outbound/campaigns/{name}/resume"),
           ("post", "/api/tickets/callback")}   # the callback's body is documented; signed, not a model


@pytest.fixture
async def layer(tmp_path):
    s = settings_for(tmp_path, free_port())         # every part; Asterisk unreachable
    lay = Layer(s.model_copy(update={"http": s.http.model_copy(update={"token": TOKEN["Authorization"][7:]})}))
    await lay.start()
    yield lay
    await lay.stop()


async def _doc(layer) -> dict:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{layer.http_port}/api/openapi.json", headers=TOKEN) as r:
            assert r.status == 200
            return await r.json()


def _validator(doc: dict, schema: dict) -> jsonschema.Draft202012Validator:
    root = "urn:cti-openapi"
    registry = Registry().with_resource(root, Resource.from_contents(
        {"$schema": "https://json-schema.org/draft/2020-12/schema", **doc}))
    return jsonschema.Draft202012Validator({"$ref": root + "#" + schema["$ref"][1:]} if "$ref" in schema
                                           else schema, registry=registry)


async def test_every_registered_route_is_documented_with_its_schemas(layer):
    doc = await _doc(layer)
    validate(doc)   # a valid OpenAPI 3.1 document
    registered = {(r.method.lower(), r.resource.canonical) for r in layer.http_app.router.routes()
                  if r.method != "HEAD"}                 # aiohttp adds HEAD beside each GET
    documented = {(m, p) for p, ops in doc["paths"].items() for m in ops if m in ("get", "post", "put", "delete")}
    assert sorted(registered - documented) == [], "routes missing from /api/openapi.json"
    assert sorted(documented - registered) == [], "documented routes that do not exist"
    for method, path in sorted(documented):
        op = doc["paths"][path][method]
        ok = [c for c in op["responses"] if c.startswith("2") or c == "101"]
        assert ok, f"{method} {path}: no success response"
        for code in ok:
            for media in op["responses"][code].get("content", {}).values():
                assert media.get("schema"), f"{method} {path} {code}: no response schema"
        if method == "post" and (method, path) not in NO_BODY:
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {})
            assert body.get("schema"), f"{method} {path}: no request schema"


async def test_the_ticket_examples_are_accepted_and_answered_as_documented(layer):
    doc = await _doc(layer)
    op = doc["paths"]["/api/tickets"]["post"]
    media = op["requestBody"]["content"]["application/json"]
    created = op["responses"]["201"]["content"]["application/json"]
    _validator(doc, created["schema"]).validate(created["example"])
    assert {"agent", "integration"} <= set(media["examples"])
    async with aiohttp.ClientSession() as http:
        for name, example in media["examples"].items():
            _validator(doc, media["schema"]).validate(example["value"])
            async with http.post(f"http://127.0.0.1:{layer.http_port}/api/tickets", json=example["value"],
                                 headers=TOKEN) as r:
                ticket = await r.json()
                assert r.status == 201, (name, ticket)
            _validator(doc, created["schema"]).validate(ticket)
            assert ticket["request_type"] == example["value"]["request_type"]
