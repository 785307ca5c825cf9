"""What an admin reads (issue 18): a YAML slip in a flow file is one message with file, line and column;
a fixed flow going live is logged and shown in /api/flows; `cti report` and /api/reports refuse an unknown
queue naming the known ones, and an inverted or absurd period with a clear message (400 naming the field)."""

from __future__ import annotations

import logging
import shutil
import time

import aiohttp
import pytest
from ivr_rig import FLOWS, flows_settings
from monitor_support import cti_report
from test_end_to_end import settings_for

from cti.app import Layer
from cti.demo import free_port
from ivr_flows.cli import main as flows_cli
from ivr_flows.part import FlowsPart
from queue_monitor.part import MonitorPart

TOKEN = {"Authorization": "Bearer admin-token-for-messages"}


def test_given_a_misindented_key_then_one_message_names_file_line_and_column(tmp_path, capsys):
    flows = tmp_path / "flows"
    shutil.copytree(FLOWS, flows)
    main = (flows / "main.yaml").read_text(encoding="utf-8").splitlines()
    bad = next(n for n, line in enumerate(main) if line == "  hotline:")   # the first node, one space too far
    main[bad] = "   hotline:"
    (flows / "main.yaml").write_text("\n".join(main) + "\n", encoding="utf-8")
    assert flows_cli(["check", str(flows)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2 and err[1] == f"1 error(s) in {flows}", err   # no follow-on in other files
    path, line, column, message = err[0].split(":", 3)
    assert path == str(flows / "main.yaml") and int(line) > bad + 1 and int(column) >= 1, err
    assert "not valid YAML" in message and f"line {bad + 1}" in message and "line up" in message, message
    assert "missing" not in err[0] and "unknown flow" not in err[0]


async def test_given_a_rejected_edit_when_fixed_then_the_log_and_api_flows_say_it_is_live(tmp_path, caplog):
    flows = tmp_path / "flows"
    shutil.copytree(FLOWS, flows)
    s = settings_for(tmp_path, free_port())
    s = s.model_copy(update={"flows": flows_settings(flows, reload_interval=0),
                             "http": s.http.model_copy(update={"token": TOKEN["Authorization"][7:]})})
    layer = Layer(s, parts=[FlowsPart])
    await layer.start()
    caplog.set_level(logging.INFO, logger="ivr_flows")
    store = layer.parts[0].store
    main = flows / "main.yaml"
    good = main.read_text(encoding="utf-8")

    async def status() -> dict:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{layer.http_port}/api/flows", headers=TOKEN) as r:
                assert r.status == 200
                return await r.json()

    def edit(text: str) -> None:
        main.write_text(text, encoding="utf-8")
        store._fingerprint = None     # the mtime may not move within the file system's granularity

    try:
        first = await status()
        assert first["since"] and first["history"][-1]["event"] == "live"
        edit(good.replace('"9": supervision', '"9": supervisoin'))
        assert store.check() is False
        rejected = await status()
        assert rejected["version"] == first["version"] and rejected["rejected"]
        assert rejected["history"][-1]["event"] == "rejected"
        assert rejected["history"][-1]["errors"] == len(rejected["rejected"]) >= 1
        # the admin fixes it with a real change: a new version goes live, and says so
        before = time.time()
        edit(good.replace("12345 主菜单", "12345 热线主菜单"))
        assert store.check() is True
        live = await status()
        assert live["version"] != first["version"] and live["rejected"] == []
        assert live["history"][-1]["event"] == "live after a rejected edit"
        assert live["history"][-1]["version"] == live["version"]
        assert live["since"] >= time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(int(before)))
        assert any(f"flows version {live['version']} in service after the rejected edit" in r.getMessage()
                   for r in caplog.records)
        # a bad edit undone: the version serving all along is declared valid again
        edit(good.replace('"9": supervision', '"9": supervisoin'))
        store.check()
        edit(good.replace("12345 主菜单", "12345 热线主菜单"))
        assert store.check() is False
        again = await status()
        assert again["version"] == live["version"] and again["since"] == live["since"]
        assert again["history"][-1]["event"] == "valid again"
        assert any("valid again" in r.getMessage() for r in caplog.records)
    finally:
        await layer.stop()


async def test_reports_refuse_an_unknown_queue_and_an_absurd_period(tmp_path, capsys):
    # cti report: an unknown queue names the known ones; a reversed or absurd period says why, exit 2
    for args, expected in [
            (["--from", "2026-11-01", "--to", "2026-11-30", "--queue", "pubilc"],
             "unknown queue 'pubilc'; known queues: enterprise, linkage110, public, supervision"),
            (["--from", "2026-11-30", "--to", "2026-11-01"], "--to 2026-11-01 is before --from 2026-11-30"),
            (["--from", "0001-01-01", "--to", "9999-12-31"], "--from 0001-01-01 is before 2000-01-01"),
            (["--from", "2000-01-01", "--to", "2026-12-31"], "spans 9862 days; a report covers at most 3700")]:
        with pytest.raises(AssertionError):
            await cti_report(tmp_path, capsys, *args)     # the helper asserts exit code 0
        err = capsys.readouterr().err
        assert expected in err and "Traceback" not in err, (args, err)
    # /api/reports: 400 naming the parameter, never a 500
    s = settings_for(tmp_path, free_port())
    s = s.model_copy(update={"http": s.http.model_copy(update={"token": TOKEN["Authorization"][7:]}),
                             "monitor": s.monitor.model_copy(update={
                                 "database_url": f"sqlite+aiosqlite:///{tmp_path / 'monitor.db'}"})})
    layer = Layer(s, parts=[MonitorPart])
    await layer.start()
    try:
        async with aiohttp.ClientSession() as http:
            for query, field, words in [("from=0001-01-01&to=9999-12-31", "from", "before 2000-01-01"),
                                        ("from=2026-11-30&to=2026-11-01", "to", "before from"),
                                        ("from=2026-11-01&to=2026-11-30&queue=pubilc", "queue", "known queues")]:
                async with http.get(f"http://127.0.0.1:{layer.http_port}/api/reports?{query}", headers=TOKEN) as r:
                    body = await r.json()
                    assert r.status == 400 and body["field"] == field and words in body["detail"], (query, body)
            async with http.get(f"http://127.0.0.1:{layer.http_port}/api/reports?from=2026-11-01&to=2026-11-30"
                                "&queue=public", headers=TOKEN) as r:
                assert r.status == 200
    finally:
        await layer.stop()
