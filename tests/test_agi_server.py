"""The FastAGI server over real sockets: recorded Asterisk 22 dialogues, hangups, fail-open, hostile peers."""

import asyncio
import logging

import pytest
from agi_client import FIXTURES, AgiPeer, env_lines, load_dialogue

from cti.agi.builtin import default_registry
from cti.agi.call import AgiCall
from cti.agi.errors import CallHungUp
from cti.agi.registry import Registry
from cti.agi.server import AgiServer, parse_allow_list, peer_allowed

OK_EPILOGUE = [("SET VARIABLE CTI_RESULT ok", "200 result=1")]
FAILED = "SET VARIABLE CTI_RESULT failed"


@pytest.fixture
async def make_server():
    servers = []

    async def make(registry=None, **kwargs):
        kwargs.setdefault("command_timeout", 2.0)
        kwargs.setdefault("env_timeout", 1.0)
        server = AgiServer(registry or default_registry(), port=0, **kwargs)
        await server.start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        await server.stop(0.5)


async def wait_for(predicate, timeout=2.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached"
        await asyncio.sleep(0.01)


# --- the recorded dialogues -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fixture,epilogue,outcome",
    [
        ("answered-within-sl.agi.txt", OK_EPILOGUE, "ok"),
        ("enterprise-key2.agi.txt", OK_EPILOGUE, "ok"),
        # The caller is gone: nothing reads CTI_RESULT, so none is written.
        ("hangup-during-ivr.agi.txt", [], "hung_up"),
    ],
)
async def test_builtin_ivr_replays_asterisk_22_dialogue(make_server, fixture, epilogue, outcome):
    server = await make_server()
    steps = load_dialogue(FIXTURES / fixture)
    peer = await AgiPeer.connect(server.port)
    sent = await peer.replay(steps, epilogue)
    assert sent[0] == 'STREAM FILE hello-world ""'
    await wait_for(lambda: server.stats.active == 0)
    assert getattr(server.stats, outcome) == 1
    assert server.stats.failed == 0


async def run_ivr(server, answers):
    """Drive the built-in ivr with given answers; returns the commands the server sent."""
    peer = await AgiPeer.connect(server.port)
    await peer.send(*env_lines())
    sent = []
    for answer in answers:
        sent.append(await peer.expect_command())
        await peer.send(answer)
    return peer, sent


async def test_key_9_selects_supervision_queue(make_server):
    server = await make_server()
    peer, sent = await run_ivr(server, ["200 result=0 endpos=100", "200 result=9", "200 result=1"])
    assert sent[-1] == "SET VARIABLE CTIQUEUE supervision"


async def test_no_key_keeps_default_queue(make_server):
    server = await make_server()
    answers = ["200 result=0 endpos=100", "200 result= (timeout)", "200 result=1 (13800000001)",
               "200 result=1", "200 result=1"]
    peer, sent = await run_ivr(server, answers)
    assert sent == ['STREAM FILE hello-world ""', "GET DATA beep 6000 1", "GET VARIABLE CALLERID(num)",
                    'VERBOSE "ivr done" 1', "SET VARIABLE CTI_RESULT ok"]
    await peer.expect_closed()


# --- hangups ----------------------------------------------------------------------------------------


async def test_hangup_line_during_get_data_stops_before_next_live_command(make_server):
    seen: dict = {}
    registry = Registry()

    @registry.handler("menu")
    async def menu(call: AgiCall):
        choice = await call.get_data("beep", 6000, 1)
        seen["after_get_data"] = (choice, call.hung_up)
        seen["num"] = await call.get_variable("CALLERID(num)")  # dead-safe: still answered
        try:
            await call.stream_file("goodbye")  # not dead-safe: must not reach the wire
        except CallHungUp:
            seen["raised"] = True
            raise

    server = await make_server(registry)
    peer = await AgiPeer.connect(server.port)
    await peer.send(*env_lines("agi://127.0.0.1:4573/menu"))
    assert await peer.expect_command() == "GET DATA beep 6000 1"
    await peer.send("HANGUP", "200 result=-1")
    assert await peer.expect_command() == "GET VARIABLE CALLERID(num)"
    await peer.send("200 result=1 (13800000001)")
    await peer.expect_closed()
    choice, hung_up = seen["after_get_data"]
    assert choice.failed and choice.digits == "" and hung_up
    assert seen["num"] == "13800000001"
    assert seen["raised"]
    await wait_for(lambda: server.stats.hung_up == 1)
    assert server.stats.failed == 0


async def test_511_marks_hung_up_and_ends_cleanly(make_server):
    server = await make_server()
    peer = await AgiPeer.connect(server.port)
    await peer.send(*env_lines())
    assert await peer.expect_command() == 'STREAM FILE hello-world ""'
    await peer.send("511 Command Not Permitted on a dead channel or intercept routine")
    await peer.expect_closed()  # no GET DATA, no CTI_RESULT
    await wait_for(lambda: server.stats.hung_up == 1)


# --- fail-open --------------------------------------------------------------------------------------


async def test_handler_exception_sets_failed_and_logs_masked_caller(make_server, caplog):
    registry = Registry()

    @registry.handler("boom")
    async def boom(call: AgiCall):
        await call.verbose("about to fail")
        raise RuntimeError("flow bug")

    server = await make_server(registry)
    peer = await AgiPeer.connect(server.port)
    with caplog.at_level(logging.INFO, logger="cti.agi"):
        await peer.send(*env_lines("agi://127.0.0.1:4573/boom"))
        assert await peer.expect_command() == 'VERBOSE "about to fail" 1'
        await peer.send("200 result=1")
        assert await peer.expect_command() == FAILED
        await peer.send("200 result=1")
        await peer.expect_closed()
    assert server.stats.failed == 1
    assert "138****0001" in caplog.text
    assert "13800000001" not in caplog.text


async def test_510_from_asterisk_fails_open(make_server):
    registry = Registry()

    @registry.handler("typo")
    async def typo(call: AgiCall):
        await call.command("STREM FILE x")

    server = await make_server(registry)
    peer = await AgiPeer.connect(server.port)
    await peer.send(*env_lines("agi://127.0.0.1:4573/typo"))
    assert await peer.expect_command() == "STREM FILE x"
    await peer.send("510 Invalid or unknown command")
    assert await peer.expect_command() == FAILED


async def test_520_usage_fails_open(make_server):
    registry = Registry()

    @registry.handler("bad")
    async def bad(call: AgiCall):
        await call.command("GET DATA")

    server = await make_server(registry)
    peer = await AgiPeer.connect(server.port)
    await peer.send(*env_lines("agi://127.0.0.1:4573/bad"))
    assert await peer.expect_command() == "GET DATA"
    await peer.send("520-Invalid command syntax.  Proper usage follows:", " Usage: GET DATA <file>",
                    "520 End of proper usage.")
    assert await peer.expect_command() == FAILED


async def test_unknown_script_sets_failed_and_ends(make_server, caplog):
    server = await make_server()
    peer = await AgiPeer.connect(server.port)
    with caplog.at_level(logging.WARNING, logger="cti.agi"):
        await peer.send(*env_lines("agi://127.0.0.1:4573/nosuch?x=1"))
        assert await peer.expect_command() == FAILED
        await peer.send("200 result=1")
        await peer.expect_closed()
    assert "no handler for this script, script='nosuch'" in caplog.text
    assert server.stats.failed == 1


async def test_peer_disconnect_mid_call_ends_only_that_call(make_server):
    server = await make_server()
    peer = await AgiPeer.connect(server.port)
    await peer.send(*env_lines())
    await peer.expect_command()
    await peer.close()
    await wait_for(lambda: server.stats.failed == 1)
    assert server.stats.active == 0
    # the server still serves the next call
    steps = load_dialogue(FIXTURES / "answered-within-sl.agi.txt")
    await (await AgiPeer.connect(server.port)).replay(steps, OK_EPILOGUE)


async def test_command_timeout_fails_open_after_stale_answer(make_server):
    server = await make_server(command_timeout=0.3)
    peer = await AgiPeer.connect(server.port)
    await peer.send(*env_lines())
    assert await peer.expect_command() == 'STREAM FILE hello-world ""'
    # Asterisk is stuck: no answer; the server gives up and queues CTI_RESULT=failed behind it.
    assert await peer.expect_command() == FAILED
    await peer.send("200 result=0 endpos=1", "200 result=1")  # the late answer, then the SET's
    await peer.expect_closed()
    assert server.stats.failed == 1


async def test_params_args_and_chinese_name_arrive_intact(make_server):
    seen: dict = {}
    registry = Registry()

    @registry.handler("info")
    async def info(call: AgiCall):
        seen.update(name=call.caller_name, params=dict(call.params), args=call.args,
                    uniqueid=call.uniqueid, channel=call.channel, caller=call.caller_id)
        await call.set_variable("CTI_NOTE", "张三 来电")

    server = await make_server(registry)
    peer = await AgiPeer.connect(server.port)
    await peer.send(*env_lines("agi://127.0.0.1:4573/info?lang=zh&line=2", agi_calleridname="张三",
                               agi_arg_1="企业", agi_arg_2="x"))
    assert await peer.expect_command() == 'SET VARIABLE CTI_NOTE "张三 来电"'
    await peer.send("200 result=1")
    assert await peer.expect_command() == "SET VARIABLE CTI_RESULT ok"
    assert seen == {"name": "张三", "params": {"lang": "zh", "line": "2"}, "args": ("企业", "x"),
                    "uniqueid": "1795339691.1", "channel": "Local/12345@from-pstn-00000000;2",
                    "caller": "13800000001"}


# --- hostile peers ----------------------------------------------------------------------------------


async def assert_dropped(server, data: bytes):
    peer = await AgiPeer.connect(server.port)
    await peer.send_raw(data)
    await peer.expect_closed()


async def test_garbage_invalid_utf8_overlong_and_silent_peers_do_not_hurt(make_server):
    server = await make_server(env_timeout=0.3)
    await assert_dropped(server, b"\x00\xff\xfe garbage\r\n\r\n")
    await assert_dropped(server, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    await assert_dropped(server, b"agi_request: agi://x/ivr" + b"A" * 20_000 + b"\n")
    await assert_dropped(server, b"".join(b"agi_x%d: y\n" % i for i in range(1000)))
    await assert_dropped(server, b"agi_request: agi://x/ivr\n")  # then silence: env timeout
    silent = await AgiPeer.connect(server.port)
    await silent.expect_closed()
    assert server.stats.bad_peers == 6
    # Invalid UTF-8 inside a real call: the bytes are replaced and the call goes on.
    peer = await AgiPeer.connect(server.port)
    env = "\n".join(env_lines()).encode().replace(b"Citizen", b"Cit\xff\xfezen")
    await peer.send_raw(env + b"\n")
    assert await peer.expect_command() == 'STREAM FILE hello-world ""'
    await peer.send_raw(b"200 result=0 \xff endpos=5\n")
    assert await peer.expect_command() == "GET DATA beep 6000 1"
    await peer.send_raw(b"\xde\xad\xbe\xef\n")  # garbage where a response belongs: this call fails open
    assert await peer.expect_command() == FAILED
    await peer.close()
    # and a good call after all that
    steps = load_dialogue(FIXTURES / "enterprise-key2.agi.txt")
    await (await AgiPeer.connect(server.port)).replay(steps, OK_EPILOGUE)
    await wait_for(lambda: server.stats.ok == 1)


async def test_allow_list_rejects_other_peers(make_server, caplog):
    server = await make_server(allow=["10.0.0.0/8", "192.168.1.7"])
    with caplog.at_level(logging.WARNING, logger="cti.agi"):
        peer = await AgiPeer.connect(server.port)
        await peer.send(*env_lines())
        await peer.expect_closed()
    assert server.stats.rejected == 1 and server.stats.started == 0
    assert "peer 127.0.0.1 not in allow list" in caplog.text


def test_allow_list_matching():
    nets = parse_allow_list(["127.0.0.1", "10.0.0.0/8", "::1"])
    assert peer_allowed("127.0.0.1", nets)
    assert peer_allowed("10.20.30.40", nets)
    assert peer_allowed("::ffff:10.1.1.1", nets)
    assert peer_allowed("::1", nets)
    assert not peer_allowed("127.0.0.2", nets)
    assert not peer_allowed("garbage", nets)
    with pytest.raises(ValueError):
        parse_allow_list(["not-an-ip"])


# --- shutdown ---------------------------------------------------------------------------------------


async def test_graceful_shutdown_lets_running_call_finish(make_server):
    server = await make_server()
    peer = await AgiPeer.connect(server.port)
    await peer.send(*env_lines())
    assert await peer.expect_command() == 'STREAM FILE hello-world ""'
    stopping = asyncio.create_task(server.stop(grace=3.0))
    await asyncio.sleep(0.05)
    with pytest.raises(OSError):
        await asyncio.open_connection("127.0.0.1", server.port)  # no longer accepting
    for answer in ["200 result=0 endpos=1", "200 result=1", "200 result=1 (13800000001)", "200 result=1"]:
        await peer.send(answer)
        await peer.expect_command()
    await peer.send("200 result=1")  # the CTI_RESULT=ok
    await peer.expect_closed()
    await asyncio.wait_for(stopping, 2.0)
    assert server.stats.ok == 1


async def test_shutdown_deadline_cancels_and_fails_open(make_server, caplog):
    server = await make_server(command_timeout=30.0)
    peer = await AgiPeer.connect(server.port)
    await peer.send(*env_lines())
    assert await peer.expect_command() == 'STREAM FILE hello-world ""'
    stopping = asyncio.create_task(server.stop(grace=0.2))
    assert await peer.expect_command() == FAILED
    await peer.send("200 result=0 endpos=1", "200 result=1")
    await peer.expect_closed()
    await asyncio.wait_for(stopping, 3.0)
    assert server.stats.failed == 1 and server.stats.active == 0
    await asyncio.sleep(0)      # the stream server's done-callback of the connection's task
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text   # a stop is no error
