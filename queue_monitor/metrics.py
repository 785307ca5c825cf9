"""Prometheus exposition of this instance's queue figures, written by ``prometheus_client``.

A custom collector reads the engine's snapshot when /metrics is scraped, so the figures cost nothing per
AMI event (the engine keeps its own tallies; the library only formats them). Metric names and labels are
the ones the centre's dashboards already use; the text format is the library's (version 0.0.4).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

AGENT_STATES = ("logged_in", "available", "talking", "ringing", "paused", "wrapup", "busy", "unknown")
# (label, the snapshot's key) of a finished queue wait's outcome
OUTCOMES = (("answered", "answered"), ("abandoned", "abandoned"), ("timeout", "timed_out"))
Sample = tuple[dict, float | None]


def _family(kind: str, name: str, help_: str, samples: Iterable[Sample]) -> Metric:
    """One metric family; a sample whose value is None (no figure yet, e.g. a rate of no calls) is left out."""
    rows = [(labels, value) for labels, value in samples if value is not None]
    keys = list(rows[0][0]) if rows else []
    fam = (CounterMetricFamily if kind == "counter" else GaugeMetricFamily)(name, help_, labels=keys)
    for labels, value in rows:
        fam.add_metric([str(labels[k]) for k in keys], float(value))
    return fam


class SnapshotCollector:
    """A ``prometheus_client`` collector over one snapshot of ``QueueMonitor`` (see ``part.local_snapshot``)."""

    def __init__(self, snapshot: dict) -> None:
        self.snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        snap = self.snapshot
        scopes = [({"queue": q}, f) for q, f in snap["queues"].items()]
        if snap.get("centre"):
            scopes.append(({"queue": "_centre"}, snap["centre"]))
        yield _family("gauge", "cti_queue_calls_waiting", "Calls waiting in the queue now",
                      [(lab, f["waiting"]) for lab, f in scopes])
        yield _family("gauge", "cti_queue_longest_wait_seconds", "Longest current wait",
                      [(lab, f["longest_wait"]) for lab, f in scopes])
        yield _family("gauge", "cti_queue_calls_talking", "Queue calls talking to an agent now",
                      [(lab, f["talking"]) for lab, f in scopes])
        yield _family("gauge", "cti_queue_agents", "Agents by state",
                      [({**lab, "state": s}, f["agents"][s]) for lab, f in scopes for s in AGENT_STATES])
        total = [(lab, f["windows"]["total"]) for lab, f in scopes]
        yield _family("counter", "cti_queue_calls_total",
                      "Finished queue waits since the layer started, by outcome",
                      [({**lab, "outcome": o}, w[k]) for lab, w in total for o, k in OUTCOMES])
        yield _family("counter", "cti_queue_answered_within_total", "Answered within the service level (15 s / 10 s)",
                      [({**lab, "within": t}, w[f"answered_{t}"]) for lab, w in total for t in ("15s", "10s")])
        yield _family("counter", "cti_queue_short_abandoned_total", "Abandons under the short-abandon threshold",
                      [(lab, w["short_abandoned"]) for lab, w in total])
        yield _family("counter", "cti_queue_wait_seconds_total", "Sum of answered waits (ASA = this / answered)",
                      [(lab, w["counters"]["wait_sum"]) for lab, w in total])
        yield _family("counter", "cti_queue_talk_seconds_total", "Sum of finished talk times",
                      [(lab, w["counters"]["talk_sum"]) for lab, w in total])
        windows = [(lab, name, w) for lab, f in scopes for name, w in f["windows"].items()]
        yield _family("gauge", "cti_queue_answer_rate", "Answer rate under the configured denominator and rounding",
                      [({**lab, "window": n, "within": t}, w[f"answer_rate_{t}"]) for lab, n, w in windows
                       for t in ("15s", "10s")])
        # department hotlines: the citizens' legs (部门热线) and the test calls (拨测), per window
        for key, prefix, what in (("departments", "cti_department", "Department legs of citizens' calls"),
                                  ("test_dials", "cti_test_dial", "Test calls (拨测) of department hotlines"),
                                  ("specialists", "cti_specialist", "Policy specialists' (政策专员) three-way legs")):
            rows = [({"number": r["number"], "window": n}, f) for r in snap.get(key) or []
                    for n, f in r["windows"].items()]
            yield _family("gauge", f"{prefix}_offered", f"{what} rung in the window",
                          [(lab, f["offered"]) for lab, f in rows])
            yield _family("gauge", f"{prefix}_answered_15s", f"{what} answered within 15 s",
                          [(lab, f["answered_15s"]) for lab, f in rows])
            yield _family("gauge", f"{prefix}_answer_rate", f"{what}: 15-second answer rate",
                          [(lab, f["answer_rate_15s"]) for lab, f in rows])
            yield _family("gauge", f"{prefix}_not_answered", f"{what} not answered, by kind (busy, unreachable...)",
                          [({**lab, "kind": k}, v) for lab, f in rows
                           for k, v in (f.get("not_answered") or {}).items()])
        # dispositions (话后小结): requests by line split 在线答复 / 部门办理, the online answer rate (在线解答率)
        boards = ((snap.get("dispositions") or {}).get("windows") or {}).items()
        lines = [({"line": k, "window": n}, f) for n, w in boards for k, f in w["lines"].items()]
        yield _family("gauge", "cti_line_requests", "Requests with a disposition in the window, by line and handling "
                      "(online 在线答复, department 部门办理)",
                      [({**lab, "handled": h}, f[h]) for lab, f in lines for h in ("online", "department")])
        yield _family("gauge", "cti_line_online_answer_rate", "Online answer rate (在线解答率): answered online over "
                      "requests with a disposition", [(lab, f["online_rate"]) for lab, f in lines])
        yield _family("gauge", "cti_line_not_recorded", "Answered calls with no disposition within the wrap-up window",
                      [(lab, f["not_recorded"]) for lab, f in lines])
        yield _family("gauge", "cti_line_invalid", "Calls disposed of as no request (无效来电)",
                      [(lab, f["invalid"]) for lab, f in lines])
        yield _family("gauge", "cti_queue_online_answer_rate", "Online answer rate (在线解答率) per queue",
                      [({"queue": k, "window": n}, f["online_rate"]) for n, w in boards for k, f in w["queues"].items()])
        # 110 hand-overs (110分流) and follow-up calls (回访), counted per window
        for key, name, label, what in (("linkage", "cti_linkage_calls", "direction", "110 hand-overs"),
                                       ("followups", "cti_followup_calls", "figure", "Follow-up call attempts")):
            board = (snap.get(key) or {}).get("windows") or {}
            yield _family("gauge", name, f"{what} in the window",
                          [({"window": n, label: k}, v) for n, counts in board.items() for k, v in counts.items()])


def render_metrics(snapshot: dict) -> str:
    """The /metrics body for one snapshot, in the Prometheus text format 0.0.4."""
    registry = CollectorRegistry(auto_describe=False)   # per scrape: the collector holds this scrape's snapshot
    registry.register(SnapshotCollector(snapshot))
    return generate_latest(registry).decode("utf-8")
