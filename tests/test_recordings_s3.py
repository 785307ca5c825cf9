"""Recordings in an S3-compatible object store: a real S3 server (moto, started by the test on a free
loopback port, checking every request's Signature V4 against an IAM key it issued) receives the
converted calls; our signed links stream them back (Range included) and expire; retention deletes
objects only when their tickets are closed; a store that refuses loses nothing."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import boto3
import pytest
import waiting

from cti.app import Layer
from cti.settings import Settings
from cti.simulator.recording import speech_like_stereo, write_wav
from cti.tickets.part import TicketsPart
from recordings.part import RecordingsPart
from recordings.pipeline import TOPIC_FAILED, TOPIC_READY
from recordings.s3 import S3Store
from recordings.settings import RecordingsSettings

DAY = 86400
ALLOW_S3 = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}'


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
async def s3(tmp_path):
    """(endpoint URL, access key, secret key) of a fresh S3 server that verifies signatures."""
    port = free_port()
    # the first 3 requests (the IAM user, its policy, its key) go unauthenticated; every later one is checked
    env = {"INITIAL_NO_AUTH_ACTION_COUNT": "3", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], env=env,
                            cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(500):
            try:
                socket.create_connection(("127.0.0.1", port), 0.1).close()
                break
            except OSError:
                await asyncio.sleep(0.02)
        async with aiohttp.ClientSession(url) as http:
            for form in ({"Action": "CreateUser", "UserName": "cti"},
                         {"Action": "PutUserPolicy", "UserName": "cti", "PolicyName": "s3", "PolicyDocument": ALLOW_S3},
                         {"Action": "CreateAccessKey", "UserName": "cti"}):
                async with http.post("/", data={**form, "Version": "2010-05-08"},
                                     headers={"Authorization": "AWS4-HMAC-SHA256 Credential=x/20260101/us-east-1/iam/"
                                              "aws4_request, SignedHeaders=host, Signature=0"}) as r:
                    body = await r.text()
                    assert r.status == 200, body
        access = re.search(r"<AccessKeyId>(.+?)</AccessKeyId>", body).group(1)
        secret = re.search(r"<SecretAccessKey>(.+?)</SecretAccessKey>", body).group(1)
        yield url, access, secret
    finally:
        proc.terminate()
        proc.wait(10)


def s3_settings(tmp_path: Path, s3, **over) -> RecordingsSettings:
    url, access, secret = s3
    fields = {"s3_access_key": access, "s3_secret_key": secret, **over}
    return RecordingsSettings(capture_dir=tmp_path / "spool", store_dir=tmp_path / "store", store="s3",
                              catalogue=tmp_path / "store" / "catalogue.db", settle_seconds=0,
                              s3_endpoint_url=url, s3_bucket="recordings-12345", s3_prefix="nantong/", **fields)


def layer_settings(tmp_path: Path) -> Settings:
    s = Settings(data_dir=tmp_path)
    return s.model_copy(update={
        "ami": s.ami.model_copy(update={"port": 1, "reconnect_min": 0.2, "reconnect_max": 1}),
        "agi": s.agi.model_copy(update={"port": 0}),
        "http": s.http.model_copy(update={"port": 0}),
        "tickets": s.tickets.model_copy(update={"database_url": f"sqlite+aiosqlite:///{tmp_path / 'cti.db'}"}),
    })


def capture(rs: RecordingsSettings, seconds: float, *uniqueids: str) -> None:
    rs.capture_dir.mkdir(parents=True, exist_ok=True)
    for uid in uniqueids:
        write_wav(rs.capture_dir / f"{uid}.wav", speech_like_stereo(seconds, uid))


async def until(predicate, timeout: float = 20.0) -> None:
    await waiting.until(predicate, timeout)


def sdk_read(s3, key: str) -> bytes:
    """An object of the test bucket read by boto3 (the AWS SDK), not by the code under test."""
    url, access, secret = s3
    client = boto3.client("s3", endpoint_url=url, aws_access_key_id=access, aws_secret_access_key=secret,
                          region_name="us-east-1")
    return client.get_object(Bucket="recordings-12345", Key=key)["Body"].read()


async def bucket(rs: RecordingsSettings) -> S3Store:
    store = S3Store(rs)
    await store.create_bucket()
    return store


def test_store_s3_needs_its_endpoint_bucket_and_keys():
    with pytest.raises(ValueError, match="s3_endpoint_url, s3_bucket, s3_access_key") as err:
        RecordingsSettings(store="s3")
    assert "s3_secret_key" in str(err.value)
    assert "hunter2" not in repr(RecordingsSettings(s3_secret_key="hunter2"))


async def test_converted_calls_go_to_the_bucket_and_the_signed_link_streams_them(tmp_path, s3):
    rs = s3_settings(tmp_path, s3, link_ttl=600)
    store = await bucket(rs)
    capture(rs, 20.0, "1700000000.7", "1700000000.8")
    now = [time.time()]
    layer = Layer(layer_settings(tmp_path), parts=[lambda lay: RecordingsPart(lay, settings=rs, clock=lambda: now[0])])
    [part] = layer.parts
    ready = []
    layer.bus.subscribe(TOPIC_READY, lambda _t, m: ready.append(m))
    await layer.start()
    try:
        await until(lambda: len(ready) == 2)
        async with aiohttp.ClientSession() as http:
            for rec in ready:
                row = await part.db(part.catalogue.get, rec.uniqueid)
                assert row.key.endswith(f"/{rec.uniqueid}.opus") and await store.exists(row.key)
                # the object itself under the prefix, read by the AWS SDK: the bytes the catalogue checksummed
                assert row.key.startswith("20")
                data = await asyncio.to_thread(sdk_read, s3, "nantong/" + row.key)
                assert hashlib.sha256(data).hexdigest() == rec.sha256
                async with http.get(f"{s3[0]}/recordings-12345/nantong/{row.key}") as r:
                    assert r.status == 403                    # the bucket is not public
                # nothing left on local disk: no staging file, no capture
                assert not list((rs.store_dir / "staging").rglob("*.opus"))
                assert not (rs.capture_dir / f"{rec.uniqueid}.wav").exists()
                assert not list(rs.store_dir.glob("20*"))
                # our signed link streams it from the store, seeking included
                async with http.get(rec.link) as r:
                    assert r.status == 200 and r.headers["Content-Type"] == "audio/ogg"
                    body = await r.read()
                assert hashlib.sha256(body).hexdigest() == rec.sha256 and len(body) == rec.size
                async with http.get(rec.link, headers={"Range": "bytes=100-199"}) as r:
                    assert r.status == 206 and r.headers["Content-Range"] == f"bytes 100-199/{rec.size}"
                    assert await r.read() == body[100:200]
                async with http.get(rec.link, headers={"Range": f"bytes={rec.size + 10}-"}) as r:
                    assert r.status == 416                    # past the end: the store's answer, not a 500
            # the playback page plays it through the same kind of link
            async with http.get(f"http://127.0.0.1:{layer.http_port}/recordings/{ready[0].uniqueid}/play",
                                params={"token": layer.http_token}) as r:
                src = re.search(r'<audio id="player" controls preload="metadata" src="([^"]+)"', await r.text()).group(1)
            async with http.get(f"http://127.0.0.1:{layer.http_port}" + src.replace("&amp;", "&")) as r:
                assert r.status == 200 and len(await r.read()) == ready[0].size
            # and it expires like a local one
            now[0] += 601
            async with http.get(ready[0].link) as r:
                assert r.status == 403 and "expired" in (await r.json())["detail"]
    finally:
        await layer.stop()
        await store.close()


async def test_retention_on_s3_keeps_recordings_of_open_tickets(tmp_path, s3):
    rs = s3_settings(tmp_path, s3, retention_days=180)
    store = await bucket(rs)
    capture(rs, 3.0, "1700000000.10", "1700000000.20")
    layer = Layer(layer_settings(tmp_path), parts=[TicketsPart, lambda lay: RecordingsPart(lay, settings=rs)])
    tickets_part, part = layer.parts
    ready = []
    layer.bus.subscribe(TOPIC_READY, lambda _t, m: ready.append(m.uniqueid))
    await layer.start()
    try:
        await until(lambda: len(ready) == 2)
        service = tickets_part.tickets
        open_ticket = await service.create(request_type="complaint", call_ids=["1700000000.10"])
        closed_ticket = await service.create(request_type="help", call_ids=["1700000000.20"])
        await part.drain()
        assert await service.apply_status("wh-1", closed_ticket["id"], "closed", datetime.now(UTC)) == "applied"
        await part.drain()
        keys = {uid: (await part.db(part.catalogue.get, uid)).key for uid in ready}
        assert await part.sweep(now=time.time() + 179 * DAY) == []
        assert await part.sweep(now=time.time() + 200 * DAY) == ["1700000000.20"]
        assert await store.exists(keys["1700000000.10"]) and not await store.exists(keys["1700000000.20"])
        async with aiohttp.ClientSession() as http, http.get(part.link_for("1700000000.20")) as r:
            assert r.status == 410
        assert await service.apply_status("wh-2", open_ticket["id"], "closed", datetime.now(UTC)) == "applied"
        await part.drain()
        assert await part.sweep(now=time.time() + 200 * DAY) == ["1700000000.10"]
        assert not await store.exists(keys["1700000000.10"])
    finally:
        await layer.stop()
        await store.close()


async def test_a_store_that_refuses_loses_nothing(tmp_path, s3, caplog):
    good = s3_settings(tmp_path, s3)
    store = await bucket(good)
    rs = s3_settings(tmp_path, s3, s3_secret_key="not-the-secret", max_attempts=2, retry_min=0.05, retry_max=0.1)
    capture(rs, 5.0, "1700000000.30")
    original = (rs.capture_dir / "1700000000.30.wav").read_bytes()
    layer = Layer(layer_settings(tmp_path), parts=[lambda lay: RecordingsPart(lay, settings=rs)])
    [part] = layer.parts
    failed = []
    layer.bus.subscribe(TOPIC_FAILED, lambda _t, m: failed.append(m))
    caplog.set_level(logging.ERROR, logger="recordings")
    await layer.start()
    try:
        await until(lambda: any(f.final for f in failed))
        assert [(f.attempts, f.final) for f in failed] == [(1, False), (2, True)]
        assert "SignatureDoesNotMatch" in failed[0].error and "original kept" in caplog.text
        rec = await part.db(part.catalogue.get, "1700000000.30")
        assert rec.status == "failed" and "HTTP 403 SignatureDoesNotMatch" in rec.last_error
        assert (rs.capture_dir / "1700000000.30.wav").read_bytes() == original
        assert not await store.exists(store.key_for("1700000000.30", rec.captured_at, "opus"))
    finally:
        await layer.stop()
        await store.close()
