"""The AMI client against a TCP server replaying the Asterisk 22 recordings byte for byte."""

import asyncio
import logging

import pytest
from ami_replay import SCENARIOS, ReplayServer, event_frames, fields_of, load

from cti.ami import (
    TOPIC_EVENT,
    TOPIC_RESYNCED,
    TOPIC_STATE,
    AmiClient,
    AmiLoginError,
    AmiState,
    AmiTimeout,
)
from cti.bus import EventBus


class Collector:
    def __init__(self, bus: EventBus):
        self.events, self.resyncs, self.states = [], [], []
        bus.subscribe(TOPIC_EVENT, lambda t, m: self.events.append(m))
        bus.subscribe(TOPIC_RESYNCED, lambda t, m: self.resyncs.append(m))
        bus.subscribe(TOPIC_STATE, lambda t, m: self.states.append(m[0]))

    async def wait_events(self, n: int, timeout: float = 5.0) -> None:
        async def until():
            while len(self.events) < n:
                await asyncio.sleep(0.01)
        await asyncio.wait_for(until(), timeout)


async def start_client(server: ReplayServer, bus: EventBus, **kw) -> AmiClient:
    client = AmiClient(bus, host="127.0.0.1", port=server.port, username="cti", secret="cti-secret",
                       reconnect_min=0.05, reconnect_max=0.2, **kw)
    await client.start()
    return client


@pytest.mark.parametrize("scenario", SCENARIOS)
async def test_every_recorded_event_arrives_with_its_fields(scenario):
    frames = event_frames(load(scenario))
    server = ReplayServer(events=frames)
    await server.start()
    bus = EventBus()
    seen = Collector(bus)
    client = await start_client(server, bus)
    try:
        login = load("login").frames[1:]
        await seen.wait_events(len(login) + len(frames))
        assert [list(m.fields) for m in seen.events] == [fields_of(f) for f in login + frames]
        stamped = [m for m in seen.events if "Timestamp" in m]
        assert stamped and all(m.timestamp == float(m["timestamp"]) for m in stamped)
        assert client.state is AmiState.CONNECTED
        assert len(seen.resyncs) == 1 and not seen.resyncs[0].reconnect
    finally:
        await client.close()
        await server.stop()


async def test_resync_reads_queue_status_and_channels():
    server = ReplayServer()
    await server.start()
    bus = EventBus()
    seen = Collector(bus)
    client = await start_client(server, bus)
    try:
        (snap,) = seen.resyncs
        assert [m.name for m in snap.queue_status] == ["QueueParams", "QueueMember", "QueueMember", "QueueParams", "QueueMember"]
        assert snap.queue_status[0]["ServicelevelPerf"] == "100.0"
        assert {m["Channel"] for m in snap.channels} >= {"Local/12315@departments-0000000d;2"}
        assert [a["Action"] for a in server.received[:3]] == ["Login", "QueueStatus", "CoreShowChannels"]
    finally:
        await client.close()
        await server.stop()


async def test_bad_credentials_fail_without_retrying(caplog):
    server = ReplayServer(secret="other")
    await server.start()
    bus = EventBus()
    seen = Collector(bus)
    client = AmiClient(bus, port=server.port, username="cti", secret="cti-secret", reconnect_min=0.01)
    try:
        with caplog.at_level(logging.ERROR), pytest.raises(AmiLoginError, match="Authentication failed"):
            await client.start()
        await asyncio.sleep(0.2)
        assert server.logins == 1
        assert client.state is AmiState.FAILED and seen.states[-1] is AmiState.FAILED
        assert "not retrying" in caplog.text
    finally:
        await client.close()
        await server.stop()


async def test_connection_dropped_mid_message_reconnects_and_resyncs():
    frames = event_frames(load("answered-within-sl"))
    server = ReplayServer(events=frames, drop_after=40)
    await server.start()
    bus = EventBus()
    seen = Collector(bus)
    client = await start_client(server, bus)
    try:
        await seen.wait_events(2 * 2 + len(frames) - 1)
        expected = [fields_of(f) for i, f in enumerate(frames) if i != 40]
        got = [list(m.fields) for m in seen.events if m.name not in ("FullyBooted", "SuccessfulAuth")]
        assert got == expected  # the torn frame is not half-delivered
        assert [r.reconnect for r in seen.resyncs] == [False, True]
        assert AmiState.RECONNECTING in seen.states and client.state is AmiState.CONNECTED
        assert server.logins == 2
    finally:
        await client.close()
        await server.stop()


async def test_unreachable_then_reachable_uses_backoff():
    server = ReplayServer()
    await server.start()
    port = server.port
    await server.stop()
    bus = EventBus()
    seen = Collector(bus)
    client = AmiClient(bus, port=port, username="cti", secret="cti-secret", reconnect_min=0.05, reconnect_max=0.1)
    await client.start(wait=False)
    await asyncio.sleep(0.3)
    assert client.state is AmiState.RECONNECTING
    server2 = ReplayServer()
    await server2.start(port)
    try:
        await client.wait_connected(5)
        assert client.state is AmiState.CONNECTED
        assert seen.states[0] is AmiState.CONNECTING
    finally:
        await client.close()
        await server2.stop()


async def test_action_without_answer_times_out_and_is_forgotten():
    server = ReplayServer()
    await server.start()
    client = await start_client(server, EventBus())
    server.answer_actions = False
    try:
        for _ in range(20):
            with pytest.raises(AmiTimeout):
                await client.action({"Action": "QueueSummary"}, timeout=0.02)
        assert client.protocol.responses == {}  # no growth from unanswered actions
        assert client.state is AmiState.CONNECTED
    finally:
        await client.close()
        await server.stop()


async def test_list_action_collects_until_complete_and_errors_are_responses():
    server = ReplayServer(replies={"QueueSummary": load("answered-within-sl").replies["QueueSummary"]})
    await server.start()
    client = await start_client(server, EventBus())
    try:
        summary, unknown = await asyncio.gather(
            client.action({"Action": "QueueSummary"}), client.action({"Action": "Frobnicate"}))
        assert [m.name or m["Response"] for m in summary] == ["Success", "QueueSummary", "QueueSummary", "QueueSummaryComplete"]
        assert not unknown.success and unknown["Message"] == "Invalid/unknown command"
    finally:
        await client.close()
        await server.stop()


async def test_keepalive_drops_a_silent_connection_and_reconnects():
    server = ReplayServer(answer_ping=False)
    await server.start()
    bus = EventBus()
    seen = Collector(bus)
    client = await start_client(server, bus, ping_interval=0.05)
    try:
        async def relogged():
            while server.logins < 2:
                await asyncio.sleep(0.01)
        await asyncio.wait_for(relogged(), 5)
        assert AmiState.RECONNECTING in seen.states
    finally:
        await client.close()
        await server.stop()


async def test_chinese_caller_name_split_across_packets_arrives_intact():
    frames = [f.replace(b"CallerIDName: Citizen", "CallerIDName: 张三丰".encode())
              for f in event_frames(load("answered-within-sl"))]
    server = ReplayServer(events=frames, chunk=5)  # 5-byte writes cut the 3-byte characters
    await server.start()
    bus = EventBus()
    seen = Collector(bus)
    client = await start_client(server, bus)
    try:
        await seen.wait_events(2 + len(frames))
        names = {m["CallerIDName"] for m in seen.events if "CallerIDName" in m}
        assert "张三丰" in names and not any("\ufffd" in n for n in names)
    finally:
        await client.close()
        await server.stop()


async def test_malformed_stream_is_survived():
    good = event_frames(load("abandon-in-queue"))[:5]
    bad = [b"no colon here at all", b"Event: Weird\r\nCallerIDName: \xff\xfe", b"X-Huge: " + b"a" * (1 << 20)]
    server = ReplayServer(events=[good[0], *bad, *good[1:]])
    await server.start()
    bus = EventBus()
    seen = Collector(bus)
    client = await start_client(server, bus)
    try:
        await seen.wait_events(2 + 5 + 1)
        names = [m.name for m in seen.events][2:]
        assert names[0] == good[0].split(b"\r\n")[0].split(b": ")[1].decode()
        assert "Weird" in names and len(names) == 6
        assert len(client.protocol._buffer) < 300_000
        assert client.state is AmiState.CONNECTED
    finally:
        await client.close()
        await server.stop()


async def test_action_values_cannot_inject_headers():
    server = ReplayServer()
    await server.start()
    client = await start_client(server, EventBus())
    try:
        with pytest.raises(ValueError):
            await client.action({"Action": "Setvar", "Variable": "X", "Value": "1\r\nAction: Hangup"})
    finally:
        await client.close()
        await server.stop()
