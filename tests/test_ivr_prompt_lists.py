"""Prompt lists over real FastAGI, as Asterisk 22 plays them: one file per AGI command.

On the real switch GET DATA, STREAM FILE, GET OPTION and CONTROL STREAM FILE take ONE file name, and
``200 result=-1`` alone is not a hang-up (DESIGN.md 5, "Seen on the real switch"; issue 12, failure 1).
Two rigs: the PBX simulator's scripted callers (whole calls, the simulator answering like Asterisk),
and a scripted Asterisk side (tests/agi_client.py) that checks each command on the wire.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shlex
import shutil
from pathlib import Path

from agi_client import AgiPeer, env_lines
from ivr_rig import FLOWS, WORKDAY, epoch, flows_settings, rig

from cti.agi import AgiServer, Registry
from cti.bus import EventBus
from cti.simulator import SimConfig, Simulator
from cti.simulator.scripted import place_scripted_call
from ivr_flows.part import build_calendar, build_engine, build_store
from ivr_flows.record import TOPIC_SESSION

CASES = Path(__file__).resolve().parent / "fixtures" / "cases"
KEYS = '"0123456789*#"'     # every key cuts a prompt of a menu, as GET DATA's own prompt
CALLER = "13800000001"      # the caller of the recorded environment (env_lines)


def keys_at_menus(*keys: str) -> list[tuple]:
    """Listen to the welcome, then press one key per menu (each menu starts a new prompt)."""
    steps: list[tuple] = [("prompt",)]
    for key in keys:
        steps += [("prompt",), ("wait", 0.5), ("dtmf", key)]
    return steps


def agi_commands(sim: Simulator) -> list[tuple[str, str, str]]:
    """(uniqueid, command, AGIExecEnd ResultCode) for every AGI command the simulator runs."""
    seen: list[tuple[str, str, str]] = []

    def listener(message: list[tuple[str, str]]) -> None:
        fields = dict(message)
        if fields.get("Event") == "AGIExecEnd":
            seen.append((fields.get("Uniqueid", ""), fields.get("Command", ""), fields.get("ResultCode", "")))

    sim.pbx.listeners.append(listener)
    return seen


# --- the simulator's callers: whole calls -------------------------------------------------------------


async def test_given_key_2_and_silence_at_the_enterprise_menu_then_the_no_key_prompt_goes_file_by_file_and_enterprise_with_cti_result_ok():
    async with rig() as r:
        seen = agi_commands(r.sim)
        caller = r.call(keys_at_menus("2"))
        assert await caller.wait_queued() == "enterprise"
        assert r.channel_vars(caller)["CTI_RESULT"] == "ok"
        commands = [c for _u, c, _code in seen]
        assert not [c for c in commands if "&" in c]
        reprompt = commands.index(f"STREAM FILE cti12345/no-key {KEYS}")
        assert commands[reprompt + 1] == "GET DATA cti12345/yiqilai-menu-short 5000 1"
        rec = r.record_of(caller)
        assert [s.event for s in rec.path if s.node == "menu"][-2:] == ["no key", "no key"]
        assert rec.outcome == "queue" and rec.tags == ("企业",)


async def test_given_key_2_when_a_sub_menu_key_is_pressed_during_the_no_key_prompt_then_the_list_ends_and_enterprise_with_cti_result_ok():
    async with rig() as r:
        seen = agi_commands(r.sim)
        # The 一企来 welcome and menu in silence, then 1 (policy) during the no-key prompt, then 1 (tax).
        caller = r.call(keys_at_menus("2") + [("prompt",), ("prompt",), ("prompt",), ("wait", 0.3), ("dtmf", "1"),
                                               ("prompt",), ("wait", 0.5), ("dtmf", "1")])
        assert await caller.wait_queued() == "enterprise"
        assert r.channel_vars(caller)["CTI_RESULT"] == "ok"
        rec = r.record_of(caller)
        assert rec.tags == ("企业", "政策咨询", "税务") and rec.keys == "2,1,1"
        answers = [(c, code) for _u, c, code in seen]
        no_key = [i for i, (c, _code) in enumerate(answers) if c == f"STREAM FILE cti12345/no-key {KEYS}"]
        assert len(no_key) == 1
        # The key ended the list: the short menu after it was never played, the policy menu came next.
        assert answers[no_key[0] + 1][0] == "GET DATA cti12345/policy-menu 5000 1"


async def test_given_a_silent_caller_then_the_no_key_prompt_goes_file_by_file_and_the_flows_default_queue_with_cti_result_ok():
    async with rig() as r:
        seen = agi_commands(r.sim)
        caller = r.call([("prompt",)])
        assert await caller.wait_queued() == "public"
        assert r.channel_vars(caller)["CTI_RESULT"] == "ok"
        commands = [c for _u, c, _code in seen]
        assert commands[commands.index(f"STREAM FILE cti12345/no-key {KEYS}") + 1] == \
            "GET DATA cti12345/main-menu-short 5000 1"
        assert not [c for c in commands if "&" in c]
        rec = r.record_of(caller)
        assert [s.event for s in rec.path if s.node == "menu"] == ["no key", "no key"]
        assert rec.outcome == "queue" and rec.queue == "public"


async def test_given_a_prompt_missing_on_the_switch_when_the_caller_presses_9_then_it_is_logged_and_supervision_with_cti_result_ok(caplog):
    async with rig() as r:
        r.sim.config.missing_prompts.add("cti12345/supervision")
        with caplog.at_level(logging.WARNING, logger="ivr_flows"):
            caller = r.call(keys_at_menus("9"))
            assert await caller.wait_queued() == "supervision"
        chan = r.channel_vars(caller)
        assert chan["CTI_RESULT"] == "ok" and chan["__CTI_TAGS"] == "政务服务监管"
        warnings = [rec.getMessage() for rec in caplog.records if rec.name == "ivr_flows"]
        assert any("'cti12345/supervision'" in w and "138****0001" in w for w in warnings)
        assert r.record_of(caller).outcome == "queue"


async def test_given_the_simulator_when_an_agi_prompt_names_two_files_then_it_answers_result_minus_1_and_the_channel_stays_live():
    answers: dict[str, object] = {}
    registry = Registry()

    @registry.handler("ivr")
    async def probe(call):
        answers["stream"] = (await call.command('STREAM FILE hello-world&beep "12"')).raw
        answers["option"] = (await call.command('GET OPTION hello-world&beep "12" 100')).raw
        answers["data"] = (await call.command("GET DATA hello-world&beep 100 1")).raw
        answers["noop"] = (await call.command("NOOP")).raw
        answers["hung_up"] = call.hung_up
        await call.set_variable("CTIQUEUE", "public")

    server = AgiServer(registry, port=0, command_timeout=2.0)
    await server.start()
    sim = Simulator(SimConfig(ami_port=0, agi_port=server.port, speed=50))
    await sim.start()
    try:
        caller = place_scripted_call(sim, [])
        assert await caller.wait_queued() == "public"
    finally:
        await sim.stop()
        await server.stop(0.5)
    assert answers == {"stream": "200 result=-1 endpos=0", "option": "200 result=-1 endpos=0",
                       "data": "200 result=-1", "noop": "200 result=0", "hung_up": False}
    assert caller.call.pstn.variables["CTI_RESULT"] == "ok"


# --- a scripted Asterisk: every command on the wire ---------------------------------------------------


@contextlib.asynccontextmanager
async def ivr_on_fastagi(flows_dir: Path = FLOWS, when: str = WORKDAY):
    """The shipped IVR engine on a real FastAGI server, its clock at ``when``; yields (server, records)."""
    s = flows_settings(flows_dir)
    bus = EventBus()
    records: list = []
    bus.subscribe(TOPIC_SESSION, lambda _t, record: records.append(record))
    store = build_store(s)
    store.reload()
    engine = build_engine(s, store, build_calendar(s), bus=bus, clock=lambda: epoch(when))
    registry = Registry()
    registry.add("ivr", engine.ivr)
    server = AgiServer(registry, port=0, command_timeout=2.0)
    await server.start()
    try:
        yield server, records
    finally:
        await server.stop(0.5)
        await store.stop()


class Switch:
    """Asterisk's side of one FastAGI call: checks each command the layer sends and answers it."""

    def __init__(self, peer: AgiPeer):
        self.peer = peer
        self.commands: list[str] = []
        self.variables: dict[str, str] = {}

    @classmethod
    async def call(cls, port: int, env: list[str] | None = None) -> Switch:
        peer = await AgiPeer.connect(port)
        await peer.send(*(env or env_lines()))
        return cls(peer)

    async def next_command(self) -> str | None:
        try:
            line = await asyncio.wait_for(self.peer.reader.readline(), self.peer.timeout)
        except ConnectionResetError:
            return None
        if not line:
            return None
        command = line.decode("utf-8").rstrip("\n")
        self.commands.append(command)
        if command.startswith("SET VARIABLE "):
            name, value = shlex.split(command[len("SET VARIABLE "):])
            self.variables[name] = value
        return command

    async def expect(self, command: str, *answer: str) -> None:
        got = await self.next_command()
        assert got == command, f"layer sent {got!r}, expected {command!r}"
        await self.peer.send(*answer)

    async def answer_variables_to_the_end(self) -> None:
        """Answer SET VARIABLE until the layer ends the AGI session; any other command fails the test."""
        while (command := await self.next_command()) is not None:
            assert command.startswith("SET VARIABLE "), f"unexpected {command!r}"
            await self.peer.send("200 result=1")

    async def expect_closed(self) -> None:
        assert await self.next_command() is None, f"layer sent {self.commands[-1]!r} instead of ending"


async def to_main_menu(switch: Switch) -> None:
    await switch.expect("GET VARIABLE CTI_HOTLINE", "200 result=1 (12345)")
    await switch.expect(f"STREAM FILE cti12345/welcome {KEYS}", "200 result=0 endpos=24000")


async def wait_for(predicate, timeout: float = 2.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached"
        await asyncio.sleep(0.01)


async def test_given_two_prompts_when_a_key_is_pressed_during_the_first_then_the_list_ends_and_the_key_counts():
    async with ivr_on_fastagi() as (server, records):
        switch = await Switch.call(server.port)
        await to_main_menu(switch)
        await switch.expect("GET DATA cti12345/main-menu 5000 1", "200 result= (timeout)")
        # The no-key re-prompt is two prompts: 9 pressed during the first (ASCII 57) ends the list.
        await switch.expect(f"STREAM FILE cti12345/no-key {KEYS}", "200 result=57 endpos=3200")
        await switch.expect(f"STREAM FILE cti12345/supervision {KEYS}", "200 result=0 endpos=32000")
        await switch.answer_variables_to_the_end()
        assert switch.variables["CTIQUEUE"] == "supervision" and switch.variables["CTI_RESULT"] == "ok"
        assert not [c for c in switch.commands if "main-menu-short" in c]
        await wait_for(lambda: records)
        assert [s.event for s in records[0].path if s.node == "menu"] == ["no key", "key 9"]


async def test_given_two_prompts_of_a_multi_digit_input_when_a_key_is_pressed_during_the_first_then_the_other_digits_follow_by_wait_for_digit(tmp_path):
    (tmp_path / "main.yaml").write_text(
        "flow: main\nstart: ask\nnodes:\n"
        "  ask:\n    type: collect\n    prompt: [cti12345/welcome, cti12345/main-menu]\n    store: account\n"
        "    min_digits: 3\n    max_digits: 3\n    first_digit_timeout: 5\n    inter_digit_timeout: 2\n"
        "    next: done\n"
        "  done:\n    type: queue\n    queue: public\n", encoding="utf-8")
    shutil.copy(FLOWS / "survey.yaml", tmp_path)   # the store wants every configured flow
    async with ivr_on_fastagi(tmp_path) as (server, records):
        switch = await Switch.call(server.port)
        await switch.expect("GET VARIABLE CTI_HOTLINE", "200 result=1 (12345)")
        await switch.expect(f"STREAM FILE cti12345/welcome {KEYS}", "200 result=49 endpos=800")   # '1'
        await switch.expect("WAIT FOR DIGIT 2000", "200 result=50")                               # '2'
        await switch.expect("WAIT FOR DIGIT 2000", "200 result=51")                               # '3'
        await switch.answer_variables_to_the_end()
        assert switch.variables["CTIQUEUE"] == "public" and switch.variables["CTI_RESULT"] == "ok"
        assert not [c for c in switch.commands if "main-menu" in c]
        await wait_for(lambda: records)
        assert [s.event for s in records[0].path] == ["digits 123", "queue public"]


async def test_given_result_minus_1_on_a_live_channel_for_one_prompt_then_it_is_logged_and_the_flow_goes_on(caplog):
    async with ivr_on_fastagi() as (server, records):
        switch = await Switch.call(server.port)
        with caplog.at_level(logging.WARNING, logger="ivr_flows"):
            await to_main_menu(switch)
            await switch.expect("GET DATA cti12345/main-menu 5000 1", "200 result= (timeout)")
            await switch.expect(f"STREAM FILE cti12345/no-key {KEYS}", "200 result=-1 endpos=0")
            await switch.expect("NOOP", "200 result=0")            # no HANGUP before it: the channel is live
            await switch.expect("GET DATA cti12345/main-menu-short 5000 1", "200 result=1")
            await switch.expect("STREAM FILE cti12345/transfer-agent \"\"", "200 result=0 endpos=16000")
            await switch.answer_variables_to_the_end()
        assert switch.variables["CTIQUEUE"] == "public" and switch.variables["CTI_RESULT"] == "ok"
        warnings = [r.getMessage() for r in caplog.records if r.name == "ivr_flows" and r.levelno == logging.WARNING]
        assert len(warnings) == 1 and "'cti12345/no-key'" in warnings[0]
        assert CALLER not in warnings[0] and "138****0001" in warnings[0]
        await wait_for(lambda: records)
        assert records[0].outcome == "queue" and records[0].keys == "1"


async def test_given_result_minus_1_then_a_hangup_line_then_the_caller_hung_up_and_nothing_more_is_sent(caplog):
    async with ivr_on_fastagi() as (server, records):
        switch = await Switch.call(server.port)
        with caplog.at_level(logging.WARNING, logger="ivr_flows"):
            await to_main_menu(switch)
            await switch.expect("GET DATA cti12345/main-menu 5000 1", "200 result=-1")
            # As recorded (hangup-during-ivr): the HANGUP line comes after the -1, before the next answer.
            await switch.expect("NOOP", "HANGUP", "200 result=0")
            await switch.expect_closed()            # no re-prompt, no CTIQUEUE, no CTI_RESULT
        assert switch.variables == {}
        await wait_for(lambda: server.stats.hung_up == 1)
        assert server.stats.failed == 0
        await wait_for(lambda: records)
        assert records[0].outcome == "caller_hangup" and records[0].queue is None
        assert not [r for r in caplog.records if r.name == "ivr_flows" and r.levelno >= logging.WARNING]


async def test_given_result_minus_1_then_the_connection_closes_then_the_caller_hung_up():
    async with ivr_on_fastagi() as (server, records):
        switch = await Switch.call(server.port)
        await to_main_menu(switch)
        await switch.expect("GET DATA cti12345/main-menu 5000 1", "200 result=-1")
        assert await switch.next_command() == "NOOP"
        await switch.peer.close()
        await wait_for(lambda: server.stats.hung_up == 1)
        assert server.stats.failed == 0
        await wait_for(lambda: records)
        assert records[0].outcome == "caller_hangup"


# --- recorded cases -----------------------------------------------------------------------------------


def load_case(path: Path) -> tuple[list[str], list[str]]:
    """A case file: ``ENV`` lines are the agi_ environment, ``R`` lines Asterisk's answers in order."""
    env, answers = [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        kind, _, rest = line.partition(" ")
        if kind == "ENV":
            env.append(rest)
        elif kind == "R":
            answers.append(rest)
    return env + [""], answers


async def test_case_agi_missing_prompt_key9_reaches_supervision_with_its_tag_and_cti_result_ok(caplog):
    """tropo-agitate issue 1 / res_agi's streamfile handler: STREAM FILE answers ``200 result=-1
    endpos=0`` for a missing prompt file on a live channel, with no HANGUP line; the right result is
    to log the prompt and go on: CTIQUEUE=supervision, tag 政务服务监管, CTI_RESULT=ok."""
    env, answers = load_case(CASES / "agi_missing_prompt_key9.txt")
    async with ivr_on_fastagi() as (server, records):
        switch = await Switch.call(server.port, env)
        with caplog.at_level(logging.WARNING, logger="ivr_flows"):
            for answer in answers:
                assert await switch.next_command() is not None
                await switch.peer.send(answer)
            # Past the recording: a live channel answers NOOP, then the variables.
            await switch.expect("NOOP", "200 result=0")
            await switch.answer_variables_to_the_end()
        assert switch.commands[:4] == ["GET VARIABLE CTI_HOTLINE", f"STREAM FILE cti12345/welcome {KEYS}",
                                       "GET DATA cti12345/main-menu 5000 1",
                                       f"STREAM FILE cti12345/supervision {KEYS}"]
        assert switch.variables["CTIQUEUE"] == "supervision"
        assert switch.variables["__CTI_TAGS"] == "政务服务监管"
        assert switch.variables["CTI_RESULT"] == "ok"
        warnings = [r.getMessage() for r in caplog.records if r.name == "ivr_flows" and r.levelno == logging.WARNING]
        assert len(warnings) == 1 and "'cti12345/supervision'" in warnings[0]
        assert "13900000000" not in warnings[0]
        await wait_for(lambda: server.stats.ok == 1)
        assert records[0].outcome == "queue" and records[0].tags == ("政务服务监管",)
