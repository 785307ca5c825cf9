"""The ticket callback on a real server (issue 20): every malformed webhook-signature, webhook-timestamp or
webhook-id header is a 401 "bad signature" naming what is wrong, never a 500; the configured tolerance
window is ours (not the reference library's fixed 5 minutes); rotation: any of our secrets verifies."""

import asyncio
import json
import time
from datetime import UTC, datetime

import aiohttp
import pytest
from standardwebhooks.webhooks import Webhook
from tickets_support import database, make_secret

from cti import web
from cti.bus import EventBus
from cti.tickets.api import TicketsApi
from cti.tickets.db import make_engine
from cti.tickets.service import TicketService
from cti.tickets.settings import TicketsSettings

OLD, NEW = make_secret(11), make_secret(12)
BODY = json.dumps({"type": "ticket.status", "timestamp": "2026-11-30T08:00:00Z",
                   "data": {"ticket_id": "no-such", "status": "closed"}}).encode()


@pytest.fixture
async def server(tmp_path):
    async with database("sqlite", tmp_path) as url:
        s = TicketsSettings(database_url=url, secrets=[NEW, OLD])
        engine = make_engine(url)
        service = TicketService(engine, s, EventBus())
        api = TicketsApi(service, s.secrets, 600)       # a 10-minute window, wider than the library's 5
        runner, port = await web.serve(web.create_app("t0ken", [api.setup]), "127.0.0.1", 0)
        try:
            yield port
        finally:
            await runner.cleanup()
            await engine.dispose()


def signed(msg_id: str = "msg_1", at: int | None = None, secret: str = NEW, body: bytes = BODY) -> dict[str, str]:
    at = int(time.time()) if at is None else at
    return {"webhook-id": msg_id, "webhook-timestamp": str(at),
            "webhook-signature": Webhook(secret).sign(msg_id, datetime.fromtimestamp(at, UTC), body.decode())}


async def raw_post(port: int, headers: dict[str, bytes], body: bytes = BODY) -> tuple[int, dict]:
    """POST with header values sent byte for byte (a client library would refuse or re-encode some)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = b"".join(k.encode() + b": " + v + b"\r\n" for k, v in headers.items())
    writer.write(b"POST /api/tickets/callback HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                 b"Content-Type: application/json\r\nContent-Length: " + str(len(body)).encode() + b"\r\n"
                 + head + b"\r\n" + body)
    await writer.drain()
    response = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    status = int(response.split(b" ", 2)[1])
    return status, json.loads(response.partition(b"\r\n\r\n")[2] or b"{}")


def _b(h: dict[str, str]) -> dict[str, bytes]:
    return {k: v.encode() for k, v in h.items()}


now = int(time.time())
MALFORMED = {
    # webhook-signature
    "signature without a comma": {"webhook-signature": b"garbage"},
    "signature empty after v1": {"webhook-signature": b"v1,"},
    "signature not base64": {"webhook-signature": b"v1,!!!not*base64"},
    "signature non-ASCII": {"webhook-signature": "v1,签名签名".encode()},
    "signature not UTF-8": {"webhook-signature": b"v1,\xff\xfe\xfd"},
    "signature of another version only": {"webhook-signature": b"v2,AAAA"},
    "signature of many spaces": {"webhook-signature": b"v1,AAAA    v1,BBBB"},
    "signature huge": {"webhook-signature": b"v1," + b"A" * 6000},
    # webhook-timestamp
    "timestamp a word": {"webhook-timestamp": b"soon"},
    "timestamp a float": {"webhook-timestamp": str(now).encode() + b".5"},
    "timestamp negative": {"webhook-timestamp": b"-1"},
    "timestamp nan": {"webhook-timestamp": b"nan"},
    "timestamp inf": {"webhook-timestamp": b"inf"},
    "timestamp in exponent form": {"webhook-timestamp": b"1e10"},
    "timestamp 5000 digits": {"webhook-timestamp": b"9" * 5000},
    "timestamp full-width digits": {"webhook-timestamp": "１７００".encode()},
    "timestamp not UTF-8": {"webhook-timestamp": b"\xff\xfe"},
    # webhook-id
    "id not UTF-8": {"webhook-id": b"msg_\xff\xfe"},
    "id non-ASCII": {"webhook-id": "消息".encode()},
    "id huge": {"webhook-id": b"m" * 5000},
    "id missing": {"webhook-id": None},
    "timestamp missing": {"webhook-timestamp": None},
    "signature missing": {"webhook-signature": None},
}


@pytest.mark.parametrize("case", list(MALFORMED))
async def test_a_malformed_header_is_a_401_never_a_500(server, case):
    headers = _b(signed()) | MALFORMED[case]
    status, body = await raw_post(server, {k: v for k, v in headers.items() if v is not None})
    assert (status, body.get("error")) == (401, "bad signature"), (case, status, body)
    assert body.get("detail"), body


async def test_a_non_utf8_body_is_refused_as_unsigned_not_a_500(server):
    body = b'{"type": "ticket.status", "data": "\xff"}'
    status, answer = await raw_post(server, _b(signed()), body)
    assert (status, answer.get("error")) == (401, "bad signature"), (status, answer)


async def test_the_configured_window_is_ours_and_any_of_our_secrets_verifies(server):
    async with aiohttp.ClientSession(f"http://127.0.0.1:{server}") as http:
        for headers in (signed("msg_old", int(time.time()) - 480, OLD),   # 8 min: inside our 10, past the library's 5
                        signed("msg_new", secret=NEW)):
            async with http.post("/api/tickets/callback", data=BODY, headers=headers) as r:
                assert r.status == 404, (headers, await r.text())         # verified: the ticket is unknown
        for headers in (signed("msg_late", int(time.time()) - 700),     # outside our 10 minutes
                        signed("msg_foreign", secret=make_secret(13))):
            async with http.post("/api/tickets/callback", data=BODY, headers=headers) as r:
                assert (r.status, (await r.json())["error"]) == (401, "bad signature")
