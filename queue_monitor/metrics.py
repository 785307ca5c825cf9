"""Prometheus text exposition of this instance's queue figures (no client library needed)."""

from __future__ import annotations


def _esc(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def render_metrics(snapshot: dict) -> str:
    lines: list[str] = []

    def family(name: str, kind: str, help_: str, samples: list[tuple[dict, float | None]]) -> None:
        lines.append(f"# HELP {name} {help_}")
        lines.append(f"# TYPE {name} {kind}")
        for labels, value in samples:
            if value is None:
                continue
            lab = ",".join(f'{k}="{_esc(str(v))}"' for k, v in labels.items())
            lines.append(f"{name}{{{lab}}} {float(value):.6g}" if lab else f"{name} {float(value):.6g}")

    scopes = [({"queue": q}, f) for q, f in snapshot["queues"].items()]
    if snapshot.get("centre"):
        scopes.append(({"queue": "_centre"}, snapshot["centre"]))
    family("cti_queue_calls_waiting", "gauge", "Calls waiting in the queue now",
           [(lab, f["waiting"]) for lab, f in scopes])
    family("cti_queue_longest_wait_seconds", "gauge", "Longest current wait",
           [(lab, f["longest_wait"]) for lab, f in scopes])
    family("cti_queue_calls_talking", "gauge", "Queue calls talking to an agent now",
           [(lab, f["talking"]) for lab, f in scopes])
    family("cti_queue_agents", "gauge", "Agents by state",
           [({**lab, "state": s}, f["agents"][s]) for lab, f in scopes
            for s in ("logged_in", "available", "talking", "ringing", "paused", "wrapup", "busy", "unknown")])
    total = [(lab, f["windows"]["total"]) for lab, f in scopes]
    family("cti_queue_calls_total", "counter", "Finished queue waits since the layer started, by outcome",
           [({**lab, "outcome": o}, w[k]) for lab, w in total
            for o, k in (("answered", "answered"), ("abandoned", "abandoned"), ("timeout", "timed_out"))])
    family("cti_queue_answered_within_total", "counter", "Answered within the service level (15 s / 10 s)",
           [({**lab, "within": t}, w[f"answered_{t}"]) for lab, w in total for t in ("15s", "10s")])
    family("cti_queue_short_abandoned_total", "counter", "Abandons under the short-abandon threshold",
           [(lab, w["short_abandoned"]) for lab, w in total])
    family("cti_queue_wait_seconds_total", "counter", "Sum of answered waits (ASA = this / answered)",
           [(lab, w["counters"]["wait_sum"]) for lab, w in total])
    family("cti_queue_talk_seconds_total", "counter", "Sum of finished talk times",
           [(lab, w["counters"]["talk_sum"]) for lab, w in total])
    windows = [(lab, name, w) for lab, f in scopes for name, w in f["windows"].items()]
    family("cti_queue_answer_rate", "gauge", "Answer rate under the configured denominator and rounding",
           [({**lab, "window": n, "within": t}, w[f"answer_rate_{t}"]) for lab, n, w in windows
            for t in ("15s", "10s")])

    # department hotlines: the citizens' legs (部门热线) and the test calls (拨测), per window
    for key, prefix, what in (("departments", "cti_department", "Department legs of citizens' calls"),
                              ("test_dials", "cti_test_dial", "Test calls (拨测) of department hotlines")):
        rows = [({"number": r["number"], "window": n}, f) for r in snapshot.get(key) or []
                for n, f in r["windows"].items()]
        family(f"{prefix}_offered", "gauge", f"{what} rung in the window", [(lab, f["offered"]) for lab, f in rows])
        family(f"{prefix}_answered_15s", "gauge", f"{what} answered within 15 s",
               [(lab, f["answered_15s"]) for lab, f in rows])
        family(f"{prefix}_answer_rate", "gauge", f"{what}: 15-second answer rate",
               [(lab, f["answer_rate_15s"]) for lab, f in rows])
        family(f"{prefix}_not_answered", "gauge", f"{what} not answered, by kind (busy, unreachable...)",
               [({**lab, "kind": k}, v) for lab, f in rows for k, v in (f.get("not_answered") or {}).items()])
    # 110 hand-overs (110分流) and follow-up calls (回访), counted per window
    for key, name, label, what in (("linkage", "cti_linkage_calls", "direction", "110 hand-overs"),
                                   ("followups", "cti_followup_calls", "figure", "Follow-up call attempts")):
        board = (snapshot.get(key) or {}).get("windows") or {}
        family(name, "gauge", f"{what} in the window",
               [({"window": n, label: k}, v) for n, counts in board.items() for k, v in counts.items()])
    return "\n".join(lines) + "\n"
