"""S3 store benchmark: the recordings store's upload, ranged download through an aiohttp handler, and
delete, against a local moto S3 server (the one the tests use), one object after another.

Run: ``.venv/bin/python bench/s3_store.py [--objects 100] [--size 262144] [--root DIR]``

``--root`` points at another checkout (e.g. a ``git worktree`` of an older commit) to time its
``recordings.s3`` with the same server, objects and venv: that is how the hand-written SigV4 store and
the aiobotocore one were compared (issue 20). The server is the bottleneck of every figure: a ratio
between two stores means more than the absolute rates.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
ap.add_argument("--objects", type=int, default=100)
ap.add_argument("--size", type=int, default=256 * 1024, help="bytes per object (256 KiB: ~90 s of opus 24k)")
ap.add_argument("--root", default=str(Path(__file__).resolve().parent.parent))
args = ap.parse_args()
sys.path.insert(0, args.root)

import aiohttp  # noqa: E402
from aiohttp import web  # noqa: E402

from recordings.s3 import S3Store  # noqa: E402
from recordings.settings import RecordingsSettings  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="s3bench-"))
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            cwd=tmp, env={"PATH": os.environ.get("PATH", ""), "HOME": str(tmp)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(500):
            try:
                socket.create_connection(("127.0.0.1", port), 0.1).close()
                break
            except OSError:
                await asyncio.sleep(0.02)
        rs = RecordingsSettings(capture_dir=tmp / "spool", store_dir=tmp / "store", store="s3",
                                catalogue=tmp / "store" / "catalogue.db", s3_endpoint_url=f"http://127.0.0.1:{port}",
                                s3_bucket="bench", s3_access_key="AKIDBENCH", s3_secret_key="bench-secret",
                                s3_prefix="nantong/")
        store = S3Store(rs)
        await store.create_bucket()
        app = web.Application()
        app.router.add_get("/r/{key:.+}", lambda req: store.serve(req.match_info["key"], req, "audio/ogg"))
        runner = web.AppRunner(app)
        await runner.setup()
        site_port = free_port()
        await web.TCPSite(runner, "127.0.0.1", site_port).start()
        data = os.urandom(args.size)
        keys = [f"2026/11/30/bench.{i}.opus" for i in range(args.objects)]
        t0 = time.perf_counter()
        for key in keys:
            path = store.staging_path(key)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            await store.commit(key)
        t1 = time.perf_counter()
        async with aiohttp.ClientSession() as http:
            for key in keys:
                async with http.get(f"http://127.0.0.1:{site_port}/r/{key}", headers={"Range": "bytes=1000-"}) as r:
                    assert r.status == 206 and len(await r.read()) == args.size - 1000, r.status
        t2 = time.perf_counter()
        for key in keys:
            await store.delete(key)
        t3 = time.perf_counter()
        await runner.cleanup()
        await store.close()
        n = args.objects
        print(f"s3 store ({args.root}): {n} objects x {args.size} B, moto on loopback")
        print(f"  upload (commit)          {n / (t1 - t0):7.1f}/s")
        print(f"  ranged download (serve)  {n / (t2 - t1):7.1f}/s")
        print(f"  delete                   {n / (t3 - t2):7.1f}/s")
    finally:
        proc.terminate()
        proc.wait(10)


asyncio.run(main())
