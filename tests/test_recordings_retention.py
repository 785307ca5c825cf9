"""Retention with the real tickets part, and signed links that expire."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import waiting

from cti.app import Layer
from cti.settings import Settings
from cti.simulator.recording import speech_like_stereo, write_wav
from cti.tickets.part import TicketsPart
from recordings.part import RecordingsPart
from recordings.pipeline import TOPIC_READY
from recordings.settings import RecordingsSettings

DAY = 86400


def settings(tmp_path: Path) -> Settings:
    s = Settings(data_dir=tmp_path)
    return s.model_copy(update={
        "ami": s.ami.model_copy(update={"port": 1, "reconnect_min": 0.2, "reconnect_max": 1}),
        "agi": s.agi.model_copy(update={"port": 0}),
        "http": s.http.model_copy(update={"port": 0}),
        "tickets": s.tickets.model_copy(update={"database_url": f"sqlite+aiosqlite:///{tmp_path / 'cti.db'}"}),
    })


def recordings_settings(tmp_path: Path, **over) -> RecordingsSettings:
    return RecordingsSettings(capture_dir=tmp_path / "spool", store_dir=tmp_path / "store",
                              catalogue=tmp_path / "store" / "catalogue.db", settle_seconds=0, **over)


async def until(predicate, timeout: float = 20.0) -> None:
    await waiting.until(predicate, timeout)


def capture(rs: RecordingsSettings, *uniqueids: str) -> None:
    rs.capture_dir.mkdir(parents=True, exist_ok=True)
    for uid in uniqueids:
        write_wav(rs.capture_dir / f"{uid}.wav", speech_like_stereo(3.0, uid))


async def test_old_recordings_of_open_tickets_are_kept_of_closed_ones_deleted(tmp_path):
    rs = recordings_settings(tmp_path, retention_days=180)
    capture(rs, "1700000000.10", "1700000000.20", "1700000000.30")
    layer = Layer(settings(tmp_path), parts=[TicketsPart, lambda lay: RecordingsPart(lay, settings=rs)])
    tickets_part, part = layer.parts
    ready = []
    layer.bus.subscribe(TOPIC_READY, lambda _t, m: ready.append(m.uniqueid))
    await layer.start()
    try:
        await until(lambda: len(ready) == 3)
        service = tickets_part.tickets
        open_ticket = await service.create(request_type="complaint", call_ids=["1700000000.10"])
        closed_ticket = await service.create(request_type="help", call_ids=["1700000000.20"])
        # .30 was settled on the phone: no ticket
        await part.drain()
        assert await service.apply_status("wh-1", closed_ticket["id"], "closed", datetime.now(UTC)) == "applied"
        await part.drain()
        stored = {uid: part.store.local_path((await part.db(part.catalogue.get, uid)).key) for uid in ready}

        assert await part.sweep(now=time.time() + 179 * DAY) == []       # too young, whatever the tickets
        assert sorted(await part.sweep(now=time.time() + 200 * DAY)) == ["1700000000.20", "1700000000.30"]
        assert stored["1700000000.10"].exists()
        assert not stored["1700000000.20"].exists() and not stored["1700000000.30"].exists()
        assert (await part.db(part.catalogue.get, "1700000000.10")).status == "ready"
        assert (await part.db(part.catalogue.get, "1700000000.20")).status == "deleted"
        # Once its ticket is closed, the kept one goes at the next sweep.
        assert await service.apply_status("wh-2", open_ticket["id"], "closed", datetime.now(UTC)) == "applied"
        await part.drain()
        assert await part.sweep(now=time.time() + 200 * DAY) == ["1700000000.10"]
        async with aiohttp.ClientSession() as http, http.get(part.link_for("1700000000.10")) as r:
            assert r.status == 410
    finally:
        await layer.stop()


async def test_a_signed_link_works_until_it_expires_then_403(tmp_path):
    rs = recordings_settings(tmp_path, link_ttl=600)
    capture(rs, "1700000000.5")
    now = [time.time()]
    layer = Layer(settings(tmp_path), parts=[lambda lay: RecordingsPart(lay, settings=rs, clock=lambda: now[0])])
    [part] = layer.parts
    ready = []
    layer.bus.subscribe(TOPIC_READY, lambda _t, m: ready.append(m))
    await layer.start()
    try:
        await until(lambda: ready)
        link = ready[0].link
        async with aiohttp.ClientSession() as http:
            async with http.get(link) as r:
                assert r.status == 200 and r.headers["Content-Type"] == "audio/ogg"
            now[0] += 599
            async with http.get(link) as r:
                assert r.status == 200
            now[0] += 2
            async with http.get(link) as r:
                assert r.status == 403 and "expired" in (await r.json())["detail"]
            async with http.get(link.replace("sig=", "sig=0")) as r:
                assert r.status == 403
            later = link.split("expires=")[0] + f"expires={int(now[0]) + 999}&" + link.split("&")[1]
            async with http.get(later) as r:      # a moved expiry breaks the signature
                assert r.status == 403 and "bad" in (await r.json())["detail"]
            async with http.get(link.split("?")[0], headers={"Authorization": f"Bearer {layer.http_token}"}) as r:
                assert r.status == 200            # the token still opens it for the supervisor API
            async with http.get(part.link_for("1700000000.5")) as r:
                assert r.status == 200            # a fresh link works again
    finally:
        await layer.stop()
