"""What an agent's desktop and a supervisor do through the layer's HTTP API, for the real-switch tests."""

from __future__ import annotations

import aiohttp

from cti.app import Layer
from real_asterisk.conftest import TOKEN


async def api(layer: Layer, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
    """One request to the layer's API with the suite's token; returns (status, JSON body)."""
    url = f"http://127.0.0.1:{layer.http_port}{path}"
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {TOKEN}"}) as http:
        async with http.request(method, url, json=body) as resp:
            try:
                data = await resp.json(content_type=None)
            except ValueError:
                data = {"text": await resp.text()}
            return resp.status, data


async def login(layer: Layer, agent: str, *queues: str) -> None:
    status, body = await api(layer, "POST", f"/api/agents/{agent}/login", {"queues": list(queues)})
    assert status == 200, (status, body)
