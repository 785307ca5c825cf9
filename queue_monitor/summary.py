"""The one-line summary `cti run` and `cti demo` print: the queue monitor's figures, as words.

Pure: it formats the figures the monitor part publishes (the ``/api/figures`` document, see
``queue_monitor.wall.build_wall``); it counts nothing itself, so the terminal, the wallboard,
/metrics and the reports show one tally under one set of definitions.
"""

from __future__ import annotations

from collections.abc import Mapping

WINDOW = "today"   # the line shows today's window (local day of monitor.timezone), as the wall's 今日
NO_MONITOR = "队列监控未运行 queue monitor not running: no queue figures"


def summary_line(figures: Mapping) -> str:
    """``figures``: the /api/figures document. Returns per queue (sorted by label) the callers waiting
    now and today's answered, abandoned and timed-out calls and N-second answer rate (N =
    definitions.service_level), then the rule (denominator and rounding presets) that produced the rate.

    Shape: ``public: 等待 waiting 1, 接通 answered 42, 放弃 abandoned 2, 超时 timeout 0, 15秒接通率 97.6% | ...
    | 口径 rule: 今日 today, 分母 offered_minus_short_abandons, 计时 exact``.
    """
    defs = figures["definitions"]
    level = f"{defs['service_level']:g}秒接通率"
    parts = []
    for label, fig in figures["queues"].items():
        today = fig["windows"][WINDOW]
        rate = today["answer_rate_15s"]
        parts.append(f"{label}: 等待 waiting {fig['waiting']}, 接通 answered {today['answered']}, "
                     f"放弃 abandoned {today['abandoned']}, 超时 timeout {today['timed_out']}, "
                     f"{level} {'-' if rate is None else f'{100 * rate:.1f}%'}")
    if not parts:
        return "no queue activity yet"
    # The wallboard states its 口径 too: the same calls give different rates under other presets.
    parts.append(f"口径 rule: 今日 today, 分母 {defs['denominator']}, 计时 {defs['rounding']}")
    return " | ".join(parts)
