"""Roles and least privilege (issue 17): every registered route of a layer with all its parts is in
cti/roles.py's table and answers each role as the table says: 401 without a credential, 403 for a role
the table does not list, anything else for one it lists; an agent's session acts for that agent only;
the wallboard address the layer prints (a viewer credential) changes nothing."""

from __future__ import annotations

import aiohttp
import pytest
from calls_support import settings_for
from tickets_support import free_port

from cti import roles
from cti.app import Layer
from cti.auth import hash_pin, hash_token

TOKENS = {role: f"{role}-secret-token" for role in (roles.SUPERVISOR, roles.ADMIN, roles.INTEGRATION)}
PIN = "2468"


def role_settings(tmp_path, ami_port: int):
    s = settings_for(tmp_path, ami_port)
    return s.model_copy(update={"http": s.http.model_copy(update={
        "token": "", "credentials": {role: [hash_token(t)] for role, t in TOKENS.items()},
        "agent_pins": {"6001": [hash_pin(PIN)], "6002": [hash_pin("1357")]}})})


@pytest.fixture
async def layer(tmp_path):
    lay = Layer(role_settings(tmp_path, free_port()))   # every part; Asterisk unreachable
    await lay.start()
    yield lay
    await lay.stop()


def _path(template: str, agent: str = "6001") -> str:
    for name, value in (("{agent}", agent), ("{call_id}", "1700000000.1"), ("{ticket_id}", "nope"),
                        ("{uniqueid}", "1700000000.1"), ("{name}", "nope")):
        template = template.replace(name, value)
    return template


async def _ask(http, method: str, path: str, token: str | None, scheme: str = "Bearer") -> tuple[int, dict]:
    headers = {"Authorization": f"{scheme} {token}"} if token else {}
    async with http.request(method, path, headers=headers, json={} if method == "POST" else None) as r:
        body = (await r.json() if r.content_type == "application/json" else None) or {}
        return r.status, body


async def test_every_route_answers_every_role_as_the_table_says(layer):
    async with aiohttp.ClientSession(f"http://127.0.0.1:{layer.http_port}") as http:
        async with http.post("/api/agents/6001/session", json={"pin": PIN}) as r:
            assert r.status == 201, await r.text()
            session = await r.json()
        assert session["agent"] == "6001" and session["token"].startswith("ag1.6001.")
        principals = {roles.VIEWER: layer.wall_token, roles.AGENT: session["token"], **TOKENS}
        routes = {(r.method, r.resource.canonical) for r in layer.http_app.router.routes()}
        assert len(routes) > 40 and ("POST", "/api/calls/{call_id}/hangup") in routes
        missing = {r for r in routes if roles.rule_for(*r) is None}
        assert missing == set(), "routes missing from cti/roles.py's table"
        wrong = {}
        for method, template in sorted(routes):
            rule = roles.rule_for(method, template)
            path = _path(template)
            status, body = await _ask(http, method, path, None)
            if rule.public:
                if (status, body.get("error")) == (401, "unauthorized") or status == 403:
                    wrong[(method, template, None)] = status
                continue
            if status != 401:
                wrong[(method, template, None)] = status
            for role, token in principals.items():
                status, body = await _ask(http, method, path, token, scheme="bearer" if role == roles.ADMIN else "Bearer")
                allowed = role in rule.roles
                if (status in (401, 403)) == allowed or status >= 500 and status != 503:   # 503: no Asterisk here
                    wrong[(method, template, role)] = (status, body)
            if rule.own == "agent":                       # an agent acting for another agent
                status, _ = await _ask(http, method, _path(template, agent="6002"), session["token"])
                if status != 403:
                    wrong[(method, template, "agent for 6002")] = status
        assert wrong == {}


async def test_the_printed_wallboard_address_changes_nothing(layer):
    """The wall's credential (what `cti run` and `cti demo` print) may read the wall, never act."""
    async with aiohttp.ClientSession(f"http://127.0.0.1:{layer.http_port}") as http:
        for method, template in {(r.method, r.resource.canonical) for r in layer.http_app.router.routes()}:
            rule = roles.rule_for(method, template)
            if method in ("GET", "HEAD") or rule.public:
                continue
            async with http.post(_path(template), json={}, params={"token": layer.wall_token}) as r:
                assert r.status == 403, (template, r.status)
        async with http.get("/wallboard", params={"token": layer.wall_token}) as r:
            assert r.status == 200 and r.cookies["cti_token"].value == layer.wall_token
            assert r.cookies["cti_token"]["httponly"]


async def test_agent_sign_in_refuses_wrong_pins_and_locks_after_five(layer):
    async with aiohttp.ClientSession(f"http://127.0.0.1:{layer.http_port}") as http:
        answers = []
        for pin in ("0000", "1357", "9999", "1111", "2222", PIN):     # 1357 is 6002's PIN, not 6001's
            async with http.post("/api/agents/6001/session", json={"pin": pin}) as r:
                answers.append(r.status)
        assert answers == [401, 401, 401, 401, 401, 429]     # locked: even the right PIN waits
        async with http.post("/api/agents/6002/session", json={"pin": "1357"}) as r:
            assert r.status == 201
            token = (await r.json())["token"]
        forged = token.replace("ag1.6002.", "ag1.6001.")       # another agent id under 6002's signature
        async with http.get("/api/agents/6001/ws", headers={"Authorization": f"Bearer {forged}"}) as r:
            assert r.status == 401


async def test_rotation_without_restart(layer, tmp_path):
    """A new credential added and the old removed in the settings take effect on reload (SIGHUP)."""
    old, new = TOKENS[roles.SUPERVISOR], "the-new-supervisor-token"
    s = layer.settings
    rotated = s.model_copy(update={"http": s.http.model_copy(update={
        "credentials": {**s.http.credentials, roles.SUPERVISOR: [hash_token(new)]}})})
    async with aiohttp.ClientSession(f"http://127.0.0.1:{layer.http_port}") as http:
        assert (await _ask(http, "GET", "/api/calls", old))[0] == 200
        assert (await _ask(http, "GET", "/api/calls", new))[0] == 401
        layer.reload_credentials(rotated)
        assert (await _ask(http, "GET", "/api/calls", old))[0] == 401
        assert (await _ask(http, "GET", "/api/calls", new))[0] == 200


async def test_an_agent_acts_on_its_own_call_only(tmp_path):
    """Against the simulator: the agent on the call may read it and create its ticket; another agent's
    session gets 403 for the call's reads, transfer and hang-up, and for that ticket."""
    from calls_support import centre

    from cti.tickets.part import TicketsPart

    async with centre(tmp_path, parts=[TicketsPart]) as c, aiohttp.ClientSession(f"http://127.0.0.1:{c.layer.http_port}") as http:
        s = c.layer.settings
        pins = {a: [hash_pin(f"{a}9")] for a in ("6001", "6002", "6101")}
        c.layer.reload_credentials(s.model_copy(update={"http": s.http.model_copy(update={"agent_pins": pins})}))
        call_id = await c.citizen("13800000002")
        owner = c.control.tracker.get(call_id).agent
        other = next(a for a in pins if a != owner)
        sessions = {}
        for agent in (owner, other):
            async with http.post(f"/api/agents/{agent}/session", json={"pin": f"{agent}9"}) as r:
                sessions[agent] = {"Authorization": f"Bearer {(await r.json())['token']}"}
        async with http.get(f"/api/calls/{call_id}", headers=sessions[owner]) as r:
            assert r.status == 200 and (await r.json())["agent"] == owner
        async with http.post("/api/tickets", headers=sessions[owner],
                             json={"request_type": "consultation", "call_ids": [call_id]}) as r:
            assert r.status == 201, await r.text()
            ticket = await r.json()
        assert ticket["agent"] == owner                      # an agent's ticket is stamped with its id
        refused = {}
        for method, path, body in (("GET", f"/api/calls/{call_id}", None),
                                   ("POST", f"/api/calls/{call_id}/transfer", {"number": "12315"}),
                                   ("POST", f"/api/calls/{call_id}/hangup", None),
                                   ("GET", f"/api/tickets/{ticket['id']}", None),
                                   ("POST", "/api/tickets", {"request_type": "consultation", "agent": owner}),
                                   ("GET", "/api/calls", None),
                                   ("POST", f"/api/agents/{owner}/pause", {"reason": "培训"})):
            async with http.request(method, path, json=body, headers=sessions[other]) as r:
                refused[(method, path)] = r.status
        assert set(refused.values()) == {403}, refused
        assert c.control.tracker.get(call_id) is not None      # the call is still up


async def test_cti_run_prints_a_viewer_wall_address_and_rotates_credentials_on_sighup(tmp_path):
    """`cti run`: the printed wall address shows the wall and may change nothing; a supervisor credential
    replaced in the settings file works after SIGHUP, and the old one no longer does."""
    import asyncio
    import os
    import re
    import signal
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    port = free_port()
    config = tmp_path / "cti.yaml"

    def write(token: str) -> None:
        config.write_text(f"data_dir: {tmp_path}\nami: {{port: {free_port()}}}\nagi: {{port: 0}}\n"
                          f"http: {{port: {port}, credentials: {{supervisor: ['{hash_token(token)}'], "
                          f"admin: ['{hash_token('admin-token-of-this-test')}']}}}}\n")

    write("old-supervisor-token")
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "CTI_CONFIG": str(config)}
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "cti.cli", "run", cwd=root, env=env,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
    try:
        seen = []

        async def wall_line() -> str:
            while "wallboard" not in (seen[-1] if seen else ""):
                line = (await proc.stdout.readline()).decode()
                assert line, f"cti run exited: {seen}"
                seen.append(line)
            return seen[-1]

        address = re.search(r"http://\S+", await asyncio.wait_for(wall_line(), 30)).group(0)
        wall_token = address.split("token=")[1]
        assert not any("admin token" in line for line in seen)      # an admin credential is configured
        async with aiohttp.ClientSession(f"http://127.0.0.1:{port}") as http:
            async with http.get(address) as r:
                assert r.status == 200
            assert (await _ask(http, "POST", "/api/calls/1/hangup", wall_token))[0] == 403
            assert (await _ask(http, "POST", "/api/outbound/do-not-call", wall_token))[0] == 403
            assert (await _ask(http, "GET", "/api/calls", "old-supervisor-token"))[0] == 200
            write("new-supervisor-token")
            proc.send_signal(signal.SIGHUP)

            async def rotated() -> None:
                while (await _ask(http, "GET", "/api/calls", "new-supervisor-token"))[0] != 200:
                    await asyncio.sleep(0.05)
            await asyncio.wait_for(rotated(), 20)
            assert (await _ask(http, "GET", "/api/calls", "old-supervisor-token"))[0] == 401
            assert (await _ask(http, "GET", "/api/figures", wall_token))[0] == 200   # this run's wall stays
    finally:
        proc.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(proc.wait(), 30) == 0
