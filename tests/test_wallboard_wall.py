"""A wall for a wall (issue 18): the wallboard in headless Chromium at 1920x1080 and 1366x768, on a machine
in UTC, with a full day of four-digit counts, the shipped config's longest queue names and the directory's
longest department names: nothing scrolls, nothing is cut or ellipsized, the rates are large enough to read
from 5 m, every text at least 2% of the screen's height, the clock and times in the centre's time zone,
no placeholder, labels in Chinese with English, the day's sparkline filled. Screenshots in ARTIFACTS."""

from __future__ import annotations

import shutil
import time

import pytest
from monitor_support import monitor_settings, until
from playwright.async_api import async_playwright
from test_wallboard_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS
from wall_support import minutes_apart, publish_day, publish_lines, shanghai_clock

from cti.app import Layer
from cti.demo import free_port
from queue_monitor.part import MonitorPart

SIZES = [(1920, 1080), (1366, 768)]
MIN_TEXT = 0.02        # every text: at least 2% of the screen's height (the page's stated proportions)
MIN_TILE_RATE = 0.062  # a queue's 15 s rate: 6.2% (42 mm on a 55-inch screen, legible at 5 m)
MIN_HEADLINE = 0.10    # the centre's 15 s rate

# Every element that shows text, with what the test needs to judge it (geometry, font, overflow).
MEASURE = """() => {
  const out = [];
  for (const e of document.body.querySelectorAll('*')) {
    if (['SCRIPT', 'STYLE'].includes(e.tagName) || e.closest('svg') && e.tagName !== 'text') continue;
    const s = getComputedStyle(e);
    if (s.display === 'none' || s.visibility === 'hidden') continue;
    const own = [...e.childNodes].filter(n => n.nodeType === 3).map(n => n.textContent).join('').trim();
    const r = e.getBoundingClientRect();
    out.push({tag: e.tagName, id: e.id, cls: typeof e.className === 'string' ? e.className : '', own,
              text: (e.innerText || e.textContent || '').slice(0, 80), font: parseFloat(s.fontSize),
              ellipsis: s.textOverflow === 'ellipsis', sw: e.scrollWidth, cw: e.clientWidth, sh: e.scrollHeight,
              ch: e.clientHeight, overflow: s.overflowX + '/' + s.overflowY,
              left: r.left, top: r.top, right: r.right, bottom: r.bottom, w: r.width, h: r.height});
  }
  return out;
}"""


@pytest.fixture
async def wall(tmp_path):
    layer = Layer(monitor_settings(tmp_path, free_port(), timezone="Asia/Shanghai"), parts=[MonitorPart])
    await layer.start()
    part = layer.parts[0]
    day = publish_day(layer.bus)
    publish_lines(layer.bus, day["now"])
    await until(lambda: part.engine.snapshot()["centre"]["windows"]["today"]["offered"] > 7000, 10)
    try:
        yield layer, part
    finally:
        await layer.stop()


@pytest.mark.parametrize("width,height", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
async def test_the_wall_fits_and_reads_from_across_the_room(wall, width, height):
    layer, part = wall
    profile = ARTIFACTS / f"chromium-profile-{width}"
    shutil.rmtree(profile, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS, timezone_id="UTC",
            viewport={"width": width, "height": height})
        try:
            page = await browser.new_page()
            await page.goto(layer.wall_address())
            await page.wait_for_selector("#status.live", timeout=10000)
            await page.wait_for_function("(window.__wallboard || {}).recent_calls && "
                                         "document.querySelectorAll('#recent tr[data-uniqueid]').length === 10",
                                         timeout=10000)
            await page.wait_for_function("document.getElementById('clock').textContent.length >= 5", timeout=5000)
            await page.screenshot(path=str(ARTIFACTS / f"wallboard-{width}x{height}.png"))
            assert await page.evaluate("new Date().getTimezoneOffset()") == 0        # the machine is in UTC
            els = await page.evaluate(MEASURE)
            api = await page.evaluate("window.__wallboard")
            clock = (await page.inner_text("#clock")).strip()
            bars = await page.evaluate("document.querySelectorAll('svg.spark .bar').length")
            text = await page.inner_text("body")
        finally:
            await browser.close()
            shutil.rmtree(profile, ignore_errors=True)
    where = f"{width}x{height}"
    # nothing scrolls, nothing leaves the screen
    page_box = next(e for e in els if e["tag"] == "MAIN" or e["id"] == "wall")
    assert all(e["right"] <= width + 0.5 and e["bottom"] <= height + 0.5 for e in els if e["w"] and e["h"]), (
        where, [e for e in els if e["w"] and e["h"] and (e["right"] > width + 0.5 or e["bottom"] > height + 0.5)][:5])
    assert page_box["bottom"] <= height
    # nothing is cut or ellipsized: no element's content is wider or taller than its box
    # (a line box a few pixels shorter than its glyphs, line-height 1 on big digits, is not a cut: a quarter
    # of the font size is allowed vertically where nothing clips)
    def cut(e) -> bool:
        clips = e["overflow"] != "visible/visible"
        slack = 1 if clips else max(1, e["font"] / 4)
        return e["cw"] and (e["sw"] > e["cw"] + 1 or e["sh"] > e["ch"] + slack)
    bad = [(e["tag"], e["id"], e["cls"], e["text"][:30], e["sw"], e["cw"], e["sh"], e["ch"]) for e in els if cut(e)]
    assert bad == [], (where, bad)
    assert [e for e in els if e["ellipsis"]] == [] and "…" not in text, where
    # sizes in proportion to the screen: every text >= 2% of its height, the rates much larger
    small = [e for e in els if e["own"] and e["font"] < MIN_TEXT * height - 0.5]
    assert small == [], (where, [(e["own"], e["font"]) for e in small][:8])
    headline = next(e for e in els if e["id"] == "headline-rate")
    assert headline["font"] >= MIN_HEADLINE * height, (where, headline)
    tiles = [e for e in els if "tile-rate" in e["cls"].split()]
    assert len(tiles) == 4 and all(t["font"] >= MIN_TILE_RATE * height for t in tiles), (where, tiles)
    # the clock shows the centre's time (Asia/Shanghai, UTC+8) on this UTC machine
    assert minutes_apart(clock[:5], shanghai_clock(time.time())) <= 1, (where, clock)
    # four-digit counts, no placeholder, no English-only label
    assert "4321" in text.replace(",", "") or "4,321" in text, where
    assert "N.0" not in text and "<= N" not in text and "Citizen" not in text, where
    assert "小休 break" in text and "用餐 meal" in text, where
    labels = [e["own"] for e in els if "lbl" in e["cls"].split() and e["own"]]
    bilingual = [t for t in labels if any("\u4e00" <= c <= "\u9fff" for c in t) and any(c.isascii() and c.isalpha() for c in t)]
    assert len(labels) >= 30 and bilingual == labels, (where, sorted(set(labels) - set(bilingual)))
    # the day's sparkline: one bar per 15-minute slot with calls, from the morning to now
    slots = [s for s in api["centre"]["sparkline"] if s["answer_rate_15s"] is not None]
    assert len(slots) >= 80 and bars == len(slots), (where, bars, len(slots))
