"""The wallboard over HTTP and in a real headless Chromium: token, live push, numbers equal to the API's,
reports (HTTP and `cti report`), Prometheus metrics, the recent calls panel playing a recording; screenshots
are kept as test artifacts."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from monitor_support import cti_report, monitor_settings, originate, start_layer, until
from playwright.async_api import async_playwright
from prometheus_client.parser import text_string_to_metric_families

from cti.app import Layer
from cti.calls.stats import TOPIC_DEPARTMENT_LEG, DepartmentLeg
from cti.dispositions.messages import TOPIC_OUTCOME as TOPIC_DISPOSITION
from cti.dispositions.messages import DispositionOutcome
from cti.messages import Rating
from cti.outbound.followups import TOPIC_FOLLOWUP, FollowupAttempt
from cti.outbound.linkage import FROM_110, TOPIC_LINKAGE, Handover
from cti.outbound.testdial import TOPIC_TEST_DIAL
from cti.privacy import mask_number
from cti.simulator import AgentTiming, SimConfig, Simulator
from queue_monitor.part import MonitorPart
from recordings.part import RecordingsPart
from recordings.pipeline import TOPIC_READY
from recordings.settings import RecordingsSettings

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(os.environ.get("CTI_TEST_ARTIFACTS", Path(__file__).resolve().parents[1] / "var" / "test-artifacts"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
FIELDS = ["offered", "answered", "abandoned", "short_abandoned", "timed_out", "answer_rate_15s",
          "answer_rate_10s", "average_wait", "average_talk"]


def shown(value, field: str) -> str:
    """The wallboard's formatting (queue_monitor/static/wallboard.html), for comparing with the API."""
    if value is None:
        return "—"
    if field.startswith("answer_rate"):
        text = f"{100 * value:.1f}"
        return ("100" if text == "100.0" else text) + "%"
    if field.startswith("average"):
        return f"{value:.1f}s"
    return str(value)


@pytest.fixture
async def centre(tmp_path):
    sim = Simulator(SimConfig(ami_port=0, agi_port=1, speed=20, seed=2))
    await sim.start()
    layer, part = await start_layer(monitor_settings(tmp_path, sim.ami_port), sim)
    base = f"http://127.0.0.1:{layer.http_port}"
    try:
        yield sim, layer, part, base
    finally:
        await layer.stop()
        await sim.stop()


async def traffic(sim, layer, part, calls=(("press1", 4), ("press2", 2), ("abandon", 1))):
    n = 0
    for exten, count in calls:
        for _ in range(count):
            n += 1
            await originate(layer, exten, f"1390000{n:04d}")
    await until(lambda: sim.totals().get("offered", 0) >= n and sim.totals()["active"] == 0, 60, 0.05)
    await until(lambda: not part.engine.legs, 10)


async def test_http_endpoints_require_the_token_and_agree(centre, tmp_path, capsys):
    sim, layer, part, base = centre
    await traffic(sim, layer, part)
    auth = {"Authorization": "Bearer wall-token"}
    async with aiohttp.ClientSession() as http:
        for path in ("/wallboard", "/api/figures", "/api/reports?from=2026-01-01&to=2026-01-02", "/metrics"):
            async with http.get(base + path) as r:
                assert r.status == 401, path
        async with http.get(base + "/wallboard", headers=auth) as r:
            assert r.status == 200 and "15秒接通率" in await r.text()
        async with http.get(base + "/api/figures", headers=auth) as r:
            wall = await r.json()
        today = wall["centre"]["windows"]["today"]
        assert today["offered"] == sim.totals()["answered"] + sim.totals()["abandoned"] + sim.totals()["timed_out"]
        assert set(wall["queues"]) == {"public", "enterprise"}
        assert wall["definitions"]["denominator"] == "offered_minus_short_abandons"
        day = datetime.fromtimestamp(sim.clock.now(), ZoneInfo("Asia/Shanghai")).date().isoformat()
        async with http.get(base + f"/api/reports?from={day}&to={day}", headers=auth) as r:
            rep = await r.json()
        assert rep["total"]["offered"] == today["offered"]
        assert rep["total"]["answer_rate_15s"] == pytest.approx(today["answer_rate_15s"])
        assert {q["name"] for q in rep["queues"]} == {"public", "enterprise"}
        async with http.get(base + "/api/reports?from=yesterday&to=2026-01-01", headers=auth) as r:
            assert r.status == 400 and (await r.json())["field"] == "from"
        async with http.get(base + "/metrics", headers=auth) as r:
            metrics = {f.name: f for f in text_string_to_metric_families(await r.text())}   # as Prometheus reads it
        answered = wall["queues"]["public"]["windows"]["total"]["answered"]
        assert ({"queue": "public", "outcome": "answered"}, answered) in [
            (s.labels, s.value) for s in metrics["cti_queue_calls"].samples]
        assert metrics["cti_queue_calls_waiting"].type == "gauge"
    # the same report on the command line, from the database the layer wrote
    for fmt in ("json", "table", "csv"):
        out = await cti_report(tmp_path, capsys, "--from", day, "--to", day, "--format", fmt)
        if fmt == "json":
            assert json.loads(out)["total"]["offered"] == today["offered"]
        elif fmt == "table":
            assert "话务量" in out and "15秒接通率" in out and "最长通话时间" in out and "合计 total" in out
        else:
            assert out.splitlines()[0].startswith("name,offered,answered")


async def test_chromium_shows_the_live_figures_of_the_api(centre):
    sim, layer, part, base = centre
    await traffic(sim, layer, part)
    profile = Path(ARTIFACTS / "chromium-profile")
    shutil.rmtree(profile, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1920, "height": 1080})
        try:
            page = await browser.new_page()
            await page.goto(f"{base}/wallboard?token=wall-token")
            await page.wait_for_selector("#status.live", timeout=10000)
            await page.wait_for_selector('section[data-scope="centre"]', timeout=10000)
            # a call placed now reaches the open page by itself (live push, no reload)
            before = int(await page.inner_text('section[data-scope="centre"] [data-f="offered"]'))
            await traffic(sim, layer, part, (("press1", 1),))
            await page.wait_for_function(
                f'document.querySelector(\'section[data-scope="centre"] [data-f="offered"]\').textContent == "{before + 1}"',
                timeout=10000)
            await asyncio.sleep(0.3)  # let the last coalesced push land
            async with aiohttp.ClientSession() as http:
                async with http.get(base + "/api/figures", headers={"Authorization": "Bearer wall-token"}) as r:
                    wall = await r.json()
            scopes = {"centre": wall["centre"], **wall["queues"]}
            for scope, fig in scopes.items():
                tile = f'section[data-scope="{scope}"]'
                for field in FIELDS:
                    text = await page.inner_text(f'{tile} [data-f="{field}"]')
                    assert text == shown(fig["windows"]["today"][field], field), (scope, field)
                for state in ("logged_in", "available", "paused"):
                    assert await page.inner_text(f'{tile} [data-f="agents.{state}"]') == str(fig["agents"][state])
            # green when the 15 s rate meets the 95% threshold, and so on down to red
            rate = wall["centre"]["windows"]["today"]["answer_rate_15s"]
            colour = "green" if rate >= 0.95 else "yellow" if rate >= 0.9 else "orange" if rate >= 0.85 else "red"
            assert colour in await page.get_attribute('section[data-scope="centre"]', "class")
            assert "口径" in await page.inner_text("#defs")
            # the hotline strip: one chip per called hotline, its 15 s rate and offered calls as the API's
            for number, fig in wall["hotlines"].items():
                chip = f'[data-hotline="{number}"]'
                today = fig["windows"]["today"]
                assert await page.inner_text(f'{chip} [data-f="answer_rate_15s"]') == shown(today["answer_rate_15s"],
                                                                                            "answer_rate_15s")
                assert await page.inner_text(f'{chip} [data-f="offered"]') == str(today["offered"])
            # a department leg published by call control appears live in the department strip
            assert "暂无转接" in await page.inner_text("#departments")
            layer.bus.publish(TOPIC_DEPARTMENT_LEG, DepartmentLeg(
                "c1", "12315", "市场监管局", "threeway", False, sim.clock.now() - 5, 3.2, "handed_off"))
            await page.wait_for_selector('[data-department="12315"]', timeout=10000)
            chip = '[data-department="12315"]'
            assert await page.inner_text(f'{chip} [data-f="answer_rate_15s"]') == "100%"
            assert await page.inner_text(f'{chip} [data-f="average_answer_seconds"]') == "3.2s"
            assert "市场监管局" in await page.inner_text(chip)
            assert "c-green" in await page.get_attribute(chip, "class")
            # a test call (拨测) gets its own marked chip; the citizens' chip is unchanged
            assert await page.inner_text('#linkage [data-f="from_110"]') == "0"
            layer.bus.publish(TOPIC_TEST_DIAL, DepartmentLeg(
                "test-12315-1", "12315", "市场监管局", "test", False, sim.clock.now() - 5, None, "no_answer"))
            layer.bus.publish(TOPIC_LINKAGE, Handover(FROM_110, "1700000000.1", sim.clock.now(), "queued"))
            await page.wait_for_selector('[data-test-dial="12315"]', timeout=10000)
            test_chip = '[data-test-dial="12315"]'
            assert "拨测" in await page.inner_text(test_chip)
            assert await page.inner_text(f'{test_chip} [data-f="answer_rate_15s"]') == "0.0%"
            assert await page.inner_text(f'{chip} [data-f="offered"]') == "1"
            # the 110 linkage counts, compact in the department heading
            await page.wait_for_function(
                "document.querySelector('#linkage [data-f=\"from_110\"]').textContent === '1'", timeout=10000)
            assert "110转12345 1 · 12345转110 0" in await page.inner_text("#linkage")
            # the follow-up calls (回访) on the same line: one surveyed and satisfied, one not answered
            layer.bus.publish(TOPIC_FOLLOWUP, FollowupAttempt(7, "surveyed", 1, "done", "T7", Rating.SATISFIED, True))
            layer.bus.publish(TOPIC_FOLLOWUP, FollowupAttempt(8, "no_answer", 1, "pending", "T8"))
            await page.wait_for_function(
                "document.querySelector('#followups [data-f=\"placed\"]').textContent === '2'", timeout=10000)
            assert ("回访 follow-ups: 外呼 placed 2 · 完成 surveyed 1 · 满意/基本/不满意 rating 1/0/0 · 未接 no answer 1"
                    in await page.inner_text("#followups"))
            # 在线解答率 by line (话后小结): an 一企来 call answered online, a public one with no disposition in time
            assert "无小结 no dispositions yet" in await page.inner_text("#dispositions")
            layer.bus.publish(TOPIC_DISPOSITION, DispositionOutcome(
                "1700000000.2", "6001", "enterprise", "enterprise", "一企来", "recorded", "answered_online", "在线答复",
                True, True, sim.clock.now(), 25.0))
            layer.bus.publish(TOPIC_DISPOSITION, DispositionOutcome(
                "1700000000.3", "6001", "public", "public", "市民热线", "not_recorded"))
            await page.wait_for_function(
                "document.querySelector('#dispositions [data-f=\"not_recorded\"]').textContent === '1'", timeout=10000)
            assert ("一企来 在线答复 1 · 部门办理 0 · 在线解答率 100%"
                    in await page.inner_text('#dispositions [data-line="enterprise"]'))
            await page.screenshot(path=str(ARTIFACTS / "wallboard.png"))
            # the server drops the page's WebSocket: the page reconnects by itself
            for ws in list(part.sockets):
                await ws.close()
            await until(lambda: len(part.sockets) == 1, 15)
            await page.wait_for_selector("#status.live", timeout=10000)
        finally:
            await browser.close()
            shutil.rmtree(profile, ignore_errors=True)
    assert (ARTIFACTS / "wallboard.png").stat().st_size > 10_000


async def test_recent_calls_panel_plays_a_call_the_test_made(tmp_path):
    """最近通话: the answered call appears with its masked number, wait and talk; its play link opens the
    playback page, whose <audio> element loads the converted recording in Chromium."""
    rs = RecordingsSettings(capture_dir=tmp_path / "spool", store_dir=tmp_path / "store",
                            catalogue=tmp_path / "store" / "catalogue.db", settle_seconds=0)
    sim = Simulator(SimConfig(ami_port=0, agi_port=1, speed=20, seed=2, recording_dir=str(rs.capture_dir), lockstep=True,
                              default_agent=AgentTiming(ring_delay=1.0, talk_time=12.0)))
    await sim.start()
    layer = Layer(monitor_settings(tmp_path, sim.ami_port),
                  parts=[MonitorPart, lambda lay: RecordingsPart(lay, settings=rs)])
    part = layer.parts[0]
    ready = []
    layer.bus.subscribe(TOPIC_READY, lambda _t, m: ready.append(m))
    await layer.start()
    sim.config.agi_port = layer.agi.port
    base = f"http://127.0.0.1:{layer.http_port}"
    profile = Path(ARTIFACTS / "chromium-profile-recent")
    shutil.rmtree(profile, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    try:
        await layer.ami.wait_connected(5)
        async with async_playwright() as pw:
            browser = await pw.chromium.launch_persistent_context(
                str(profile), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
                viewport={"width": 1920, "height": 1080})
            try:
                page = await browser.new_page()
                await page.goto(layer.wall_address())      # the address `cti run` prints: a viewer credential
                await page.wait_for_selector("#status.live", timeout=10000)
                assert page.url == f"{base}/wallboard"     # the credential left the address bar (a cookie now)
                assert "今日暂无" in await page.inner_text("#recent")
                await originate(layer, "abandon", "13912340000")
                for n in range(1, 11):                                     # a full panel: ten answered calls
                    await originate(layer, "press1", f"139123400{n:02d}")
                await until(lambda: len(ready) == 10 and sim.totals()["active"] == 0, 150, 0.05,
                            "ten recordings ready and no call left", lambda: (
                                len(ready), sim.totals(), sorted(f.name for f in rs.capture_dir.glob("*"))))
                rec = next(r for r in ready if r.uniqueid == part.recent[0].uniqueid)   # the first to finish
                row = f'#recent tr[data-uniqueid="{rec.uniqueid}"]'
                await page.wait_for_selector(f"{row} a.play", timeout=10000)
                async with aiohttp.ClientSession() as http:
                    async with http.get(base + "/api/figures", headers={"Authorization": "Bearer wall-token"}) as r:
                        recent = (await r.json())["recent_calls"]
                assert len(recent) == 10 and all(c["recording"] for c in recent)   # the abandoned call is not listed
                assert [c["ended_at"] for c in recent] == sorted((c["ended_at"] for c in recent), reverse=True)
                call = next(c for c in recent if c["uniqueid"] == rec.uniqueid)
                number = next(f"139123400{n:02d}" for n in range(1, 11) if mask_number(f"139123400{n:02d}") == call["caller"])
                assert (call["caller"], call["recording"]) == (mask_number(number), rec.uniqueid)
                assert abs(call["talk"] - rec.duration) <= 0.1           # the monitor's talk time is the recording's
                cells = await page.eval_on_selector_all(f"{row} td", "tds => tds.map(td => td.textContent)")
                assert await page.locator("#recent tr[data-uniqueid]").count() == 10
                assert cells == [call["time"], "群众", call["caller"], f'{call["wait"]:.1f}s', f'{call["talk"]:.1f}s',
                                 "▶ 播放"]
                assert "139123400" not in await page.content()          # only masked numbers reach the wall
                await page.screenshot(path=str(ARTIFACTS / "wallboard-recent.png"), full_page=True)
                # readable at 1920x1080: nothing scrolls, the panel is on screen, no cell is cut
                assert await page.evaluate("document.documentElement.scrollHeight") <= 1080
                box = await page.locator("#recent").bounding_box()
                assert box["y"] + box["height"] <= 1080 and box["x"] + box["width"] <= 1920
                assert await page.eval_on_selector_all(
                    "#recent td, #recent th", "els => els.every(e => e.scrollWidth <= e.clientWidth)")
                href = await page.get_attribute(f"{row} a.play", "href")
                assert "token" not in href and layer.wall_token not in href and "sig=" in href
                # the play link opens the playback page; Chromium loads the recording through its signed link
                async with browser.expect_page() as opened:
                    await page.click(f"{row} a.play")
                player = await opened.value
                await player.wait_for_selector("audio#player", timeout=10000)
                await player.wait_for_function("document.getElementById('player').readyState >= 1", timeout=10000)
                duration = await player.evaluate("document.getElementById('player').duration")
                assert abs(duration - rec.duration) <= 0.1
                assert "通话录音" in await player.title()
            finally:
                await browser.close()
                shutil.rmtree(profile, ignore_errors=True)
    finally:
        await layer.stop()
        await sim.stop()
