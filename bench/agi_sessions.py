"""FastAGI benchmark: many concurrent sessions against our server vs a bare asyncio line server.

Run: ``.venv/bin/python bench/agi_sessions.py [--sessions 1000] [--commands 10]``

Each server runs in its own subprocess (this same file with ``--serve``), so on a 2-core machine the
server gets one core and the simulated Asterisk (the client, in this process) the other. Every
session connects, sends a real environment block and answers each command immediately; latency is
the client's round trip: from writing the previous answer (or the environment) to reading the next
command. Our server runs a handler issuing ``commands - 1`` typed commands plus its own
``SET VARIABLE CTI_RESULT ok``; the baseline sends the same ``commands`` lines with no parsing,
routing, or call context, so the ratio shows what our layer costs.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cti.agi.call import AgiCall  # noqa: E402
from cti.agi.registry import Registry  # noqa: E402
from cti.agi.server import AgiServer  # noqa: E402

ENV = (
    "agi_network: yes\nagi_network_script: bench\nagi_request: agi://127.0.0.1:4573/bench\n"
    "agi_channel: Local/12345@from-pstn-00000000;2\nagi_language: en\nagi_type: Local\n"
    "agi_uniqueid: 1795339691.1\nagi_version: 22.10.1\nagi_callerid: 13800000001\n"
    "agi_calleridname: 张三\nagi_callingpres: 0\nagi_callingani2: 0\nagi_callington: 0\n"
    "agi_callingtns: 0\nagi_dnid: unknown\nagi_rdnis: unknown\nagi_context: from-pstn\n"
    "agi_extension: 12345\nagi_priority: 3\nagi_enhanced: 0.0\nagi_accountcode: \n"
    "agi_threadid: 139937322940096\n\n"
).encode()

# The typed commands the bench handler cycles through, with the answer Asterisk would give.
SCRIPT = [
    ('STREAM FILE hello-world ""', b"200 result=0 endpos=11234\n"),
    ("GET DATA beep 6000 1", b"200 result=2\n"),
    ("SET VARIABLE CTIQUEUE enterprise", b"200 result=1\n"),
    ("GET VARIABLE CALLERID(num)", b"200 result=1 (13800000001)\n"),
    ('VERBOSE "ivr done" 1', b"200 result=1\n"),
]
EPILOGUE = "SET VARIABLE CTI_RESULT ok"
ANSWERS = {cmd.encode(): answer for cmd, answer in SCRIPT} | {EPILOGUE.encode(): b"200 result=1\n"}


def wire_commands(count: int) -> list[str]:
    return [SCRIPT[i % len(SCRIPT)][0] for i in range(count - 1)] + [EPILOGUE]


async def bench_handler(call: AgiCall) -> None:
    steps = int(call.params.get("n", "9"))
    for i in range(steps):
        match i % len(SCRIPT):
            case 0:
                await call.stream_file("hello-world")
            case 1:
                await call.get_data("beep", 6000, 1)
            case 2:
                await call.set_variable("CTIQUEUE", "enterprise")
            case 3:
                await call.get_variable("CALLERID(num)")
            case 4:
                await call.verbose("ivr done", 1)


# --- servers (subprocess side) ------------------------------------------------------------------------


async def serve_ours() -> None:
    registry = Registry()
    registry.add("bench", bench_handler)
    server = AgiServer(registry, port=0, command_timeout=30.0, env_timeout=30.0)
    await server.start()
    print(server.port, flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until the parent closes it
    await server.stop(1.0)


async def serve_baseline(commands: int) -> None:
    lines = [(c + "\n").encode() for c in wire_commands(commands)]

    async def session(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while await reader.readline() not in (b"\n", b""):
                pass
            for line in lines:
                writer.write(line)
                if not await reader.readline():
                    break
        finally:
            writer.close()

    server = await asyncio.start_server(session, "127.0.0.1", 0, backlog=1024)
    print(server.sockets[0].getsockname()[1], flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    server.close()


# --- the simulated Asterisk (this process) ------------------------------------------------------------


async def one_session(port: int, request: bytes, latencies: list[float]) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    env = ENV.replace(b"agi://127.0.0.1:4573/bench", request)
    clock = time.perf_counter
    count = 0
    sent_at = clock()
    writer.write(env)
    while True:
        line = await reader.readline()
        if not line:
            break
        latencies.append(clock() - sent_at)
        count += 1
        answer = ANSWERS.get(line.rstrip(b"\n"), b"200 result=1\n")
        sent_at = clock()
        writer.write(answer)
    writer.close()
    return count


async def run_client(port: int, sessions: int, commands: int, in_flight: int) -> dict[str, float]:
    latencies: list[float] = []
    request = f"agi://127.0.0.1:{port}/bench?n={commands - 1}".encode()
    gate = asyncio.Semaphore(in_flight)

    async def gated() -> int:
        async with gate:
            return await one_session(port, request, latencies)

    started = time.perf_counter()
    counts = await asyncio.gather(*(gated() for _ in range(sessions)))
    elapsed = time.perf_counter() - started
    expected = sessions * commands
    if sum(counts) != expected:
        raise SystemExit(f"protocol error: got {sum(counts)} commands, expected {expected}")
    quantiles = statistics.quantiles(latencies, n=100)
    return {
        "sessions_per_s": sessions / elapsed,
        "commands_per_s": expected / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": quantiles[98] * 1000,
        "elapsed_s": elapsed,
    }


def measure(kind: str, sessions: int, commands: int, in_flight: list[int]) -> list[dict[str, float]]:
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve", kind, "--commands", str(commands)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        port = int(proc.stdout.readline())
        asyncio.run(run_client(port, min(50, sessions), commands, 50))  # warm-up
        return [asyncio.run(run_client(port, sessions, commands, n)) for n in in_flight]
    finally:
        proc.stdin.close()
        proc.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=1000)
    parser.add_argument("--commands", type=int, default=10, help="commands on the wire per session")
    parser.add_argument("--also-in-flight", type=int, nargs="*", default=[100],
                        help="extra runs with at most this many sessions open at once")
    parser.add_argument("--serve", choices=["ours", "baseline"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.serve == "ours":
        asyncio.run(serve_ours())
        return
    if args.serve == "baseline":
        asyncio.run(serve_baseline(args.commands))
        return

    in_flight = sorted({args.sessions, *(n for n in args.also_in_flight if n < args.sessions)}, reverse=True)
    bases = measure("baseline", args.sessions, args.commands, in_flight)
    ourses = measure("ours", args.sessions, args.commands, in_flight)
    print(f"FastAGI: {args.sessions} sessions x {args.commands} commands, answered at once; "
          f"server in a subprocess; {os.cpu_count()} CPUs; Python {sys.version.split()[0]}\n")
    print("| in flight | server | sessions/s | commands/s | p50 ms | p99 ms |")
    print("| ---: | --- | ---: | ---: | ---: | ---: |")
    for n, base, ours in zip(in_flight, bases, ourses, strict=True):
        for name, row in (("bare asyncio line server (baseline)", base), ("cti.agi AgiServer", ours)):
            print(f"| {n} | {name} | {row['sessions_per_s']:.0f} | {row['commands_per_s']:.0f} "
                  f"| {row['p50_ms']:.2f} | {row['p99_ms']:.2f} |")
        print(f"| {n} | ratio ours / baseline | {ours['sessions_per_s'] / base['sessions_per_s']:.2f}x "
              f"| {ours['commands_per_s'] / base['commands_per_s']:.2f}x "
              f"| {ours['p50_ms'] / base['p50_ms']:.2f}x | {ours['p99_ms'] / base['p99_ms']:.2f}x |")
    print()
    for n, base, ours in zip(in_flight, bases, ourses, strict=True):
        verdict = "met" if ours["p99_ms"] < 20.0 else "MISSED"
        print(f"target p99 < 20 ms with {n} in flight: {verdict} ({ours['p99_ms']:.2f} ms; "
              f"baseline {base['p99_ms']:.2f} ms)")

if __name__ == "__main__":
    main()
