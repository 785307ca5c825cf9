"""Every JSON route answers a body that is not a JSON object with 400 naming the problem, never a 500:
invalid JSON, a list, a scalar, bytes that are not UTF-8, and JSON nested too deeply for the parser."""

from __future__ import annotations

import aiohttp
import pytest
from calls_support import settings_for
from tickets_support import free_port

from cti.app import Layer

ROUTES = ["/api/calls/x/transfer", "/api/agents/6001/pause", "/api/tickets",
          "/api/outbound/campaigns/default/numbers", "/api/outbound/do-not-call"]
BODIES = {"not json": b"{oops", "a list": b"[1, 2]", "a number": b"7", "not utf-8": b'{"a": "\xff"}',
          "nested too deeply": b"[" * 100_000 + b"]" * 100_000}


@pytest.fixture
async def layer(tmp_path):
    lay = Layer(settings_for(tmp_path, free_port()))   # every part; Asterisk unreachable
    await lay.start()
    yield lay
    await lay.stop()


async def test_given_a_bad_body_on_any_json_route_then_400_never_500(layer):
    url = f"http://127.0.0.1:{layer.http_port}"
    seen = {}
    async with aiohttp.ClientSession(headers={"Authorization": "Bearer desk-token"}) as http:
        for route in ROUTES:
            for name, body in BODIES.items():
                async with http.post(url + route, data=body, headers={"Content-Type": "application/json"}) as r:
                    seen[(route, name)] = (r.status, await r.text())
    wrong = {k: v for k, v in seen.items() if v[0] != 400}
    assert wrong == {}
