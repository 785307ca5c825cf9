"""Event time when Asterisk does not stamp events (manager.conf ``timestampevents = no``, its default).

The input is a case from public reports (tests/fixtures/cases/ami_no_timestamp.ami, from ../shared/cases;
cacofonisk, VoIPGRID PR 18): one call without any ``Timestamp`` header, HoldTime 40, TalkTime 120.
Before, the monitor counted wait 0, talk 0, answered within 15 s, a 100 % rate, a row dated 1970, and
logged nothing. Given / when / then: the wait is 40 s and the talk 120 s (Asterisk's HoldTime and
TalkTime, placed at the time of receipt), and the layer says loudly which setting to change.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import tempfile

import aiohttp
import pytest
from ami_replay import ReplayServer, _empty_list, event_frames, load
from cases_support import case_frames
from monitor_support import monitor_settings, until
from playwright.async_api import async_playwright

from cti.ami.message import parse
from cti.app import Layer
from cti.calls.tracker import CallTracker
from queue_monitor.engine import QueueEngine
from queue_monitor.part import MonitorPart

RECEIVED = 1764460800.0   # a time of receipt; the case file itself carries none
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.mark.parametrize("spacing", ["together", "as_they_happened"])
def test_given_unstamped_events_when_counted_then_wait_and_talk_are_asterisks_holdtime_and_talktime(spacing):
    # together: every frame read at once (a stalled socket, a replay); as they happened: join, then the
    # connect 40.4 s later, the end 120.6 s after that. Either way Asterisk's own durations decide.
    at = {"together": [0.0] * 5, "as_they_happened": [0.0, 40.4, 40.4, 161.0, 161.0]}[spacing]
    engine, rows, tracker, pops = QueueEngine(), [], CallTracker(), []
    for frame, offset in zip(case_frames("ami_no_timestamp.ami"), at, strict=True):
        [ev], _ = parse(frame + b"\r\n\r\n", received_at=RECEIVED + offset)
        rows += engine.on_event(ev)
        pops += [n.call.as_dict() for n in tracker.feed(ev) if n.kind == "connect"]
    today = engine.snapshot()["centre"]["windows"]["today"]
    assert (today["offered"], today["answered"], today["answered_15s"]) == (1, 1, 0)
    assert today["answer_rate_15s"] == 0.0                    # never the fake 100 %
    assert today["average_wait"] == 40.0 and today["average_talk"] == 120.0
    [row] = rows
    assert row.connected_at - row.joined_at == 40.0 and row.ended_at - row.connected_at == 120.0
    assert row.joined_at == RECEIVED + at[2] - 40.0           # dated from the receipt, never 1970
    assert engine.snapshot()["event_time"] == "unstamped"
    # the agent's screen pop says the same wait (cti.calls), never 0 nor the gap between two reads
    assert [p["wait_seconds"] for p in pops] == [40.0]


def test_given_events_without_any_time_when_nothing_was_timed_before_then_they_are_refused_not_dated_1970(caplog):
    engine = QueueEngine()
    with caplog.at_level(logging.WARNING):
        rows = [r for frame in case_frames("ami_no_timestamp.ami") for r in engine.on_event(parse(frame + b"\r\n\r\n")[0][0])]
    assert rows == [] and engine.untimed == 5
    assert engine.snapshot()["centre"]["windows"]["total"]["offered"] == 0
    assert "no figure is computed from a missing time" in caplog.text


def _unstamped(frame: bytes) -> bytes:
    return b"\r\n".join(line for line in frame.split(b"\r\n") if not line.startswith(b"Timestamp: "))


async def _layer_on(server: ReplayServer, tmp_path):
    layer = Layer(monitor_settings(tmp_path, server.port), parts=[MonitorPart])
    await layer.start()
    await layer.ami.wait_connected(5)
    return layer, layer.parts[0]


async def _get(layer: Layer, path: str) -> dict:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
        async with http.get(f"http://127.0.0.1:{layer.http_port}{path}",
                            headers={"Authorization": "Bearer wall-token"}) as r:
            assert r.status == 200, await r.text()
            return await r.json()


async def _wallboard_header(layer: Layer) -> str:
    """The text of the wallboard's event-time notice in a real headless Chromium, once it shows."""
    async with async_playwright() as pw:
        with tempfile.TemporaryDirectory() as profile:
            browser = await pw.chromium.launch_persistent_context(
                profile, executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            try:
                page = await browser.new_page()
                await page.goto(f"http://127.0.0.1:{layer.http_port}/wallboard?token=wall-token")
                await page.wait_for_selector("header #event-time:not([hidden])", state="visible", timeout=15000)
                return await page.inner_text("header #event-time")
            finally:
                await browser.close()


async def test_given_asterisk_with_timestampevents_no_when_the_layer_logs_in_then_it_warns_and_still_counts_right(
        tmp_path, caplog):
    server = ReplayServer(events=case_frames("ami_no_timestamp.ami"),
                          replies={"QueueStatus": _empty_list("QueueStatus")})
    await server.start()
    server.login_frames = [_unstamped(f) for f in server.login_frames]   # SuccessfulAuth unstamped too
    with caplog.at_level(logging.WARNING):
        layer, part = await _layer_on(server, tmp_path)
        try:
            await until(lambda: part.stored >= 1, 15)
            health = await _get(layer, "/healthz")
            wall = await _get(layer, "/api/figures")
            [row] = await part.store.calls(0, math.inf)
            header = await _wallboard_header(layer)
        finally:
            await layer.stop()
            await server.stop()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and r.name == "cti.ami.client"]
    assert any("timestampevents = yes in manager.conf [general]" in w for w in warnings), warnings
    assert health["ami_event_time"] == "unstamped", health
    assert health["ami_event_time_fix"] == "timestampevents = yes in manager.conf [general]"
    assert wall["event_time"]["unstamped"] is True
    # the supervisors see it in the wallboard's header, in Chinese, with the setting to change
    assert "无时间戳" in header and "manager.conf [general]" in header and "timestampevents = yes" in header
    assert "timestampevents = yes" in wall["event_time"]["notice"] and "无时间戳" in wall["event_time"]["notice"]
    today = wall["centre"]["windows"]["today"]
    assert (today["answered"], today["answered_15s"], today["average_wait"], today["average_talk"]) == (1, 0, 40.0, 120.0)
    assert row.connected_at - row.joined_at == 40.0 and row.ended_at - row.connected_at == 120.0
    assert dt.date.fromtimestamp(row.joined_at).year == dt.date.fromtimestamp(part.engine.now).year > 1970


async def test_given_asterisk_with_timestampevents_yes_then_no_warning_and_the_wall_has_no_notice(tmp_path, caplog):
    # FullyBooted is never stamped (Asterisk sends it to the session itself): it must not raise the alarm
    server = ReplayServer(events=event_frames(load("answered-within-sl")),
                          replies={"QueueStatus": _empty_list("QueueStatus")})
    await server.start()
    with caplog.at_level(logging.WARNING):
        layer, part = await _layer_on(server, tmp_path)
        try:
            await until(lambda: part.stored >= 1, 15)
            health = await _get(layer, "/healthz")
            wall = await _get(layer, "/api/figures")
        finally:
            await layer.stop()
            await server.stop()
    assert health["ami_event_time"] == "stamped" and "ami_event_time_fix" not in health
    assert wall["event_time"] == {"unstamped": False, "instances": [], "setting": "timestampevents = yes", "notice": ""}
    assert "timestampevents" not in caplog.text
