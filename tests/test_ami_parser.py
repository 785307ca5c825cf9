"""The pure AMI parser: frames, banner, odd input."""

import logging

import pytest
from ami_replay import SCENARIOS, fields_of, load

from cti.ami.message import MAX_FRAME_BYTES, AmiMessage, parse


def test_banner_and_login_response_in_one_chunk():
    data = b"Asterisk Call Manager/11.0.0\r\nResponse: Success\r\nActionID: 1\r\nMessage: Authentication accepted\r\n\r\n"
    messages, rest = parse(data)
    assert rest == b""
    assert [m["Message"] for m in messages] == ["Authentication accepted"]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_recorded_frame_parses_to_its_fields(scenario):
    rec = load(scenario)
    stream = b"".join(f + b"\r\n\r\n" for f in rec.frames)
    messages, rest = parse(stream)
    assert rest == b""
    assert [list(m.fields) for m in messages] == [fields_of(f) for f in rec.frames]


def test_split_at_every_byte_gives_the_same_messages():
    rec = load("answered-within-sl")
    stream = b"".join(f + b"\r\n\r\n" for f in rec.frames[:12]).replace(b"Citizen", "张三".encode())
    whole, _ = parse(stream)
    for cut in range(1, len(stream), 7):
        first, rest = parse(stream[:cut])
        second, rest = parse(rest + stream[cut:])
        assert first + second == whole
        assert rest == b""
    assert any(m.get("CallerIDName") == "张三" for m in whole)


def test_headers_are_case_insensitive_and_timestamp_parsed():
    (msg,), _ = parse(b"Event: QueueParams\r\nTimestamp: 1795339694.584391\r\nServicelevelPerf: 100.0\r\n\r\n")
    assert msg["servicelevelperf"] == msg["ServiceLevelPerf"] == "100.0"
    assert msg.timestamp == pytest.approx(1795339694.584391)
    assert msg.time.year == 2026
    assert msg.name == "QueueParams"


def test_message_is_immutable():
    msg = AmiMessage.of(Event="Hangup")
    with pytest.raises(AttributeError):
        msg.foo = 1
    with pytest.raises(TypeError):
        msg["Event"] = "x"


def test_repeated_headers_keep_every_value():
    (msg,), _ = parse(b"Response: Success\r\nChanVariable: A=1\r\nChanVariable: B=2\r\n\r\n")
    assert msg["ChanVariable"] == "A=1"
    assert msg.getall("chanvariable") == ["A=1", "B=2"]


def test_line_without_colon_is_logged_and_skipped(caplog):
    with caplog.at_level(logging.WARNING):
        (msg,), _ = parse(b"Event: Newexten\r\ngarbage line\r\nChannel: X\r\n\r\n")
    assert dict(msg) == {"Event": "Newexten", "Channel": "X"}
    assert "without a colon" in caplog.text


def test_invalid_utf8_is_replaced_not_fatal():
    (msg,), _ = parse(b"Event: Newchannel\r\nCallerIDName: \xff\xfe\xe5\r\n\r\n")
    assert msg["Event"] == "Newchannel"
    assert "\ufffd" in msg["CallerIDName"]


def test_endless_frame_is_dropped_and_memory_bounded(caplog):
    with caplog.at_level(logging.ERROR):
        messages, rest = parse(b"Event: Big\r\nX: " + b"a" * (MAX_FRAME_BYTES + 10))
    assert messages == [] and rest == b""
    assert "without an end" in caplog.text
    # The stream recovers with the next complete frame.
    messages, rest = parse(b"\r\n\r\nEvent: Ok\r\n\r\n")
    assert [m.name for m in messages] == ["Ok"]


def test_response_empty_value_header():
    (msg,), _ = parse(b"Event: Newchannel\r\nAccountCode: \r\nExten:\r\n\r\n")
    assert msg["AccountCode"] == "" and msg["Exten"] == ""
