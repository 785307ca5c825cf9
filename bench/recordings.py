"""Recordings benchmark: conversion speed as a multiple of real time, and pydub's overhead over ffmpeg.

Run: ``.venv/bin/python bench/recordings.py [--calls 6] [--seconds 180] [--format opus]``

The same generated stereo calls (8 kHz, speech-like, what the simulator's MixMonitor writes) go
through (a) the pipeline's ``convert`` (pydub: decode, trim, loudness, encode, SHA-256), one call at a
time on one core, and (b) the baseline: ffmpeg called directly on the same files with the same codec,
bitrate and a gain, i.e. the encode alone. Then the pipeline's process pool converts all calls with
one worker per core. Targets: >= 30x real time per core; pydub overhead <= 1.3x.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cti.simulator.recording import speech_like_stereo, write_wav  # noqa: E402
from recordings.convert import FORMATS, ConvertJob, convert  # noqa: E402
from recordings.pipeline import new_pool  # noqa: E402


def ffmpeg_direct(source: Path, target: Path, fmt: str, bitrate: str) -> None:
    muxer, codec = FORMATS[fmt]
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(source), "-af", "volume=5dB", "-c:a", codec,
                    "-b:a", bitrate, "-f", muxer, str(target)], check=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=6)
    ap.add_argument("--seconds", type=float, default=180.0)
    ap.add_argument("--format", choices=sorted(FORMATS), default="opus")
    ap.add_argument("--bitrate", default="24k")
    args = ap.parse_args()
    cores = os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        sources = []
        for n in range(args.calls):
            path = d / f"1700000000.{n}.wav"
            write_wav(path, speech_like_stereo(args.seconds, n))
            sources.append(path)
        audio = args.calls * args.seconds
        jobs = [ConvertJob(str(s), str(d / "pydub" / f"{s.stem}.{args.format}"), fmt=args.format, bitrate=args.bitrate)
                for s in sources]
        convert(ConvertJob(str(sources[0]), str(d / "warm.out"), fmt=args.format, bitrate=args.bitrate))  # warm caches

        t = time.perf_counter()
        for job in jobs:
            convert(job)
        pydub_s = time.perf_counter() - t

        (d / "ffmpeg").mkdir()
        t = time.perf_counter()
        for s in sources:
            ffmpeg_direct(s, d / "ffmpeg" / f"{s.stem}.{args.format}", args.format, args.bitrate)
        ffmpeg_s = time.perf_counter() - t

        pool: ProcessPoolExecutor = new_pool(cores)
        list(pool.map(convert, jobs[:cores]))  # start the workers before timing
        pool_jobs = [ConvertJob(j.source, j.target + ".pool", fmt=j.fmt, bitrate=j.bitrate) for j in jobs]
        t = time.perf_counter()
        list(pool.map(convert, pool_jobs))
        pool_s = time.perf_counter() - t
        pool.shutdown()

    print(f"recordings benchmark: {args.calls} calls x {args.seconds:.0f} s stereo 8 kHz -> {args.format} {args.bitrate}, "
          f"{cores} cores")
    print(f"  ffmpeg direct (baseline, 1 core): {ffmpeg_s:7.2f} s  {audio / ffmpeg_s:7.1f}x real time")
    print(f"  pipeline convert (pydub, 1 core): {pydub_s:7.2f} s  {audio / pydub_s:7.1f}x real time per core"
          f"  (target >= 30x)")
    print(f"  pydub overhead vs ffmpeg direct:  {pydub_s / ffmpeg_s:7.2f}x  (target <= 1.3x)")
    print(f"  process pool, {cores} workers:        {pool_s:7.2f} s  {audio / pool_s:7.1f}x real time "
          f"({audio / pool_s / cores:.1f}x per core, {pydub_s / pool_s:.2f}x the single core)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
