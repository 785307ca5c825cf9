"""Unanswered callers' empty captures (issue 12, failure 6).

The shipped dialplan starts MixMonitor before Queue(), so on a real Asterisk every caller nobody
answered leaves a 0-byte ``<uniqueid>.raw``. That is not a failed conversion: the capture is marked
``empty``, removed, never retried and never linked to a ticket; ``cti recordings list`` shows nothing
failed. An empty capture of an answered call is still a lost recording, reported as failed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import waiting

from cti.ami import TOPIC_EVENT, AmiMessage
from cti.app import Layer
from cti.settings import Settings
from cti.simulator.recording import speech_like_stereo, write_wav
from recordings.part import RecordingsPart
from recordings.pipeline import TOPIC_FAILED, TOPIC_READY
from recordings.settings import RecordingsSettings

ROOT = Path(__file__).resolve().parents[1]


def layer_settings(tmp_path: Path) -> Settings:
    s = Settings(data_dir=tmp_path)
    return s.model_copy(update={
        "ami": s.ami.model_copy(update={"port": 1, "reconnect_min": 0.05, "reconnect_max": 0.2}),
        "agi": s.agi.model_copy(update={"port": 0}),
        "http": s.http.model_copy(update={"port": 0}),
    })


def recordings_settings(tmp_path: Path) -> RecordingsSettings:
    return RecordingsSettings(capture_dir=tmp_path / "spool", store_dir=tmp_path / "store",
                              catalogue=tmp_path / "store" / "catalogue.db", settle_seconds=0,
                              retry_min=0.05, retry_max=0.1, max_attempts=3)


async def until(predicate, timeout: float = 20.0) -> None:
    await waiting.until(predicate, timeout)


def cti_recordings_list(tmp_path: Path, rs: RecordingsSettings) -> tuple[list[dict], dict]:
    """``cti recordings list`` on this catalogue: (JSON lines on stdout, counts on stderr)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CTI_")}
    env |= {"CTI_DATA_DIR": str(tmp_path), "CTI_RECORDINGS_CATALOGUE": str(rs.catalogue)}
    out = subprocess.run([sys.executable, "-m", "cti.cli", "recordings", "list", "--format", "json"], cwd=ROOT,
                         env=env, capture_output=True, text=True, timeout=60, check=True)
    return [json.loads(line) for line in out.stdout.splitlines()], json.loads(out.stderr.strip().splitlines()[-1])


def cti_recordings_table(tmp_path: Path, rs: RecordingsSettings) -> str:
    """``cti recordings list`` as a person runs it: its stdout."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CTI_")}
    env |= {"CTI_DATA_DIR": str(tmp_path), "CTI_RECORDINGS_CATALOGUE": str(rs.catalogue)}
    return subprocess.run([sys.executable, "-m", "cti.cli", "recordings", "list"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60, check=True).stdout


async def test_unanswered_callers_empty_captures_are_not_failures_and_never_retried(tmp_path, caplog):
    rs = recordings_settings(tmp_path)
    rs.capture_dir.mkdir(parents=True)
    (rs.capture_dir / "1700000000.11.raw").write_bytes(b"")          # what Asterisk leaves for an abandon
    (rs.capture_dir / "1700000000.12.raw").write_bytes(b"\x00\x01\x02")   # shorter than one sample frame
    write_wav(rs.capture_dir / "1700000000.13.wav", speech_like_stereo(6.0, 1))   # an answered call
    layer = Layer(layer_settings(tmp_path), parts=[lambda lay: RecordingsPart(lay, settings=rs)])
    [part] = layer.parts
    ready, failed = [], []
    layer.bus.subscribe(TOPIC_READY, lambda _t, m: ready.append(m.uniqueid))
    layer.bus.subscribe(TOPIC_FAILED, lambda _t, m: failed.append(m))
    caplog.set_level(logging.INFO, logger="recordings")
    await layer.start()   # the spool is scanned at start, as after a restart
    try:
        await until(lambda: ready == ["1700000000.13"])
        empties = ("1700000000.11", "1700000000.12")
        await until(lambda: all(not (rs.capture_dir / f"{uid}.raw").exists() for uid in empties))
        await asyncio.sleep(0.5)   # several retry periods (retry_min 0.05 s): nothing comes back
        assert failed == []
        for uid in empties:
            rec = await part.db(part.catalogue.get, uid)
            assert rec.status == "empty" and rec.attempts == 0 and rec.last_error == ""
            assert await part.recording_link([uid]) is None            # no ticket links to nothing
            logged = [r for r in caplog.records if uid in r.getMessage()]
            assert {r.levelno for r in logged} == {logging.INFO}
            assert sum("not answered" in r.getMessage() for r in logged) == 1
        assert not any(r.levelno >= logging.ERROR for r in caplog.records)
        assert await part.rescan() == 0       # removed files are not found again
    finally:
        await layer.stop()
    rows, counts = cti_recordings_list(tmp_path, rs)
    assert counts == {"empty": 2, "ready": 1}
    assert {r["uniqueid"]: r["status"] for r in rows} == {
        "1700000000.11": "empty", "1700000000.12": "empty", "1700000000.13": "ready"}
    # a person gets a table: a header, one line per recording, the counts; no JSON
    table = cti_recordings_table(tmp_path, rs).splitlines()
    assert table[0].split()[:4] == ["录音", "uniqueid", "状态", "status"], table
    lines = {line.split()[0]: line for line in table[1:4]}
    assert set(lines) == {"1700000000.11", "1700000000.12", "1700000000.13"}, table
    assert "就绪 ready" in lines["1700000000.13"] and "无人接听 empty" in lines["1700000000.11"]
    assert table[-1].startswith("3 shown") and "无人接听 empty 2" in table[-1] and "就绪 ready 1" in table[-1], table
    assert not any(line.lstrip().startswith("{") for line in table)


async def test_an_answered_calls_empty_capture_is_a_lost_recording_and_fails(tmp_path):
    rs = recordings_settings(tmp_path)
    layer = Layer(layer_settings(tmp_path), parts=[lambda lay: RecordingsPart(lay, settings=rs)])
    [part] = layer.parts
    failed = []
    layer.bus.subscribe(TOPIC_FAILED, lambda _t, m: failed.append(m))
    await layer.start()
    try:
        uid = "1700000000.21"
        (rs.capture_dir / f"{uid}.raw").write_bytes(b"")
        layer.bus.publish(TOPIC_EVENT, AmiMessage.of(Event="AgentConnect", Uniqueid=uid, Linkedid=uid, Queue="public"))
        layer.bus.publish(TOPIC_EVENT, AmiMessage.of(Event="Hangup", Uniqueid=uid, Linkedid=uid))
        await until(lambda: any(f.final for f in failed))
        assert [(f.attempts, f.final) for f in failed] == [(1, False), (2, False), (3, True)]
        rec = await part.db(part.catalogue.get, uid)
        assert rec.status == "failed" and "holds no audio" in rec.last_error
        assert (rs.capture_dir / f"{uid}.raw").exists()      # a failed capture is always kept
    finally:
        await layer.stop()
