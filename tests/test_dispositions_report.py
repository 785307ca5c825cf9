"""`cti report` prints the seed's split (Nantong 2022, seed 002: requests by line, 在线答复, 部门办理) and the online
answer rate (在线解答率), checked against the dispositions stored in the tickets database (issue 21).

Given calls on the three lines disposed of through the dispositions service (a real SQLite tickets database,
lines from the shipped config/specialists.yaml), one swept as not recorded and one never swept past its
window, when `cti report` runs for their day, then each line's row holds what the stored rows say: requests
with a disposition, those answered online (with or without a specialist), those handled by departments, the
rate, and the not-recorded and invalid calls apart.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from monitor_support import cti_report
from tickets_support import database

from cti.calls.messages import CallEnded
from cti.dispositions.service import DispositionService
from cti.dispositions.settings import DispositionsSettings
from cti.specialists import load_specialists
from cti.tickets.db import make_engine, migrate
from queue_monitor.dispositions import LINE_COLUMNS

ROOT = Path(__file__).resolve().parents[1]
DAY = datetime(2026, 3, 4, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai")).timestamp()
TYPES = ["consultation", "complaint", "report", "help", "suggestion"]
# (queue, tags, disposition code or None: nothing recorded)
CALLS = [("enterprise", ["企业"], "answered_online"), ("enterprise", ["企业"], "answered_online"),
         ("enterprise", ["企业"], "specialist"), ("enterprise", ["企业"], "ticket"),
         ("public", ["企业", "尚贤"], "specialist"), ("public", ["企业", "尚贤"], "answered_online"),
         ("public", [], "answered_online"), ("public", [], "transferred"), ("public", [], "ticket"),
         ("public", [], "invalid"), ("public", [], None), ("enterprise", ["企业"], None)]


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
async def test_cti_report_prints_requests_by_line_and_the_online_answer_rate_of_the_stored_dispositions(
        tmp_path, capsys, kind):
    async with database(kind, tmp_path) as url:
        await _report_checked_against_the_stored_rows(tmp_path, capsys, url)


async def _report_checked_against_the_stored_rows(tmp_path, capsys, url: str) -> None:
    engine = make_engine(url)
    lines = load_specialists(ROOT / "config/specialists.yaml")
    clock = Clock(DAY)
    service = DispositionService(engine, DispositionsSettings(wrapup_window=600), TYPES,
                                 line_of=lambda q, tags: (lambda x: (x.id, x.name))(lines.line_for(q, tags)),
                                 clock=clock)
    for n, (queue, tags, code) in enumerate(CALLS):
        call_id = f"1772590000.{n}"
        clock.now = DAY + 60 * n
        await service.call_ended(CallEnded("6001", call_id, "13800000001", queue, "12345", tuple(tags), DAY, clock.now))
        if code is not None:
            clock.now += 30          # the agent's after-call work
            await service.record(call_id, code, None if code == "invalid" else "consultation", "小结", None, None)
    clock.now = DAY + 60 * (len(CALLS) - 2) + 601
    assert await service.expire() == 1   # the public call's window passed: swept; the enterprise one's not yet
    # what the stored rows say, read with plain SQL
    async with engine.connect() as conn:
        stored = (await conn.exec_driver_sql(
            "SELECT line_name, status, online, request FROM call_dispositions")).all()
    await engine.dispose()

    out = await cti_report(tmp_path, capsys, "--from", "2026-03-04", "--to", "2026-03-04", "--format", "csv",
                           tickets_url=url)
    section = out.replace("\r\n", "\n").split("\n\n")[-1]
    rows = {r["line"] if "line" in r else r["name"]: r for r in csv.DictReader(io.StringIO(section))}
    assert list(csv.reader(io.StringIO(section)))[0] == [k for k, _ in LINE_COLUMNS]

    expected: dict[str, Counter] = {}
    for name, status, online, request in stored:
        c = expected.setdefault(name, Counter())
        if status != "recorded":
            c["not_recorded"] += 1          # swept, or pending past its window (the sweep never ran)
        elif not request:
            c["invalid"] += 1
        else:
            c["requests"] += 1
            c["online" if online else "department"] += 1
    assert set(expected) == {"一企来", "尚贤", "市民热线"}
    by_name = {r["name"]: r for r in rows.values()}
    for name, c in expected.items():
        row = by_name[name]
        assert [int(row[k]) for k in ("requests", "online", "department", "not_recorded", "invalid")] == \
            [c[k] for k in ("requests", "online", "department", "not_recorded", "invalid")], (name, row)
        assert float(row["online_rate"]) == c["online"] / c["requests"]
        assert float(row["average_wrapup"]) == 30.0
    total = by_name["总计 total"]
    assert int(total["requests"]) == 9 and int(total["online"]) == 6 and float(total["online_rate"]) == 6 / 9

    table = await cti_report(tmp_path, capsys, "--from", "2026-03-04", "--to", "2026-03-04", tickets_url=url)
    assert "诉求总量与办理 requests by line" in table
    enterprise = next(line for line in table.splitlines() if line.startswith("一企来"))
    assert enterprise.split() == ["一企来", "4", "3", "1", "75.00%", "1", "0", "30.00"], enterprise
    assert next(line for line in table.splitlines() if line.startswith("总计")).split()[:6] == \
        ["总计", "total", "9", "6", "3", "66.67%"]


async def test_given_two_instances_on_one_tickets_database_when_one_restarts_then_its_wall_rebuilds_only_its_own(
        tmp_path, capsys):
    """Each instance's wall counts the dispositions it recorded or swept (another's reach a shared wall through
    Redis from that instance): a restart rebuilds today from its own rows only, while `cti report` counts all."""
    from monitor_support import monitor_settings

    from cti.app import Layer
    from cti.demo import free_port
    from queue_monitor.part import MonitorPart

    url = f"sqlite+aiosqlite:///{tmp_path / 'cti.db'}"
    engine = make_engine(url)
    await migrate(engine)
    now = datetime.now(ZoneInfo("Asia/Shanghai")).timestamp()
    for n, instance in enumerate(("city", "county")):
        service = DispositionService(engine, DispositionsSettings(), TYPES, clock=Clock(now), instance=instance)
        await service.call_ended(CallEnded("6001", f"1764480000.{n}", "13800000001", "public", "12345", (), now, now))
        await service.record(f"1764480000.{n}", "answered_online", "consultation", "", None, None)
    await engine.dispose()

    s = monitor_settings(tmp_path, free_port(), instance="city")
    layer = Layer(s.model_copy(update={"tickets": s.tickets.model_copy(update={"database_url": url})}),
                  parts=[MonitorPart])
    await layer.start()
    try:
        today = layer.monitor.wall()["dispositions"]["windows"]["today"]
    finally:
        await layer.stop()
    assert (today["total"]["requests"], today["total"]["online"]) == (1, 1), today
    day = datetime.fromtimestamp(now, ZoneInfo("Asia/Shanghai")).date().isoformat()
    table = await cti_report(tmp_path, capsys, "--from", day, "--to", day)
    assert next(line for line in table.splitlines() if line.startswith("总计")).split()[2:5] == ["2", "2", "0"]
