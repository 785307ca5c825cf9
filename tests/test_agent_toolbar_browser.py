"""The agent toolbar (坐席工具条, issue 19) in a real headless Chromium against the PBX simulator.

Given a 12345 centre (simulator, layer with IVR flows, tickets delivered to a webhook receiver) on a
working Wednesday morning, and three browser pages: the reference page /agent for agent 6101
(enterprise seat) and for agent 6001 (public seat), and a ticket system's page on another origin that
embeds <cti-agent-toolbar> and signs agent 6002 in through the element's JS API.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from contextlib import asynccontextmanager
from pathlib import Path
from zoneinfo import ZoneInfo

from aiohttp import web
from calls_support import settings_for, until
from playwright.async_api import async_playwright
from standardwebhooks.webhooks import Webhook
from tickets_support import Receiver, free_port, make_secret

from cti.app import Layer
from cti.auth import hash_pin
from cti.calls.part import CallsPart
from cti.dispositions.part import DispositionsPart
from cti.simulator import SimConfig, Simulator
from cti.simulator.config import DepartmentTiming
from cti.tickets.part import TicketsPart
from cti.toolbar.part import ToolbarPart
from ivr_flows.part import FlowsPart

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
ARTIFACTS = Path(os.environ.get("CTI_TEST_ARTIFACTS", Path(__file__).resolve().parents[1] / "var" / "test-artifacts"))
TZ = ZoneInfo("Asia/Shanghai")
TEN_AM = dt.datetime(2026, 3, 4, 10, 0, tzinfo=TZ)       # a working Wednesday: 一企来 and departments open
PINS = {"6001": "1111", "6002": "2222", "6101": "6101"}
SECRET = make_secret(7)
SHADOW = "cti-agent-toolbar"
LAYER_BASE = web.AppKey("layer_base", str)

# Every element of the page and of the toolbar's shadow root whose content is wider than its box
# (cut or spilling), or that sticks out of the 1366 px viewport; inline boxes have no width of their own.
OVERFLOW_JS = """() => {
  const out = [];
  const host = document.querySelector('cti-agent-toolbar');
  const all = [...document.querySelectorAll('*'), ...host.shadowRoot.querySelectorAll('*')];
  for (const e of all) {
    if (e.closest && e.closest('[hidden]')) continue;
    const style = getComputedStyle(e);
    if (style.display === 'inline' || style.display === 'none' || ['STYLE', 'SCRIPT', 'HEAD', 'META', 'TITLE', 'LINK'].includes(e.tagName)) continue;
    const r = e.getBoundingClientRect();
    if (e.scrollWidth > e.clientWidth + 1 || r.right > window.innerWidth + 0.5)
      out.push(`${e.tagName}#${e.id}.${e.className} scroll ${e.scrollWidth} client ${e.clientWidth} right ${r.right}`);
  }
  if (document.documentElement.scrollWidth > window.innerWidth) out.push('page scrolls sideways');
  return out;
}"""


@asynccontextmanager
async def centre(tmp_path: Path, receiver: Receiver, host_origin: str):
    # speed 10: the simulator's agent leaves a three-way call by itself about 118 simulated seconds in
    # (whatever its talk time), which at speed 40 is under 3 s: too short for a page to act on
    sim = Simulator(SimConfig(ami_port=0, agi_port=1, speed=10, seed=1))
    await sim.start()
    for agent in PINS:
        sim.pbx.set_agent(agent, 1, 3600)                 # agents answer after 1 s and stay on the line
    sim.config.default_department = DepartmentTiming(answer_delay=3, talk_time=3600)   # departments answer
    s = settings_for(tmp_path, sim.ami_port)
    s = s.model_copy(update={
        "http": s.http.model_copy(update={"agent_pins": {a: [hash_pin(p)] for a, p in PINS.items()}}),
        "calls": s.calls.model_copy(update={"toolbar_origins": [host_origin]}),
        "tickets": s.tickets.model_copy(update={
            "database_url": f"sqlite+aiosqlite:///{tmp_path / 'cti.db'}", "endpoint_url": receiver.url,
            "secrets": [SECRET], "poll_interval": 0.05})})
    layer = Layer(s, parts=[TicketsPart, FlowsPart, CallsPart, ToolbarPart, DispositionsPart])
    layer.parts[1].engine.clock = TEN_AM.timestamp        # key 2 leads to 一企来 in working hours only
    layer.parts[2].control.clock = lambda: TEN_AM
    await layer.start()
    sim.config.agi_port = layer.agi.port
    try:
        await layer.ami.wait_connected(5)
        yield sim, layer
    finally:
        await layer.stop()
        await sim.stop()


async def citizen(layer, number: str, script: str) -> str:
    control = layer.parts[2].control
    known = set(control.tracker.calls)       # the caller's earlier call may still be up (handed off)
    await layer.ami.action({"Action": "Originate", "Channel": "Local/12345@from-pstn", "Context": "caller",
                            "Exten": script, "Priority": 1, "CallerID": f'"市民" <{number}>', "Timeout": 30000})
    mine = lambda: [i for i, c in control.tracker.calls.items() if c.caller == number and i not in known]  # noqa: E731
    await until(lambda: mine(), 15, what=f"{number}'s call reaching an agent")
    return mine()[0]


async def sign_in(page, base: str, agent: str, queues: str) -> None:
    await page.goto(f"{base}/agent")
    await page.fill(f"{SHADOW} #agent", agent)
    await page.fill(f"{SHADOW} #pin", PINS[agent])
    await page.fill(f"{SHADOW} #queues", queues)
    await page.click(f"{SHADOW} #signin-btn")
    await page.wait_for_selector(f"{SHADOW} #conn:text('已连接')", timeout=10000)


async def host_page(request: web.Request) -> web.Response:
    """A ticket system's page on its own origin: embeds the element, records its events."""
    layer_base = request.app[LAYER_BASE]
    return web.Response(content_type="text/html", text=f"""<!doctype html><meta charset="utf-8">
<h1>工单系统</h1>
<script type="module" src="{layer_base}/agent/toolbar.js"></script>
<cti-agent-toolbar id="tb"></cti-agent-toolbar>
<script>
  window.seen = [];
  for (const name of ['cti-screen-pop', 'cti-call-ended', 'cti-transfer-state', 'cti-ticket-created'])
    document.addEventListener(name, (e) => window.seen.push({{type: e.type, detail: e.detail}}));
</script>""")


async def test_an_agent_works_a_call_from_the_reference_page_and_a_ticket_system_embeds_the_toolbar(tmp_path):
    receiver = await Receiver().start()
    host_port = free_port()
    host_origin = f"http://127.0.0.1:{host_port}"
    profile = ARTIFACTS / "chromium-profile-toolbar"
    shutil.rmtree(profile, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    host_runner = None
    try:
        async with centre(tmp_path, receiver, host_origin) as (sim, layer), async_playwright() as pw:
            base = f"http://127.0.0.1:{layer.http_port}"
            host = web.Application()
            host[LAYER_BASE] = base
            host.router.add_get("/tickets", host_page)
            host_runner = web.AppRunner(host)
            await host_runner.setup()
            await web.TCPSite(host_runner, "127.0.0.1", host_port).start()
            browser = await pw.chromium.launch_persistent_context(
                str(profile), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
                viewport={"width": 1366, "height": 768})
            try:
                await _scenario(sim, layer, browser, base, host_origin, receiver)
            except BaseException:
                for i, p in enumerate(browser.pages):        # what each page showed, for the CI log
                    await p.screenshot(path=str(ARTIFACTS / f"agent-toolbar-failed-{i}.png"))
                raise
            finally:
                await browser.close()
    finally:
        if host_runner is not None:
            await host_runner.cleanup()
        await receiver.stop()


async def _scenario(sim, layer, browser, base: str, host_origin: str, receiver: Receiver) -> None:
    control = layer.parts[2].control
    enterprise, public = await browser.new_page(), await browser.new_page()
    problems = []
    for p in (enterprise, public):
        p.on("pageerror", lambda exc: problems.append(str(exc)))
    # -- sign in through the reference page; ready and pause with a configured reason ----------------
    await sign_in(enterprise, base, "6101", "enterprise")
    await sign_in(public, base, "6001", "public")
    await enterprise.click(f"{SHADOW} #pause")                      # 示忙 with the first reason, then 就绪
    await enterprise.wait_for_selector(f"{SHADOW} #state:text('示忙')", timeout=10000)
    await enterprise.click(f"{SHADOW} #ready")
    await enterprise.wait_for_selector(f"{SHADOW} #state:text('就绪')", timeout=10000)
    reasons = await public.eval_on_selector_all(f"{SHADOW} #reason option", "os => os.map(o => o.value)")
    assert reasons == layer.settings.calls.pause_reasons
    await public.select_option(f"{SHADOW} #reason", "培训")
    await public.click(f"{SHADOW} #pause")                 # 6001 pauses: the public call goes to 6002
    await public.wait_for_selector(f"{SHADOW} #state:text('示忙')", timeout=10000)
    assert "培训" in await public.inner_text(f"{SHADOW} #state-detail")

    # -- a ticket system's page embeds the element; agent 6002 signs in through its JS API -------------
    host = await browser.new_page()
    host.on("pageerror", lambda exc: problems.append(str(exc)))
    await host.goto(f"{host_origin}/tickets")
    await host.wait_for_function("customElements.get('cti-agent-toolbar') !== undefined", timeout=10000)
    await host.evaluate("([a, p]) => document.getElementById('tb').signIn(a, p, ['public'])", ["6002", PINS["6002"]])
    await host.evaluate("() => document.getElementById('tb').setReady()")
    await host.wait_for_function("document.getElementById('tb').connected", timeout=10000)

    # -- a citizen presses 2: the enterprise agent's pop shows 企业 and the IVR path ---------------------
    call_id = await citizen(layer, "13912345678", "press2")
    await enterprise.wait_for_selector(f"{SHADOW} #tags .tag:text('企业')", timeout=10000)
    assert await enterprise.inner_text(f"{SHADOW} #caller") == "13912345678"      # in full for the agent
    path = await enterprise.inner_text(f"{SHADOW} #ivr-path")
    assert "key 2" in path, path
    assert "12345" in await enterprise.inner_text(f"{SHADOW} #hotline")
    assert await enterprise.inner_text(f"{SHADOW} #call-status") == "通话中"

    # -- a policy specialist (政策专员, issue 21): the line's fields, the offer for 税务, one rung, cancelled --
    await enterprise.wait_for_selector(f"{SHADOW} #sp-field option[value='税务']", state="attached", timeout=10000)
    assert await enterprise.inner_text(f"{SHADOW} #sp-line") == "一企来"
    await enterprise.select_option(f"{SHADOW} #sp-field", "税务")
    specialist = f"{SHADOW} #sp-list .dir[data-specialist='tax-02']"
    await enterprise.click(specialist, timeout=10000)
    await enterprise.wait_for_selector(f"{SHADOW} #transfer-log li[data-state='threeway']", timeout=15000)
    assert "专员 李强（地税局）" in await enterprise.inner_text(f"{SHADOW} #transfer-log")
    assert "12366" in await enterprise.inner_text(f"{SHADOW} #sp-last")            # the hotline last
    await enterprise.click(f"{SHADOW} #cancel")
    await enterprise.wait_for_selector(f"{SHADOW} #transfer-log li[data-state='cancelled']", timeout=15000)

    # -- three-way call with 12315 (answers), then the agent drops off: each state on the page -----------
    await enterprise.fill(f"{SHADOW} #dir-search", "消费者")
    row = f"{SHADOW} #dirs .dir[data-number='12315']"
    assert "工作时间" in await enterprise.inner_text(row)
    await enterprise.click(row)
    await enterprise.wait_for_selector(f"{SHADOW} #transfer-log li[data-state='threeway']", timeout=15000)
    await enterprise.wait_for_selector(f"{SHADOW} #dropoff:not([disabled])", timeout=5000)
    # layout at 1366x768 with a call, its IVR path, the picker and the transfer log on screen
    assert await enterprise.evaluate(OVERFLOW_JS) == []
    await enterprise.screenshot(path=str(ARTIFACTS / "agent-toolbar-1366x768.png"))
    await enterprise.click(f"{SHADOW} #dropoff")
    await enterprise.wait_for_selector(f"{SHADOW} #transfer-log li[data-state='handed_off']", timeout=15000)
    log = await enterprise.eval_on_selector_all(f"{SHADOW} #transfer-log li", "ls => ls.map(l => l.dataset.state)")
    assert [s for s in ("ringing", "answered", "threeway", "handed_off") if s in log] == \
        ["ringing", "answered", "threeway", "handed_off"], log
    texts = await enterprise.inner_text(f"{SHADOW} #transfer-log")
    for chinese in ("部门振铃中", "部门已接听", "三方通话中", "坐席已退出"):
        assert chinese in texts, texts
    await enterprise.wait_for_selector(f"{SHADOW} #call-status:text('已结束')", timeout=5000)

    # -- a ticket made from the page reaches the ticket backend, signed ------------------------------
    await enterprise.select_option(f"{SHADOW} #request-type", "consultation")
    await enterprise.fill(f"{SHADOW} #summary", "企业咨询稳岗补贴申请条件，已三方转12315")
    await enterprise.click(f"{SHADOW} #ticket-btn")
    await enterprise.wait_for_selector(f"{SHADOW} #ticket-id", timeout=10000)
    ticket_id = (await enterprise.inner_text(f"{SHADOW} #ticket-id")).split("：")[1]
    deadline = await enterprise.inner_text(f"{SHADOW} #ticket-deadline")
    answer_by = await enterprise.get_attribute(f"{SHADOW} #ticket-deadline", "data-answer-by")
    shanghai = dt.datetime.fromisoformat(answer_by.replace("Z", "+00:00")).astimezone(TZ)
    assert f"办理时限 {shanghai.year}/{shanghai.month}/{shanghai.day} {shanghai:%H:%M}" in deadline, deadline

    def delivered():
        for headers, body in receiver.requests:
            data = json.loads(body)
            if data.get("data", {}).get("ticket_id", data.get("data", {}).get("id")) == ticket_id:
                return headers, body
        return None
    await until(delivered, 15, what="ticket.created at the receiver",
                seen=lambda: [json.loads(b).get("type") for _, b in receiver.requests])
    headers, body = delivered()
    msg = Webhook(SECRET).verify(body, headers)                     # raises on a bad signature
    data = msg["data"]
    assert (msg["type"], data["caller_number"], data["agent"], data["request_type"]) == (
        "ticket.created", "13912345678", "6101", "consultation")
    assert data["call_ids"] == [call_id] and "企业" in data["tags"]

    # -- the specialist's answer as a knowledge item (一问一答), then 话后小结 with the ticket (issue 21) -----
    assert "李强" in await enterprise.inner_text(f"{SHADOW} #kb-from")       # tax-02 answered before the cancel
    await enterprise.fill(f"{SHADOW} #kb-question", "出口退税需要哪些材料？")
    await enterprise.fill(f"{SHADOW} #kb-answer", "报关单、增值税专用发票和出口退税申报表。")
    await enterprise.click(f"{SHADOW} #kb-btn")
    await enterprise.wait_for_selector(f"{SHADOW} #kb-result:text('已记录')", timeout=10000)
    await enterprise.select_option(f"{SHADOW} #disposition", "ticket")
    await enterprise.click(f"{SHADOW} #wrapup-btn")
    await enterprise.wait_for_selector(f"{SHADOW} #wrapup-result:text('已提交：转办工单')", timeout=10000)

    def sent(kind):
        return [m["data"] for m in (Webhook(SECRET).verify(b, h) for h, b in receiver.requests) if m["type"] == kind]
    await until(lambda: sent("call.disposition") and sent("knowledge.item"), 15,
                what="call.disposition and knowledge.item at the receiver",
                seen=lambda: [json.loads(b).get("type") for _, b in receiver.requests])
    (disposition,), (item,) = sent("call.disposition"), sent("knowledge.item")
    assert (disposition["call_id"], disposition["disposition"]["name"], disposition["tickets"]) == \
        (call_id, "转办工单", [ticket_id]), disposition
    assert (disposition["request_type"], disposition["summary"]) == ("consultation", "企业咨询稳岗补贴申请条件，已三方转12315")
    assert (item["specialist"]["id"], item["field"], item["question"]) == ("tax-02", "税务", "出口退税需要哪些材料？")

    # -- the same citizen calls again on key 1: the ticket system's page gets the pop with the ticket --
    # -- in the caller's history; 6001 (paused) never saw any call --------------------------------------
    # the layer drops the host page's WebSocket: the element reconnects by itself
    for ws in list(layer.parts[2].hub.sockets["6002"]):
        await ws.close()
    await host.wait_for_function("!document.getElementById('tb').connected", timeout=5000)
    await host.wait_for_function("document.getElementById('tb').connected", timeout=15000)
    public_call = await citizen(layer, "13912345678", "press1")
    assert control.tracker.get(public_call).agent == "6002"
    row = f"{SHADOW} #history tr[data-ticket='{ticket_id}']"
    await host.wait_for_selector(row, timeout=10000)
    assert [await host.inner_text(f"{row} td:nth-child({i})") for i in (1, 2)] == ["咨询", "待签收"]
    await host.wait_for_function("window.seen.some(e => e.type === 'cti-screen-pop')", timeout=10000)
    pop = await host.evaluate("window.seen.find(e => e.type === 'cti-screen-pop').detail")
    assert (pop["call_id"], pop["agent"], pop["caller"]) == (public_call, "6002", "13912345678")
    await host.evaluate("() => document.getElementById('tb').hangUp()")
    await host.wait_for_function("window.seen.some(e => e.type === 'cti-call-ended')", timeout=10000)

    assert await public.is_visible(f"{SHADOW} #no-call")
    assert not await public.is_visible(f"{SHADOW} #call")
    shown = await public.inner_text(f"{SHADOW} #desk")
    assert "13912345678" not in shown and call_id not in shown and public_call not in shown
    assert await public.evaluate("document.querySelector('cti-agent-toolbar').call") is None
    assert problems == []
