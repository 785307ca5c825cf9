"""/metrics as Prometheus reads it (issue 20): the body parsed with prometheus_client's own parser holds the
same figures as /api/figures, for a day of calls in every queue, the centre, department legs, test dials,
110 hand-overs and follow-ups; counters keep their full value (a day's talk seconds run to seven digits)."""

from __future__ import annotations

import aiohttp
import pytest
from monitor_support import monitor_settings, until
from prometheus_client.parser import text_string_to_metric_families
from wall_support import publish_day, publish_lines

from cti.app import Layer
from cti.calls.stats import TOPIC_DEPARTMENT_LEG, DepartmentLeg
from cti.demo import free_port
from queue_monitor.part import MonitorPart

AUTH = {"Authorization": "Bearer wall-token"}
OUTCOME = {"answered": "answered", "abandoned": "abandoned", "timeout": "timed_out"}
FAMILIES = {
    "cti_queue_calls_waiting": "gauge", "cti_queue_longest_wait_seconds": "gauge", "cti_queue_calls_talking": "gauge",
    "cti_queue_agents": "gauge", "cti_queue_calls": "counter", "cti_queue_answered_within": "counter",
    "cti_queue_short_abandoned": "counter", "cti_queue_wait_seconds": "counter", "cti_queue_talk_seconds": "counter",
    "cti_queue_answer_rate": "gauge", "cti_linkage_calls": "gauge", "cti_followup_calls": "gauge",
    "cti_line_requests": "gauge", "cti_line_online_answer_rate": "gauge", "cti_line_not_recorded": "gauge",
    "cti_line_invalid": "gauge", "cti_queue_online_answer_rate": "gauge",
    **{f"{p}_{f}": "gauge" for p in ("cti_department", "cti_test_dial", "cti_specialist")
       for f in ("offered", "answered_15s", "answer_rate", "not_answered")},
}


def figure(wall: dict, name: str, lab: dict):
    """The /api/figures value a /metrics sample stands for (written from the metric's help, not its code)."""
    if name.startswith(("cti_department_", "cti_test_dial_", "cti_specialist_")):
        key = "departments" if name.startswith("cti_department_") else \
            "test_dials" if name.startswith("cti_test_dial_") else "specialists"
        row = next(r for r in wall[key] if r["number"] == lab["number"])["windows"][lab["window"]]
        field = name.removeprefix("cti_department_").removeprefix("cti_test_dial_").removeprefix("cti_specialist_")
        return {"offered": row["offered"], "answered_15s": row["answered_15s"],
                "answer_rate": row["answer_rate_15s"], "not_answered": (row.get("not_answered") or {}).get(
                    lab.get("kind"))}[field]
    if name == "cti_linkage_calls":
        return wall["linkage"]["windows"][lab["window"]][lab["direction"]]
    if name == "cti_followup_calls":
        return wall["followups"]["windows"][lab["window"]][lab["figure"]]
    if name.startswith("cti_line_") or name == "cti_queue_online_answer_rate":   # 话后小结 by line / queue
        window = wall["dispositions"]["windows"][lab["window"]]
        row = window["queues"][lab["queue"]] if "queue" in lab else window["lines"][lab["line"]]
        return {"cti_line_requests": lambda: row[lab.get("handled", "")], "cti_line_invalid": lambda: row["invalid"],
                "cti_line_not_recorded": lambda: row["not_recorded"]}.get(name, lambda: row["online_rate"])()
    scope = wall["centre"] if lab["queue"] == "_centre" else wall["queues"][lab["queue"]]
    total = scope["windows"]["total"]
    return {
        "cti_queue_calls_waiting": lambda: scope["waiting"],
        "cti_queue_calls_talking": lambda: scope["talking"],
        "cti_queue_agents": lambda: scope["agents"][lab.get("state")],
        "cti_queue_calls_total": lambda: total[OUTCOME[lab.get("outcome")]],
        "cti_queue_answered_within_total": lambda: total[f"answered_{lab.get('within')}"],
        "cti_queue_short_abandoned_total": lambda: total["short_abandoned"],
        "cti_queue_wait_seconds_total": lambda: total["counters"]["wait_sum"],
        "cti_queue_talk_seconds_total": lambda: total["counters"]["talk_sum"],
        "cti_queue_answer_rate": lambda: scope["windows"][lab.get("window")][f"answer_rate_{lab.get('within')}"],
    }[name]()


@pytest.fixture
async def day(tmp_path):
    layer = Layer(monitor_settings(tmp_path, free_port(), timezone="Asia/Shanghai"), parts=[MonitorPart])
    await layer.start()
    part = layer.parts[0]
    published = publish_day(layer.bus)
    publish_lines(layer.bus, published["now"])
    for n, answer in enumerate((4.0, None)):   # two policy specialists' legs (政策专员, issue 21)
        layer.bus.publish(TOPIC_DEPARTMENT_LEG, DepartmentLeg(f"s{n}", f"tax-0{n + 1}", "地税局", "specialist", False,
                                                              published["now"] - 100, answer, "handed_off"))
    await until(lambda: part.engine.snapshot()["centre"]["windows"]["today"]["offered"] > 7000, 10)
    try:
        yield layer
    finally:
        await layer.stop()


async def test_metrics_parsed_by_prometheus_equal_the_figures(day):
    base = f"http://127.0.0.1:{day.http_port}"
    async with aiohttp.ClientSession() as http:
        async with http.get(base + "/api/figures", headers=AUTH) as r:
            wall = await r.json()
        async with http.get(base + "/metrics", headers=AUTH) as r:
            assert r.status == 200 and r.content_type == "text/plain"
            body = await r.text()
    families = {f.name: f for f in text_string_to_metric_families(body)}
    assert {n: f.type for n, f in families.items()} == FAMILIES, body[:2000]
    seen: dict[str, int] = {}
    for fam in families.values():
        for s in fam.samples:
            seen[s.name] = seen.get(s.name, 0) + 1
            if s.name == "cti_queue_longest_wait_seconds":
                continue        # "now" moves between the two requests
            want = figure(wall, s.name, s.labels)
            assert want is not None and s.value == pytest.approx(want, rel=1e-12, abs=1e-9), (s, want)
    queues = len(wall["queues"]) + 1          # each queue and the centre ("_centre")
    assert seen["cti_queue_calls_total"] == 3 * queues and seen["cti_queue_agents"] == 8 * queues
    rates = [w[f"answer_rate_{t}"] for q in [wall["centre"], *wall["queues"].values()] for w in q["windows"].values()
             for t in ("15s", "10s")]
    assert seen["cti_queue_answer_rate"] == sum(r is not None for r in rates) > 0    # no rate of no calls
    assert seen["cti_linkage_calls"] == sum(len(v) for v in wall["linkage"]["windows"].values())
    assert seen["cti_department_offered"] == sum(len(r["windows"]) for r in wall["departments"])
    assert seen["cti_test_dial_offered"] == sum(len(r["windows"]) for r in wall["test_dials"])
    assert seen["cti_specialist_offered"] == sum(len(r["windows"]) for r in wall["specialists"]) > 0
    assert seen["cti_line_online_answer_rate"] == 3 * len(wall["dispositions"]["windows"])     # three lines
    assert wall["centre"]["windows"]["total"]["counters"]["talk_sum"] > 1e6   # seven digits, kept whole
