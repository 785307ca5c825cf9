"""The wall's "today" and `cti report` put a disposition on the same day: the day its call ended, in the
centre's time zone (issue 21, README "The online answer rate and requests by line").

Given a call that ended before the centre's midnight and was disposed of after it (a long wrap-up window),
and a call that ended today, when the layer's wall counts them live and again after a restart, then its
"today" holds only today's call, as `cti report` for today does, and the report for yesterday holds the other.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from monitor_support import cti_report, monitor_settings

from cti.app import Layer
from cti.calls.messages import CallEnded
from cti.demo import free_port
from cti.dispositions.part import DispositionsPart
from queue_monitor.part import MonitorPart

TZ = ZoneInfo("Asia/Shanghai")


def settings(tmp_path, **dispositions):
    """A layer on loopback (wall-token is its admin) with its tickets database in tmp_path/cti.db."""
    s = monitor_settings(tmp_path, free_port(), instance="city")
    return s.model_copy(update={
        "tickets": s.tickets.model_copy(update={"database_url": f"sqlite+aiosqlite:///{tmp_path / 'cti.db'}"}),
        "dispositions": s.dispositions.model_copy(update=dispositions)})


def total_line(table: str) -> list[str]:
    return next(line for line in table.splitlines() if line.startswith("总计")).split()[2:5]


async def test_a_disposition_recorded_after_midnight_counts_on_its_calls_day_on_the_wall_and_in_the_report(
        tmp_path, capsys):
    s = settings(tmp_path, wrapup_window=2 * 86400)
    now = datetime.now(TZ)
    midnight = datetime.combine(now.date(), datetime.min.time(), TZ).timestamp()

    def today_figures(layer) -> dict:
        return layer.monitor.wall()["dispositions"]["windows"]["today"]["total"]

    layer = Layer(s, parts=[MonitorPart, DispositionsPart])
    await layer.start()
    try:
        service = next(p for p in layer.parts if isinstance(p, DispositionsPart)).service
        for call_id, ended in (("1764480000.1", midnight - 60), ("1764480000.2", now.timestamp())):
            await service.call_ended(CallEnded("6001", call_id, "13800000001", "public", "12345", (), ended, ended))
            await service.record(call_id, "answered_online", "consultation", "", None, None)
        live = today_figures(layer)
    finally:
        await layer.stop()
    layer = Layer(s, parts=[MonitorPart, DispositionsPart])
    await layer.start()
    try:
        restarted = today_figures(layer)
    finally:
        await layer.stop()

    day = now.date()
    today = total_line(await cti_report(tmp_path, capsys, "--from", day.isoformat(), "--to", day.isoformat()))
    yesterday = (day - timedelta(days=1)).isoformat()
    before = total_line(await cti_report(tmp_path, capsys, "--from", yesterday, "--to", yesterday))
    assert (today, before) == (["1", "1", "0"], ["1", "1", "0"]), (today, before)
    assert (restarted["requests"], restarted["online"]) == (1, 1), restarted
    assert (live["requests"], live["online"]) == (1, 1), f"live today {live}, after a restart {restarted}"


async def test_a_call_id_that_is_no_call_id_is_a_400_naming_it_and_an_unknown_call_a_json_404(tmp_path):
    """Bad input gets a 4xx naming the field (house rule): a path id with a quote once gave a 404 whose
    'application/json' body was no JSON (the id pasted into it)."""
    import aiohttp

    layer = Layer(settings(tmp_path), parts=[DispositionsPart])
    await layer.start()
    try:
        async with aiohttp.ClientSession(f"http://127.0.0.1:{layer.http_port}",
                                         headers={"Authorization": "Bearer wall-token"}) as http:
            seen = []
            for path in ('/api/calls/x"y\\z/disposition', "/api/calls/1764480000.9/disposition"):
                async with http.get(path) as r:
                    seen.append((r.status, await r.json(content_type=None)))
    finally:
        await layer.stop()
    assert [(status, body.get("field")) for status, body in seen] == [(400, "call_id"), (404, None)], seen
    assert seen[1][1]["error"] == "unknown call", seen


async def test_what_the_agent_reads_when_a_disposition_or_knowledge_item_is_refused_is_chinese(tmp_path):
    """The toolbar shows a refusal's detail as it is (toolbar.js _api): late (未小结), twice, unknown call, a
    knowledge item with no specialist answer; agents read Chinese (house rule), the English stays after it."""
    import time

    import aiohttp

    layer = Layer(settings(tmp_path), parts=[DispositionsPart])
    await layer.start()
    good = {"code": "answered_online", "request_type": "consultation"}
    try:
        service = layer.parts[0].service
        long_ago = time.time() - service.settings.wrapup_window - 60
        for call_id, ended in (("1764480000.1", long_ago), ("1764480000.2", time.time())):
            await service.call_ended(CallEnded("6001", call_id, "13800000001", "public", "12345", (), ended, ended))
        async with aiohttp.ClientSession(f"http://127.0.0.1:{layer.http_port}",
                                         headers={"Authorization": "Bearer wall-token"}) as http:
            seen = []
            for method, path, body in (("POST", "/api/calls/1764480000.1/disposition", good),
                                       ("POST", "/api/calls/1764480000.2/disposition", good),
                                       ("POST", "/api/calls/1764480000.2/disposition", good),
                                       ("POST", "/api/calls/1764480000.2/knowledge", {"question": "q", "answer": "a"}),
                                       ("GET", "/api/calls/1764480000.9/disposition", None)):
                async with http.request(method, path, json=body) as r:
                    seen.append((r.status, (await r.json()).get("detail", "")))
    finally:
        await layer.stop()
    assert [status for status, _ in seen] == [409, 200, 409, 409, 404], seen
    refusals = [detail for status, detail in seen if status != 200]
    assert all("\u4e00" <= detail[:1] <= "\u9fff" for detail in refusals), refusals
