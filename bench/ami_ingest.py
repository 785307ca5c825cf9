"""AMI ingest: events per second from bytes to messages on the bus, against panoramisk's bare parsing.

Run: .venv/bin/python bench/ami_ingest.py
Both paths eat the same recorded Asterisk 22 traffic (all fixtures, repeated) in 64 KB chunks, in
alternating rounds so the shared machine's noise hits both; the ratio is ours / panoramisk's.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from ami_replay import SCENARIOS, load  # noqa: E402
from panoramisk.ami_protocol import AMIProtocol  # noqa: E402

from cti.ami import TOPIC_EVENT, AmiClient  # noqa: E402
from cti.ami.client import AmiProtocol  # noqa: E402
from cti.bus import EventBus  # noqa: E402

CHUNK = 64 * 1024
TARGET_EVENTS = 200_000
ROUNDS = 5


class _Transport:
    def write(self, data):  # the protocols never write while ingesting
        pass

    def close(self):
        pass


def recorded_stream() -> tuple[list[bytes], int]:
    frames = [f for name in SCENARIOS for f in load(name).frames if f.startswith(b"Event: ")]
    repeat = TARGET_EVENTS // len(frames) + 1
    data = b"".join(f + b"\r\n\r\n" for f in frames) * repeat
    return [data[i:i + CHUNK] for i in range(0, len(data), CHUNK)], len(frames) * repeat


class _PanoramiskSink:
    """The minimum panoramisk's protocol needs around it: a dispatch that counts."""

    def __init__(self):
        self.count = 0

    def dispatch(self, message):
        self.count += 1


def run_panoramisk(chunks: list[bytes]) -> tuple[float, int]:
    protocol = AMIProtocol()
    protocol.connection_made(_Transport())
    protocol.factory = sink = _PanoramiskSink()
    protocol.encoding = "utf-8"
    start = time.perf_counter()
    for chunk in chunks:
        protocol.data_received(chunk)
    return time.perf_counter() - start, sink.count


async def run_ours(chunks: list[bytes]) -> tuple[float, int]:
    bus = EventBus()
    received = []
    bus.subscribe(TOPIC_EVENT, lambda _t, m: received.append(m.timestamp))  # a consumer reading the clock
    client = AmiClient(bus, username="cti", secret="x")
    protocol = AmiProtocol()
    protocol.connection_made(_Transport())
    protocol.factory = client
    start = time.perf_counter()
    for chunk in chunks:
        protocol.data_received(chunk)
    return time.perf_counter() - start, len(received)


def main() -> None:
    chunks, events = recorded_stream()
    pano, ours = [], []
    for _ in range(ROUNDS):
        t, n = run_panoramisk(chunks)
        assert n == events, (n, events)
        pano.append(events / t)
        t, n = asyncio.run(run_ours(chunks))
        assert n == events, (n, events)
        ours.append(events / t)
    p, o = statistics.median(pano), statistics.median(ours)
    print(f"events per round: {events:,} ({sum(map(len, chunks)) / 1e6:.1f} MB), {ROUNDS} rounds, median")
    print("| path | events/s | ratio |")
    print("| --- | ---: | ---: |")
    print(f"| panoramisk 1.4 AMIProtocol parse + dispatch (baseline) | {p:,.0f} | 1.00 |")
    print(f"| cti.ami: parse, immutable message, Timestamp, bus publish | {o:,.0f} | {o / p:.2f} |")
    print(f"target: ratio >= 0.80 -> {'met' if o / p >= 0.8 else 'NOT met'}")


if __name__ == "__main__":
    main()
