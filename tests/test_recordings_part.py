"""The recordings part inside the layer, against the PBX simulator's MixMonitor capture.

Answered calls are captured by the simulator, converted in the worker pool, stored by date, announced
on ``recording.ready`` with a signed link that plays in the browser's <audio> element. A corrupt
capture is logged, kept and retried; the other calls are not affected.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import subprocess
from pathlib import Path

import aiohttp
import waiting

from cti.ami import TOPIC_EVENT
from cti.app import Layer
from cti.settings import Settings
from cti.simulator import AgentTiming, SimConfig, Simulator
from cti.simulator.recording import speech_like_stereo, write_wav
from recordings.part import RecordingsPart
from recordings.pipeline import TOPIC_FAILED, TOPIC_READY
from recordings.settings import RecordingsSettings


def layer_settings(tmp_path: Path, ami_port: int) -> Settings:
    s = Settings(data_dir=tmp_path)
    return s.model_copy(update={
        "ami": s.ami.model_copy(update={"port": ami_port, "reconnect_min": 0.05, "reconnect_max": 0.2}),
        "agi": s.agi.model_copy(update={"port": 0}),
        "http": s.http.model_copy(update={"port": 0}),
    })


def recordings_settings(tmp_path: Path, **over) -> RecordingsSettings:
    return RecordingsSettings(capture_dir=tmp_path / "spool", store_dir=tmp_path / "store",
                              catalogue=tmp_path / "store" / "catalogue.db", settle_seconds=0, **over)


async def until(predicate, timeout: float = 20.0) -> None:
    await waiting.until(predicate, timeout)


def ffprobe_duration(path: Path) -> tuple[float, int]:
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=channels:format=duration", "-of", "json",
                          str(path)], check=True, capture_output=True, text=True).stdout
    data = json.loads(out)
    return float(data["format"]["duration"]), data["streams"][0]["channels"]


async def test_answered_calls_are_captured_converted_stored_linked_and_playable(tmp_path):
    rs = recordings_settings(tmp_path)
    sim = Simulator(SimConfig(ami_port=0, agi_port=1, speed=20, seed=3, recording_dir=str(rs.capture_dir),
                              default_agent=AgentTiming(ring_delay=1.0, talk_time=12.0)))
    await sim.start()
    layer = Layer(layer_settings(tmp_path, sim.ami_port), parts=[lambda lay: RecordingsPart(lay, settings=rs)])
    [part] = layer.parts
    ready, events = [], []
    layer.bus.subscribe(TOPIC_READY, lambda _t, m: ready.append(m))
    layer.bus.subscribe(TOPIC_EVENT, lambda _t, m: events.append(m))
    await layer.start()
    sim.config.agi_port = layer.agi.port
    base = f"http://127.0.0.1:{layer.http_port}"
    try:
        await layer.ami.wait_connected(5)
        for n, exten in enumerate(["press1", "press2", "abandon"]):
            reply = await layer.ami.action({
                "Action": "Originate", "Async": "true", "Channel": "Local/12345@from-pstn", "Context": "caller",
                "Exten": exten, "Priority": 1, "CallerID": f'"市民" <1380000000{n}>', "Timeout": 30000})
            assert reply[0].success
        await until(lambda: len(ready) == 2 and sim.totals()["in_progress"] == 0, 30)
        connects = {m["Uniqueid"]: m.timestamp for m in events if m.name == "AgentConnect"}
        hangups = {m["Uniqueid"]: m.timestamp for m in events if m.name == "Hangup"}
        assert {r.uniqueid for r in ready} == set(connects)  # one recording per answered call, none for the abandon
        async with aiohttp.ClientSession(base) as http:
            for rec in ready:
                talked = hangups[rec.uniqueid] - connects[rec.uniqueid]
                stored = next(rs.store_dir.glob(f"*/*/*/{rec.uniqueid}.opus"))
                duration, channels = ffprobe_duration(stored)
                assert abs(duration - talked) <= 0.05 and abs(rec.duration - talked) <= 0.05 and channels == 2
                assert rec.sha256 == hashlib.sha256(stored.read_bytes()).hexdigest() and rec.size == stored.stat().st_size
                assert not (rs.capture_dir / f"{rec.uniqueid}.wav").exists()  # converted: the spool is emptied
                # the signed link needs no token
                async with http.get(rec.link) as r:
                    assert r.status == 200 and r.headers["Content-Type"] == "audio/ogg"
                    assert hashlib.sha256(await r.read()).hexdigest() == rec.sha256
                # the supervisor's playback page: an <audio> element on a signed link that plays
                async with http.get(f"/recordings/{rec.uniqueid}/play", params={"token": layer.http_token}) as r:
                    assert r.status == 200
                    page = await r.text()
                src = re.search(r'<audio id="player" controls preload="metadata" src="([^"]+)"', page).group(1)
                async with http.get(src.replace("&amp;", "&"), headers={"Range": "bytes=0-99"}) as r:
                    assert r.status == 206 and len(await r.read()) == 100   # seeking works in the browser
            async with http.get("/api/recordings", headers={"Authorization": f"Bearer {layer.http_token}"}) as r:
                listed = (await r.json())["recordings"]
            assert sorted(x["uniqueid"] for x in listed) == sorted(connects)
            assert all(x["status"] == "ready" and x["sha256"] for x in listed)
            async with http.get("/api/recordings") as r:
                assert r.status == 401
            async with http.get(f"/api/recordings/{ready[0].uniqueid}") as r:
                assert r.status == 401            # public path, but neither signature nor token
    finally:
        await layer.stop()
        await sim.stop()


async def test_a_corrupt_capture_is_logged_kept_and_retried_the_others_unaffected(tmp_path, caplog):
    rs = recordings_settings(tmp_path, retry_min=0.05, retry_max=0.1, max_attempts=3)
    rs.capture_dir.mkdir(parents=True)
    write_wav(rs.capture_dir / "1700000000.1.wav", speech_like_stereo(30.0, 1))
    corrupt = b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\xff" * 400
    (rs.capture_dir / "1700000000.2.wav").write_bytes(corrupt)
    write_wav(rs.capture_dir / "1700000000.3.wav", speech_like_stereo(8.0, 3))
    layer = Layer(layer_settings(tmp_path, 1), parts=[lambda lay: RecordingsPart(lay, settings=rs)])
    [part] = layer.parts
    ready, failed = [], []
    layer.bus.subscribe(TOPIC_READY, lambda _t, m: ready.append(m.uniqueid))
    layer.bus.subscribe(TOPIC_FAILED, lambda _t, m: failed.append(m))
    caplog.set_level(logging.ERROR, logger="recordings")
    await layer.start()   # captures left in the spool while the layer was down are picked up at start
    try:
        await until(lambda: len(ready) == 2 and any(f.final for f in failed))
        assert sorted(ready) == ["1700000000.1", "1700000000.3"]
        assert [(f.uniqueid, f.attempts, f.final) for f in failed] == [
            ("1700000000.2", 1, False), ("1700000000.2", 2, False), ("1700000000.2", 3, True)]
        rec = await part.db(part.catalogue.get, "1700000000.2")
        assert rec.status == "failed" and rec.attempts == 3 and "cannot decode 1700000000.2.wav" in rec.last_error
        assert (rs.capture_dir / "1700000000.2.wav").read_bytes() == corrupt       # the original is kept
        assert "original kept" in caplog.text and "giving up" in caplog.text
        # Nothing was lost: once the file is repaired, a retry converts it.
        write_wav(rs.capture_dir / "1700000000.2.wav", speech_like_stereo(5.0, 2))
        assert await part.db(part.catalogue.retry, "1700000000.2", part.clock())
        part.pipeline.wake()
        await until(lambda: "1700000000.2" in ready)
        assert (await part.db(part.catalogue.get, "1700000000.2")).status == "ready"
        assert {r.status for r in await part.db(part.catalogue.listing)} == {"ready"}
    finally:
        await layer.stop()
