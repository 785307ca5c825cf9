"""The conversion queue: captured calls in, converted and checksummed recordings out.

Jobs live in the catalogue, not in memory: a burst of hang-ups waits there, at most ``workers``
conversions run at once in a process pool (pydub's Python loops never block the event loop), a
failed attempt is retried with a capped backoff, and the capture file is never deleted until a
conversion succeeded. After ``max_attempts`` the recording is ``failed`` and its original stays.
A capture with no audio of a call nobody answered (MixMonitor starts before Queue(), so every caller
who gave up leaves a 0-byte ``.raw``) is not a failure: it is marked ``empty``, its file removed,
logged once at INFO, never retried. An empty capture of an answered call is a lost recording: it fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import signal
import time
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from recordings.catalogue import Catalogue, Recording
from recordings.convert import ConversionError, ConvertJob, EmptyCapture, convert, is_empty_capture
from recordings.settings import RecordingsSettings
from recordings.storage import Store, StoreError

log = logging.getLogger(__name__)

TOPIC_READY = "recording.ready"
TOPIC_FAILED = "recording.failed"


@dataclass(frozen=True)
class RecordingReady:
    """Published on ``recording.ready`` when a recording is converted and stored."""
    uniqueid: str
    linkedid: str
    link: str          # signed, expiring download URL
    duration: float
    sha256: str
    size: int
    format: str


@dataclass(frozen=True)
class RecordingFailed:
    """Published on ``recording.failed`` after each failed attempt; ``final`` when retries ran out."""
    uniqueid: str
    error: str
    attempts: int
    final: bool


def backoff(attempts: int, low: float, high: float) -> float:
    return min(high, low * 2 ** max(0, attempts - 1))


def new_pool(workers: int) -> Executor:
    # spawn: forking an asyncio process with threads is unsafe; the workers stay up between jobs
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_own_session)


def _own_session() -> None:
    # Ctrl-C reaches the terminal's whole process group, ffmpeg included (which then stops mid-file and
    # prints its summary); workers and their ffmpeg live in their own session: the layer stops them.
    os.setsid()
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class Pipeline:
    def __init__(self, settings: RecordingsSettings, catalogue: Catalogue, store: Store,
                 publish: Callable[[str, object], None], link_for: Callable[[str], str],
                 db_thread: ThreadPoolExecutor, pool: Executor | None = None,
                 clock: Callable[[], float] = time.time,
                 was_answered: Callable[[Recording], bool] = lambda rec: False) -> None:
        self.s = settings
        self.was_answered = was_answered   # did an agent answer this call (AgentConnect seen)?
        self.catalogue = catalogue
        self.store = store
        self.publish = publish
        self.link_for = link_for
        self.db_thread = db_thread
        self.pool = pool
        self.clock = clock
        self.running: set[str] = set()
        self._wake = asyncio.Event()
        self._loop_task: asyncio.Task | None = None
        self._jobs: set[asyncio.Task] = set()

    async def db(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(self.db_thread, fn, *args)

    async def start(self) -> None:
        if self.pool is None:
            self.pool = new_pool(self.s.workers)
        self._loop_task = asyncio.create_task(self._schedule(), name="recordings-pipeline")

    async def stop(self) -> None:
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
        if self._jobs:  # a conversion in flight finishes; an unfinished one stays pending in the catalogue
            await asyncio.wait(self._jobs, timeout=30)
        if self.pool is not None:
            self.pool.shutdown(wait=False, cancel_futures=True)

    async def submit(self, uniqueid: str, linkedid: str, source: Path, captured_at: float) -> bool:
        added = await self.db(self.catalogue.add, uniqueid, linkedid, str(source), captured_at, self.clock())
        if added:
            log.info("recording %s captured: %s", uniqueid, source.name)
            self._wake.set()
        return added

    def wake(self) -> None:
        self._wake.set()

    async def _schedule(self) -> None:
        while True:
            try:
                free = self.s.workers - len(self.running)
                if free > 0:
                    for rec in await self.db(self.catalogue.due, self.clock(), free, set(self.running)):
                        self.running.add(rec.uniqueid)
                        task = asyncio.create_task(self._process(rec), name=f"recording {rec.uniqueid}")
                        self._jobs.add(task)
                        task.add_done_callback(self._done)
                nxt = await self.db(self.catalogue.next_due)
                delay = 1.0 if nxt is None else min(1.0, max(0.01, nxt - self.clock()))
            except Exception:
                log.exception("recordings: scheduling failed")
                delay = 1.0
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):   # not wait_for: 3.11's can swallow a cancel
                    await self._wake.wait()

    def _done(self, task: asyncio.Task) -> None:
        self._jobs.discard(task)
        self._wake.set()

    async def _process(self, rec: Recording) -> None:
        try:
            await self._convert(rec)
        except Exception as exc:  # a bug must not lose the job: count it as a failed attempt
            log.exception("recording %s: conversion crashed", rec.uniqueid)
            await self._failed(rec, f"internal error: {type(exc).__name__}: {exc}")
        finally:
            self.running.discard(rec.uniqueid)

    async def _convert(self, rec: Recording) -> None:
        source = Path(rec.source)
        try:
            st = await self.db(os.stat, source)
        except FileNotFoundError:
            st = None
        now = self.clock()
        if st is not None and time.time() - st.st_mtime < self.s.settle_seconds:
            # MixMonitor may still be closing the file after the Hangup; look again shortly
            await self.db(self.catalogue.postpone, rec.uniqueid, now + self.s.settle_seconds)
            return
        if st is not None and is_empty_capture(source, st.st_size):   # no need to start a worker for 0 bytes
            await self._no_audio(rec, EmptyCapture(f"{source.name} holds no audio ({st.st_size} bytes)"))
            return
        key = self.store.key_for(rec.uniqueid, rec.captured_at, self.s.format)
        job = ConvertJob(source=str(source), target=str(self.store.staging_path(key)), fmt=self.s.format,
                         bitrate=self.s.bitrate, target_dbfs=self.s.target_dbfs, headroom_db=self.s.headroom_db,
                         silence_dbfs=self.s.silence_dbfs, raw_rate=self.s.raw_rate, ffmpeg=self.s.ffmpeg)
        loop = asyncio.get_running_loop()
        try:
            result = await loop.run_in_executor(self.pool, convert, job)
        except EmptyCapture as exc:
            await self._no_audio(rec, exc)
            return
        except ConversionError as exc:
            await self._failed(rec, str(exc))
            return
        try:
            await self.store.commit(key)
        except StoreError as exc:  # the conversion is redone next time; the capture is still kept
            await self._failed(rec, str(exc))
            return
        await self.db(self.catalogue.mark_ready, rec.uniqueid, key, self.s.format, result.duration,
                      result.source_duration, result.size, result.sha256, self.clock())
        if not self.s.keep_original:
            await self.db(self._drop_original, source)
        log.info("recording %s ready: %.1f s, %d bytes, trimmed %.2f+%.2f s, gain %+.1f dB", rec.uniqueid,
                 result.duration, result.size, result.trimmed_start, result.trimmed_end, result.gain_db)
        self.publish(TOPIC_READY, RecordingReady(rec.uniqueid, rec.linkedid, self.link_for(rec.uniqueid),
                                                 round(result.duration, 3), result.sha256, result.size,
                                                 self.s.format))

    @staticmethod
    def _drop_original(source: Path) -> None:
        source.unlink(missing_ok=True)

    async def _no_audio(self, rec: Recording, exc: EmptyCapture) -> None:
        if self.was_answered(rec):
            await self._failed(rec, str(exc))
            return
        await self.db(self.catalogue.mark_empty, rec.uniqueid, self.clock())
        await self.db(self._drop_original, Path(rec.source))
        log.info("recording %s: call not answered, nothing to keep (%s); capture removed", rec.uniqueid, exc)

    async def _failed(self, rec: Recording, error: str) -> None:
        attempts = rec.attempts + 1
        give_up = attempts >= self.s.max_attempts
        wait = backoff(attempts, self.s.retry_min, self.s.retry_max)
        await self.db(self.catalogue.mark_attempt_failed, rec.uniqueid, error, self.clock() + wait, give_up)
        if give_up:
            log.error("recording %s: conversion failed %d times, giving up; the original %s is kept: %s",
                      rec.uniqueid, attempts, rec.source, error)
        else:
            log.error("recording %s: conversion attempt %d failed, retry in %.0f s; original kept: %s",
                      rec.uniqueid, attempts, wait, error)
        self.publish(TOPIC_FAILED, RecordingFailed(rec.uniqueid, error, attempts, give_up))
