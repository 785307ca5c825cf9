"""Call recordings on a real Asterisk 22: MixMonitor's ``<uid>.raw`` of an answered call is converted,
catalogued and served by a signed link that plays; an unanswered caller's empty capture is not a failure."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import aiohttp

from real_asterisk.desk import api, login
from real_asterisk.switch import ROOT, poll, until


async def catalogued(layer, uniqueid: str, statuses: set[str], timeout: float = 60.0) -> dict:
    """The call's row of the recordings catalogue (GET /api/recordings) once its status is in ``statuses``."""
    def row(resp):
        return next((r for r in resp[1].get("recordings", []) if r.get("uniqueid") == uniqueid), None)

    resp = await poll(lambda: api(layer, "GET", "/api/recordings"),
                      lambda r: (row(r) or {}).get("status") in statuses, timeout,
                      f"recording {uniqueid} to be {statuses}")
    return row(resp)


def cti_recordings_list(data_dir) -> tuple[list[dict], dict]:
    """What an operator sees with ``cti recordings list`` on the layer's data_dir: rows and counts by status."""
    done = subprocess.run([sys.executable, "-m", "cti.cli", "recordings", "list", "--format", "json"], capture_output=True, text=True,
                          cwd=ROOT, timeout=60, env={**os.environ, "CTI_DATA_DIR": str(data_dir)})
    assert done.returncode == 0, done.stdout + done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    counts = json.loads(done.stderr.strip().splitlines()[-1])
    return rows, counts


def play_seconds(path) -> float:
    """The file's duration as ffprobe reads it, after ffmpeg decoded every frame without an error."""
    decoded = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-f", "null", "-"], capture_output=True,
                             text=True, timeout=60)
    assert decoded.returncode == 0 and not decoded.stderr.strip(), decoded.stderr
    probe = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "json", str(path)],
                           capture_output=True, text=True, timeout=60)
    assert probe.returncode == 0, probe.stderr
    return float(json.loads(probe.stdout)["format"]["duration"])


async def test_given_an_answered_call_when_it_ends_then_its_recording_is_converted_linked_and_plays(
        switch, layer, tmp_path):
    switch.agent("6001", ring=0.5, talk=4)
    await login(layer, "6001", "public")
    caller = await switch.call(keys="1", key_delay=1.5)
    await until(lambda: switch.caller_events(caller, "AgentConnect"), 60, f"an agent to answer {caller}",
                lambda: [e["Event"] for e in switch.caller_events(caller)][-10:])
    connect = switch.caller_events(caller, "AgentConnect")[0]
    uniqueid, citizen = connect["Uniqueid"], connect["Channel"]
    # the agent hangs up after its talk; the citizen hangs up during the survey that follows
    await switch.wait_event("Hangup", 30, Uniqueid=connect["DestUniqueid"])
    hangup = await switch.observer.action({"Action": "Hangup", "Channel": switch.citizen_phone(citizen)})
    assert dict(hangup).get("Response") == "Success", hangup
    await switch.wait_event("Hangup", 30, Uniqueid=uniqueid)

    rec = await catalogued(layer, uniqueid, {"ready", "failed"})
    assert rec["status"] == "ready", rec
    assert rec["format"] == "opus" and rec["size"] > 0, rec
    # the agent talked 4 s: the recording (bridged time, silence trimmed) holds about that much audio
    assert 1.0 < rec["duration"] <= 6.0, rec
    # the capture goes right after the catalogue says ready (a busy machine shows the gap)
    await until(lambda: not (switch.monitor_dir / f"{uniqueid}.raw").exists(), 30,
                "the capture to be removed once converted")

    # linked: the signed link (no token) downloads the converted file, which ffmpeg plays
    status, info = await api(layer, "GET", f"/api/recordings/{uniqueid}/info")
    assert status == 200, info
    async with aiohttp.ClientSession() as http, http.get(info["link"]) as resp:
        assert resp.status == 200, await resp.text()
        audio = await resp.read()
    assert len(audio) == rec["size"]
    path = tmp_path / f"{uniqueid}.{rec['format']}"
    path.write_bytes(audio)
    assert abs(play_seconds(path) - rec["duration"]) < 0.5, (play_seconds(path), rec)

    rows, counts = cti_recordings_list(layer.settings.data_dir)
    assert [r["status"] for r in rows if r["uniqueid"] == uniqueid] == ["ready"], rows
    assert counts.get("failed", 0) == 0, counts


async def test_given_no_agent_when_a_caller_gives_up_waiting_then_the_empty_capture_is_empty_not_failed(
        switch, layer):
    # nobody logged in: the caller waits in public, then hangs up (stay counts from the key)
    caller = await switch.call(keys="1", key_delay=1.5, stay=6)
    await until(lambda: switch.caller_events(caller, "QueueCallerJoin"), 60, f"{caller} to join the queue")
    uniqueid = switch.caller_events(caller, "QueueCallerJoin")[0]["Uniqueid"]
    await switch.wait_event("QueueCallerAbandon", 30, Uniqueid=uniqueid)
    await switch.wait_event("Hangup", 30, Uniqueid=uniqueid)

    rec = await catalogued(layer, uniqueid, {"empty", "failed", "ready"})
    assert rec["status"] == "empty", rec
    assert not (switch.monitor_dir / f"{uniqueid}.raw").exists(), "the 0-byte capture is removed"
    status, body = await api(layer, "GET", "/api/recordings?status=failed")
    assert status == 200 and body["recordings"] == [], body
    rows, counts = cti_recordings_list(layer.settings.data_dir)
    assert [r["status"] for r in rows if r["uniqueid"] == uniqueid] == ["empty"], rows
    assert counts.get("failed", 0) == 0, counts
    # no ticket can link a call nobody answered
    status, body = await api(layer, "GET", f"/api/recordings/{uniqueid}")
    assert status == 404, body
