"""Admin controls of follow-up campaigns over the API and `cti campaigns`, against the simulator."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp
from calls_support import until
from outbound_support import outbound_centre, outbound_settings

from cti.simulator.outbound import CitizenPhone

ROOT = Path(__file__).resolve().parents[1]


async def test_given_uploaded_list_when_paused_then_resumed_only_callable_numbers_are_dialled(tmp_path):
    s = outbound_settings(tmp_path, followup_hours=["00:00-23:59"])
    async with outbound_centre(tmp_path, s) as c:
        for n in ("13900000011", "13900000012", "13900000013"):
            c.ext.citizens[n] = CitizenPhone(answer_delay=2, keys=["1", "1"])
        base = f"http://127.0.0.1:{c.layer.http_port}/api/outbound"
        auth = {"Authorization": f"Bearer {c.layer.http_token}"}
        async with aiohttp.ClientSession(headers=auth) as http:
            async with http.post(f"{base}/do-not-call", json={"number": "13900000012", "note": "citizen asked"}) as r:
                assert r.status == 201
            # The campaign starts with a number on the do-not-call list, then is paused before the rest.
            async with http.post(f"{base}/campaigns/list-2026/numbers", json={"numbers": ["13900000012"]}) as r:
                assert r.status == 201
            async with http.post(f"{base}/campaigns/list-2026/pause") as r:
                assert r.status == 200
            async with http.post(f"{base}/campaigns/list-2026/numbers",
                                 json={"calls": [{"number": "13900000011"}, {"number": "13900000013", "ticket_id": "T9"}]}) as r:
                assert r.status == 201 and (await r.json())["scheduled"] == 2
            await asyncio.sleep(0.5)
            assert c.ext.dialled == []                                      # paused: nothing dialled
            async with http.post(f"{base}/campaigns/list-2026/numbers", json={"numbers": ["12a"]}) as r:
                assert r.status == 400 and (await r.json())["field"] == "numbers.0"
            async with http.post(f"{base}/campaigns/nope/resume") as r:
                assert r.status == 404
            async with http.post(f"{base}/campaigns/list-2026/resume") as r:
                assert r.status == 200
            await until(lambda: {n for _, n in c.ext.dialled} >= {"13900000011", "13900000013"}, 20)
            await asyncio.sleep(0.5)
            assert "13900000012" not in {n for _, n in c.ext.dialled}     # the do-not-call list holds
            async with http.get(f"{base}/campaigns") as r:
                body = await r.json()
        assert any(x.get("name") == "list-2026" for x in body["campaigns"])
        async with aiohttp.ClientSession() as anon:
            async with anon.get(f"{base}/campaigns") as r:
                assert r.status == 401

    env = {**os.environ, "CTI_OUTBOUND_DATABASE_URL": s.database_url, "CTI_DATA_DIR": str(tmp_path)}
    out = subprocess.run([sys.executable, "-m", "cti.cli", "campaigns", "list"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "list-2026" in out.stdout


async def test_given_paused_campaign_when_layer_restarts_then_state_and_pending_calls_survive(tmp_path):
    shanghai = dt.datetime.now(ZoneInfo("Asia/Shanghai"))
    night = f"{(shanghai.hour + 12) % 24:02d}:00-{(shanghai.hour + 12) % 24:02d}:30"  # never now
    closed = outbound_settings(tmp_path, followup_hours=[night])
    async with outbound_centre(tmp_path, closed) as c:
        fid = await c.outbound.schedule("list-r", "13900000021")
        assert await c.outbound.store.set_state("list-r", "paused")
        await asyncio.sleep(0.3)
        assert c.ext.dialled == []
    open_all_day = outbound_settings(tmp_path, followup_hours=["00:00-23:59"])
    async with outbound_centre(tmp_path, open_all_day) as c:   # a new process on the same database
        c.ext.citizens["13900000021"] = CitizenPhone(answer_delay=2, keys=["1", "1"])
        assert (await c.outbound.store.get(fid)).state == "pending"
        assert {x["name"]: x for x in await c.outbound.store.campaigns()}["list-r"]["state"] == "paused"
        await asyncio.sleep(0.3)
        assert c.ext.dialled == []                               # still paused after the restart
        await c.outbound.store.set_state("list-r", "active")
        c.outbound._wake.set()
        await until(lambda: c.ext.dialled, 20)
