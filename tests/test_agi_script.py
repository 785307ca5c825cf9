"""Process AGI (pyst2 transport): a real subprocess speaking AGI over stdin/stdout."""

import asyncio
import signal
import sys
import textwrap

from agi_client import FIXTURES, AgiPeer, env_lines, load_dialogue

OK_EPILOGUE = [("SET VARIABLE CTI_RESULT ok", "200 result=1")]

CUSTOM = textwrap.dedent(
    """
    import sys
    from cti.agi.registry import Registry
    from cti.agi.script import run_script

    registry = Registry()

    @registry.handler("hello")
    async def hello(call):
        await call.set_variable("CTI_NOTE", call.caller_name + " " + call.params.get("lang", ""))

    @registry.handler("boom")
    async def boom(call):
        raise RuntimeError("flow bug")

    sys.exit(run_script(sys.argv[1], registry))
    """
)


async def start(*argv: str) -> tuple[asyncio.subprocess.Process, AgiPeer]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, *argv,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    return proc, AgiPeer(proc.stdout, proc.stdin, timeout=5.0)


async def builtin(name: str = "ivr"):
    code = f"import sys; from cti.agi.script import run_script; sys.exit(run_script({name!r}))"
    return await start("-c", code)


async def test_builtin_ivr_replays_fixture_over_stdio():
    proc, peer = await builtin()
    steps = load_dialogue(FIXTURES / "enterprise-key2.agi.txt")
    sent = await peer.replay(steps, OK_EPILOGUE)
    assert "SET VARIABLE CTIQUEUE enterprise" in sent
    assert await asyncio.wait_for(proc.wait(), 5) == 0
    stderr = await proc.stderr.read()
    assert b"ENV LINE" not in stderr  # pyst2's chatter stays out of Asterisk's log


async def test_sighup_marks_hangup_and_stops_live_commands():
    proc, peer = await builtin()
    await peer.send(*env_lines())
    assert await peer.expect_command() == 'STREAM FILE hello-world ""'
    await peer.send("200 result=0 endpos=10")
    assert await peer.expect_command() == "GET DATA beep 6000 1"
    proc.send_signal(signal.SIGHUP)  # how Asterisk announces a hangup to process AGI
    await asyncio.sleep(0.2)
    await peer.send("200 result=-1")
    assert await peer.expect_command() == "GET VARIABLE CALLERID(num)"
    await peer.send("200 result=1 (13800000001)")
    assert await peer.expect_command() == 'VERBOSE "ivr done" 1'
    await peer.send("200 result=1")
    await peer.expect_closed()  # no CTI_RESULT for a caller who is gone
    assert await asyncio.wait_for(proc.wait(), 5) == 0


async def test_chinese_name_and_params_over_stdio():
    proc, peer = await start("-c", CUSTOM, "hello?lang=zh")
    await peer.send(*env_lines("/usr/local/bin/cti", agi_calleridname="张三"))
    assert await peer.expect_command() == 'SET VARIABLE CTI_NOTE "张三 zh"'
    await peer.send("200 result=1")
    assert await peer.expect_command() == "SET VARIABLE CTI_RESULT ok"
    await peer.send("200 result=1")
    assert await asyncio.wait_for(proc.wait(), 5) == 0


async def test_handler_exception_fails_open_with_exit_code_1():
    proc, peer = await start("-c", CUSTOM, "boom")
    await peer.send(*env_lines())
    assert await peer.expect_command() == "SET VARIABLE CTI_RESULT failed"
    await peer.send("200 result=1")
    assert await asyncio.wait_for(proc.wait(), 5) == 1
    stderr = (await proc.stderr.read()).decode()
    assert "138****0001" in stderr and "13800000001" not in stderr


async def test_unknown_script_fails_open():
    proc, peer = await builtin("nosuch")
    await peer.send(*env_lines())
    assert await peer.expect_command() == "SET VARIABLE CTI_RESULT failed"
    await peer.send("200 result=1")
    assert await asyncio.wait_for(proc.wait(), 5) == 1
