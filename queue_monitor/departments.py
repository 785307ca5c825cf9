"""Department hotline figures (部门热线): each department leg rung by a three-way call or a one-key
transfer, counted on the department's number; pure, shared by the live wall and the reports.

A policy specialist's leg (政策专员, issue 21: kind ``specialist``, number the specialist's id, owner the
department) is counted the same way, per specialist and per department, in rows of its own next to the
hotlines' (never mixed into a hotline's rate).

A leg counts in the period containing its ringing moment. A leg the agent withdrew before the
department had its chance (cancelled, failed) is not offered to the department, as in cti.calls.stats.
The 15 s answer rate is legs answered within the service level over legs offered (the seeds' >= 95%
target for parallel-merged hotlines); the wait is ringing to answer, under the monitor's rounding rule.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields

from cti.calls.stats import SPECIALIST_KIND, DepartmentLeg
from queue_monitor.figures import Definitions
from queue_monitor.windows import DayClock

NOT_OFFERED = frozenset({"cancelled", "failed"})
# An unanswered leg by what it was (cti.outbound.originate reasons for test calls; cti.calls.transfer states
# for citizens' legs): a busy or silent department is not an unreachable one.
NOT_ANSWERED_KINDS = {"no_answer": "no_answer", "busy": "busy", "congestion": "congestion",
                      "unreachable": "unreachable", "invalid_number": "unreachable"}
TEST_KIND = "test"   # a test call (拨测) of the hotline: counted apart from the citizens' legs


@dataclass(slots=True)
class DepartmentTally:
    offered: int = 0
    answered: int = 0
    answered_15s: int = 0
    answer_seconds_sum: float = 0.0
    answer_seconds_max: float = 0.0
    no_answer: int = 0        # unanswered legs by kind (NOT_ANSWERED_KINDS)
    busy: int = 0
    congestion: int = 0
    unreachable: int = 0

    def add(self, leg: DepartmentLeg, defs: Definitions) -> None:
        self.offered += 1
        if leg.answer_seconds is None:
            kind = NOT_ANSWERED_KINDS.get(leg.outcome)
            if kind is not None:
                setattr(self, kind, getattr(self, kind) + 1)
            return
        self.answered += 1
        self.answered_15s += defs.waited(leg.ringing_at, leg.ringing_at + leg.answer_seconds) <= defs.service_level
        self.answer_seconds_sum += leg.answer_seconds
        self.answer_seconds_max = max(self.answer_seconds_max, leg.answer_seconds)

    def merge(self, other: DepartmentTally) -> DepartmentTally:
        for f in _FIELDS:
            mine, theirs = getattr(self, f), getattr(other, f)
            setattr(self, f, max(mine, theirs) if f == "answer_seconds_max" else mine + theirs)
        return self

    def figures(self) -> dict:
        return {
            "offered": self.offered, "answered": self.answered, "answered_15s": self.answered_15s,
            "answer_rate_15s": self.answered_15s / self.offered if self.offered else None,
            "average_answer_seconds": self.answer_seconds_sum / self.answered if self.answered else None,
            "longest_answer_seconds": self.answer_seconds_max,
            "not_answered": {k: getattr(self, k) for k in ("no_answer", "busy", "congestion", "unreachable")},
            "counters": {f: getattr(self, f) for f in _FIELDS},
        }


_FIELDS = [f.name for f in fields(DepartmentTally)]


def counted(leg: DepartmentLeg) -> bool:
    return leg.outcome not in NOT_OFFERED


def is_test(leg: DepartmentLeg) -> bool:
    return leg.kind == TEST_KIND


def is_specialist(leg: DepartmentLeg) -> bool:
    return leg.kind == SPECIALIST_KIND


def tallies(legs: Iterable[DepartmentLeg], defs: Definitions, start: float, end: float) -> dict[str, dict]:
    """number -> {"owner", "emergency", "tally"} for the legs rung in [start, end)."""
    out: dict[str, dict] = {}
    for leg in legs:
        if not counted(leg) or not start <= leg.ringing_at < end:
            continue
        d = out.setdefault(leg.number, {"owner": leg.owner, "emergency": leg.emergency, "tally": DepartmentTally()})
        d["tally"].add(leg, defs)
    return out


def _rows(legs: Iterable[DepartmentLeg], defs: Definitions, start: float, end: float) -> tuple[list[dict], dict]:
    per = tallies(legs, defs, start, end)
    total = DepartmentTally()
    rows = []
    for number in sorted(per):
        d = per[number]
        total.merge(d["tally"])
        rows.append({"number": number, "owner": d["owner"], "emergency": d["emergency"], **d["tally"].figures()})
    return rows, {"number": "合计 total", "owner": "", **total.figures()}


def report_rows(legs: Iterable[DepartmentLeg], defs: Definitions, start: float, end: float) -> dict:
    """The 部门热线 section of a report: one row per department number and their total, from the citizens'
    legs; the test calls (拨测) in their own rows and total, never mixed into the citizens' rate."""
    legs = list(legs)
    rows, total = _rows((x for x in legs if not is_test(x) and not is_specialist(x)), defs, start, end)
    test_rows, test_total = _rows((x for x in legs if is_test(x)), defs, start, end)
    specialist_rows, specialist_total = _rows((x for x in legs if is_specialist(x)), defs, start, end)
    by_owner: dict[str, DepartmentTally] = {}
    for row in specialist_rows:
        by_owner.setdefault(row["owner"], DepartmentTally()).merge(DepartmentTally(**row["counters"]))
    return {"departments": rows, "departments_total": total,
            "test_dials": test_rows, "test_dials_total": test_total | {"number": "拨测合计 test total"},
            "specialists": specialist_rows, "specialists_total": specialist_total | {"number": "专员合计 total"},
            "specialist_departments": [{"number": owner, "owner": owner, "emergency": False, **t.figures()}
                                       for owner, t in sorted(by_owner.items())]}


class DepartmentBoard:
    """The live department figures: legs kept for the longest window or since local midnight, whichever is
    longer (legs are a small share of calls, so a list recounted per snapshot is cheap and exact)."""

    def __init__(self, defs: Definitions, windows: dict[str, float], timezone: str = "Asia/Shanghai") -> None:
        self.defs = defs
        self.windows = windows
        self.day = DayClock(timezone)
        self.legs: list[DepartmentLeg] = []

    def add(self, leg: DepartmentLeg) -> bool:
        if not counted(leg):
            return False
        self.legs.append(leg)
        return True

    def snapshot(self, now: float) -> list[dict]:
        """The hotlines' rows (a board of test calls holds only those)."""
        return self._rows(now, [leg for leg in self._keep(now) if not is_specialist(leg)])

    def specialist_snapshot(self, now: float) -> list[dict]:
        """The policy specialists' rows: number is the specialist's id, owner the department."""
        return self._rows(now, [leg for leg in self._keep(now) if is_specialist(leg)])

    def _keep(self, now: float) -> list[DepartmentLeg]:
        horizon = min([self.day.day_of(now), *(now - s for s in self.windows.values())])
        self.legs = [leg for leg in self.legs if leg.ringing_at >= horizon]
        return self.legs

    def _rows(self, now: float, legs: list[DepartmentLeg]) -> list[dict]:
        periods = {**{name: now - s for name, s in self.windows.items()}, "today": self.day.day_of(now)}
        rows: dict[str, dict] = {}
        for name, start in periods.items():
            for number, d in tallies(legs, self.defs, start, float("inf")).items():
                row = rows.setdefault(number, {"number": number, "owner": d["owner"], "emergency": d["emergency"],
                                               "windows": {}})
                row["windows"][name] = d["tally"].figures()
        empty = DepartmentTally().figures()
        for row in rows.values():
            row["windows"] = {name: row["windows"].get(name, empty) for name in periods}
        return [rows[n] for n in sorted(rows)]


def merge_departments(lists: Iterable[list[dict]]) -> list[dict]:
    """Several instances' department rows summed by number (true rates from raw counters)."""
    merged: dict[str, dict] = {}
    for rows in lists:
        for row in rows:
            m = merged.setdefault(row["number"], {"number": row["number"], "owner": row["owner"],
                                                  "emergency": row["emergency"], "tallies": {}})
            for name, fig in row["windows"].items():
                m["tallies"].setdefault(name, DepartmentTally()).merge(DepartmentTally(**fig["counters"]))
    out = []
    for number in sorted(merged):
        m = merged[number]
        out.append({"number": number, "owner": m["owner"], "emergency": m["emergency"],
                    "windows": {name: t.figures() for name, t in m["tallies"].items()}})
    return out


def by_department(rows: Iterable[dict]) -> list[dict]:
    """Specialists' rows (a snapshot's or merged) summed per department (owner), same shape, number = owner."""
    return merge_departments([[{**row, "number": row["owner"], "emergency": False} for row in rows]])
