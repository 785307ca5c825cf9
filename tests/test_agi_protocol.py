"""The pure AGI wire format: responses (200/510/511/520, HANGUP flag), environment, request, quoting."""

import pytest

from cti.agi.errors import ProtocolError
from cti.agi.protocol import (
    AgiEnv,
    ResponseAssembler,
    format_command,
    is_dead_safe,
    parse_env,
    parse_request,
    parse_response_line,
    quote,
)
from cti.privacy import mask_number


def test_result_with_endpos():
    r = parse_response_line("200 result=0 endpos=11234")
    assert (r.code, r.result, r.endpos, r.data, r.timeout) == (200, 0, 11234, None, False)
    assert r.ok and r.raw == "200 result=0 endpos=11234"


def test_result_with_value_in_parentheses():
    r = parse_response_line("200 result=1 (13800000001)")
    assert (r.result, r.data) == (1, "13800000001")


def test_value_keeps_spaces_and_parentheses():
    r = parse_response_line("200 result=1 (a (b) c)")
    assert r.data == "a (b) c"


def test_value_in_chinese():
    assert parse_response_line("200 result=1 (张三)").data == "张三"


def test_empty_result_with_timeout():
    r = parse_response_line("200 result= (timeout)")
    assert (r.result, r.result_text, r.timeout) == ("", "", True)


def test_digits_with_timeout():
    r = parse_response_line("200 result=12 (timeout)")
    assert (r.result, r.result_text, r.timeout) == (12, "12", True)


def test_digits_keep_leading_zero_and_star():
    assert parse_response_line("200 result=0123").result_text == "0123"
    r = parse_response_line("200 result=*1")
    assert (r.result, r.result_text) == ("*1", "*1")


def test_minus_one():
    assert parse_response_line("200 result=-1").result == -1


def test_data_then_endpos():
    r = parse_response_line("200 result=0 (timeout) endpos=4000")
    assert (r.data, r.endpos, r.timeout) == ("timeout", 4000, True)


def test_510():
    r = parse_response_line("510 Invalid or unknown command")
    assert (r.code, r.ok, r.message) == (510, False, "Invalid or unknown command")


def test_511():
    r = parse_response_line("511 Command Not Permitted on a dead channel or intercept routine")
    assert r.code == 511 and r.dead_channel
    assert r.message.startswith("Command Not Permitted")


@pytest.mark.parametrize("line", ["", "HELLO", "20 result=1", "abc 200", "200-x"])
def test_garbage_is_a_protocol_error(line):
    with pytest.raises(ProtocolError):
        parse_response_line(line)


def test_520_multiline_usage():
    asm = ResponseAssembler()
    lines = [
        "520-Invalid command syntax.  Proper usage follows:",
        " Usage: GET DATA <file to be streamed> [timeout] [maxdigits]",
        "",
        "520 End of proper usage.",
    ]
    results = [asm.feed(line) for line in lines]
    assert results[:3] == [None, None, None]
    r = results[3]
    assert r.code == 520 and not r.ok
    assert "Usage: GET DATA" in r.message
    assert r.raw.splitlines()[0].startswith("520-Invalid")


def test_520_single_line():
    r = ResponseAssembler().feed("520 Invalid command syntax.  Proper usage not available.")
    assert r.code == 520


def test_hangup_line_is_a_flag_not_a_response():
    asm = ResponseAssembler()
    assert asm.feed("HANGUP") is None
    assert asm.hangup_seen
    r = asm.feed("200 result=1 (13800000001)")
    assert r.data == "13800000001"


def test_endless_continuation_is_bounded():
    asm = ResponseAssembler()
    asm.feed("520-start")
    with pytest.raises(ProtocolError):
        for _ in range(1000):
            asm.feed("more usage")


FIXTURE_ENV = [
    "agi_network: yes",
    "agi_network_script: ivr",
    "agi_request: agi://127.0.0.1:4573/ivr?lang=zh&line=2",
    "agi_channel: Local/12345@from-pstn-00000000;2",
    "agi_uniqueid: 1795339691.1",
    "agi_callerid: 13800000001",
    "agi_calleridname: 张三",
    "agi_accountcode: ",  # empty value, as Asterisk sends it
    "agi_arg_2: second",
    "agi_arg_1: first",
    "agi_arg_10: tenth",
]


def test_env_block():
    env = parse_env(FIXTURE_ENV)
    assert env.script == "ivr"
    assert dict(env.params) == {"lang": "zh", "line": "2"}
    assert env.caller_id == "13800000001"
    assert env.caller_name == "张三"
    assert env.uniqueid == "1795339691.1"
    assert env.channel == "Local/12345@from-pstn-00000000;2"
    assert env.get("agi_accountcode") == ""
    assert env.args == ("first", "second", "tenth")


def test_env_value_may_hold_colons():
    assert parse_env(["agi_request: agi://h:4573/x"]).get("agi_request") == "agi://h:4573/x"


def test_env_garbage_line():
    with pytest.raises(ProtocolError):
        parse_env(["GET / HTTP/1.1"])


def test_env_without_request():
    with pytest.raises(ProtocolError):
        parse_env(["agi_callerid: 1"])


def test_request_override_for_process_agi():
    env = AgiEnv.from_vars({"agi_request": "/usr/bin/cti"}, request="ivr?x=1")
    assert (env.script, dict(env.params)) == ("ivr", {"x": "1"})


@pytest.mark.parametrize(
    "request_,script,params",
    [
        ("agi://127.0.0.1:4573/ivr", "ivr", {}),
        ("agi://10.0.0.1/flows/main?a=1&b=", "flows/main", {"a": "1", "b": ""}),
        ("ivr", "ivr", {}),
        ("agi://h/%E4%B8%AD?q=%E6%96%87", "中", {"q": "文"}),
    ],
)
def test_parse_request(request_, script, params):
    assert parse_request(request_) == (script, params)


def test_quoting_follows_res_agi():
    assert quote("hello-world") == "hello-world"
    assert quote("") == '""'
    assert quote("", always=True) == '""'
    assert quote("ivr done") == '"ivr done"'
    assert quote('say "hi"\\') == '"say \\"hi\\"\\\\"'
    assert quote("a\nSTREAM FILE x") == '"a STREAM FILE x"'  # no command smuggling
    assert format_command("GET DATA", "beep", "6000", "1") == "GET DATA beep 6000 1"


def test_dead_safe_commands():
    assert is_dead_safe("GET VARIABLE CALLERID(num)")
    assert is_dead_safe('VERBOSE "x" 1')
    assert is_dead_safe("set variable A b")
    assert is_dead_safe("EXEC Playback x")
    assert is_dead_safe("GET FULL VARIABLE ${X}")
    assert not is_dead_safe("GET DATA beep 6000 1")
    assert not is_dead_safe('STREAM FILE hello-world ""')
    assert not is_dead_safe("HANGUP")


@pytest.mark.parametrize(
    "number,masked",
    [("13800000001", "138****0001"), ("+8613800000001", "+86*******0001"), ("12345", "1**45"),
     ("110", "110"), ("", "-"), (None, "-"), ("anonymous", "anonymous")],
)
def test_mask_number(number, masked):
    assert mask_number(number) == masked
