"""The recordings part of the layer: capture detection, the conversion pipeline, links, retention.

``recordings.part:RecordingsPart(layer)``. A call was recorded when the AMI ``Hangup`` of a channel
finds ``<capture_dir>/<Uniqueid>.<ext>`` (what ``MixMonitor(${UNIQUEID}...)`` writes, and what the
simulator writes with ``SimConfig.recording_dir``); no extra AMI event class is needed. Tickets are
followed on the bus (``tickets.created``: the call ids are asked of the tickets service;
``tickets.callback``: status changes) so retention never deletes a recording of an open ticket.
The tickets part asks ``recording_link(call_ids)`` when it makes a ticket, so the link travels in the
ticket's first webhook; a call answered in a queue (AgentConnect) is known before its capture is
written, since the shipped dialplan records every answered queue call.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections import OrderedDict
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from cti.ami import TOPIC_EVENT
from cti.files import write_secret
from recordings import links, retention
from recordings.catalogue import Catalogue
from recordings.convert import is_empty_capture
from recordings.pipeline import Pipeline
from recordings.settings import RecordingsSettings
from recordings.storage import LocalStore, Store, StoreError
from recordings.web import RecordingsApi

log = logging.getLogger(__name__)

TOPIC_TICKET_CREATED = "tickets.created"
TOPIC_TICKET_CALLBACK = "tickets.callback"
MAX_ANSWERED = 50_000   # live answered calls remembered (call id -> recorded channel), oldest forgotten


def load_secret(settings: RecordingsSettings) -> str:
    """The link secret: the setting, else one made on first start and kept beside the recordings."""
    if settings.link_secret:
        return settings.link_secret
    path = settings.store_dir / ".link-secret"
    if path.exists():
        return path.read_text().strip()
    value = secrets.token_urlsafe(32)
    write_secret(path, value)       # 0600 from its first byte
    return value


def find_capture(capture_dir: Path, uniqueid: str, extensions: list[str]) -> Path | None:
    if not uniqueid or "/" in uniqueid or uniqueid.startswith("."):
        return None
    for ext in extensions:
        path = capture_dir / f"{uniqueid}.{ext}"
        if path.is_file():
            return path
    return None


def _no_audio_yet(rec) -> bool:
    try:
        return is_empty_capture(Path(rec.source), Path(rec.source).stat().st_size)
    except FileNotFoundError:
        return False


def make_store(settings: RecordingsSettings) -> Store:
    if settings.store == "s3":
        from recordings.s3 import S3Store
        return S3Store(settings)
    return LocalStore(settings.store_dir)


class RecordingsPart:
    def __init__(self, layer, settings: RecordingsSettings | None = None, ticket_lookup=None, pool=None,
                 clock=time.time) -> None:
        self.layer = layer
        self.settings = s = settings or getattr(layer.settings, "recordings", None) or RecordingsSettings()
        self.bus = layer.bus
        self.clock = clock
        self.ticket_lookup = ticket_lookup   # async (ticket_id) -> dict with call_ids and status, or None
        self.db_thread = ThreadPoolExecutor(1, thread_name_prefix="recordings-db")
        self.catalogue: Catalogue | None = None
        self.store: Store = make_store(s)
        self.secret = ""
        self.pipeline: Pipeline | None = None
        self._pool = pool
        self._tasks: set[asyncio.Task] = set()
        self._retention: asyncio.Task | None = None
        self.answered: OrderedDict[str, str] = OrderedDict()   # uniqueid or linkedid -> recorded uniqueid
        self.api = RecordingsApi(self)
        if s.enabled:
            self.bus.subscribe(TOPIC_EVENT, self._on_ami)
            self.bus.subscribe(TOPIC_TICKET_CREATED, self._on_ticket_created)
            self.bus.subscribe(TOPIC_TICKET_CALLBACK, self._on_ticket_callback)

    # -- wiring ---------------------------------------------------------------------------------
    def setup_web(self, app) -> None:
        self.api.setup(app)

    async def db(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(self.db_thread, fn, *args)

    def base_url(self) -> str:
        if self.settings.public_base_url:
            return self.settings.public_base_url.rstrip("/")
        http = self.layer.settings.http
        return f"http://{http.bind}:{getattr(self.layer, 'http_port', None) or http.port}"

    def link_for(self, uniqueid: str) -> str:
        """The signed download URL of a call's recording; valid ``link_ttl`` seconds from now.

        It can be handed out (in a ticket) before the conversion finished: it answers 503 until then.
        """
        return self.base_url() + links.signed_path(self.secret, uniqueid, self.clock(), self.settings.link_ttl)

    async def start(self) -> None:
        s = self.settings
        if not s.enabled:
            return
        s.capture_dir.mkdir(parents=True, exist_ok=True)
        self.secret = await self.db(load_secret, s)
        self.catalogue = await self.db(Catalogue, s.catalogue)
        if self.ticket_lookup is None:
            self.ticket_lookup = self._find_ticket_lookup()
        self.pipeline = Pipeline(s, self.catalogue, self.store, self.bus.publish, self.link_for,
                                 self.db_thread, pool=self._pool, clock=self.clock, was_answered=self._was_answered)
        await self.pipeline.start()
        await self.rescan()
        self._retention = asyncio.create_task(self._retention_loop(), name="recordings-retention")

    async def stop(self) -> None:
        if self._retention is not None:
            self._retention.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._retention
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5)
        if self.pipeline is not None:
            await self.pipeline.stop()
        await self.store.close()
        if self.catalogue is not None:
            await self.db(self.catalogue.close)
        self.db_thread.shutdown(wait=True)

    def _find_ticket_lookup(self):
        for part in getattr(self.layer, "parts", []) or []:
            service = getattr(part, "tickets", None)
            if service is not None and hasattr(service, "get"):
                return service.get
        return None

    async def drain(self) -> None:
        """Wait until the bus messages received so far are handled (tickets learnt, captures queued)."""
        while self._tasks:
            await asyncio.wait(set(self._tasks))

    def _spawn(self, coro) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- capture --------------------------------------------------------------------------------
    def _on_ami(self, _topic: str, msg: Any) -> None:
        if msg.name == "AgentConnect":
            self._answered(msg.get("Uniqueid", ""), msg.get("Linkedid", ""))
        elif msg.name == "Hangup" and self.pipeline is not None:
            self._spawn(self._hangup(msg.get("Uniqueid", ""), msg.get("Linkedid", ""), msg.event_time or self.clock()))

    def _answered(self, uniqueid: str, linkedid: str) -> None:
        if not uniqueid:
            return
        for key in {uniqueid, linkedid} - {""}:
            self.answered[key] = uniqueid
            self.answered.move_to_end(key)
        while len(self.answered) > MAX_ANSWERED:
            self.answered.popitem(last=False)

    def _was_answered(self, rec) -> bool:
        return rec.uniqueid in self.answered or bool(rec.linkedid and rec.linkedid in self.answered)

    async def recording_link(self, call_ids: Iterable[str]) -> str | None:
        """The signed link of the first of these calls that is recorded (or being recorded), else None."""
        if not self.settings.enabled or not self.secret or self.catalogue is None:
            return None
        for call_id in call_ids:
            uniqueid = self.answered.get(str(call_id))
            if uniqueid is None:
                rec = await self.db(self.catalogue.find, str(call_id))
                if rec is not None and rec.status == "pending" and await self.db(_no_audio_yet, rec):
                    rec = None   # an unanswered caller's empty capture, about to be marked empty: no link
                uniqueid = rec.uniqueid if rec is not None else None
            if uniqueid:
                return self.link_for(uniqueid)
        return None

    async def _hangup(self, uniqueid: str, linkedid: str, when: float) -> None:
        s = self.settings
        path = await self.db(find_capture, s.capture_dir, uniqueid, s.capture_extensions)
        if path is not None:
            await self.pipeline.submit(uniqueid, linkedid, path, when)

    async def rescan(self) -> int:
        """Captures written while the layer was down (or whose Hangup was missed) join the queue."""
        s = self.settings

        def scan() -> list[Path]:
            known = self.catalogue.known_ids()
            return [p for ext in s.capture_extensions for p in s.capture_dir.glob(f"*.{ext}")
                    if p.stem not in known and p.is_file()]

        found = await self.db(scan)
        for path in found:
            await self.pipeline.submit(path.stem, "", path, path.stat().st_mtime)
        return len(found)

    # -- tickets --------------------------------------------------------------------------------
    def _on_ticket_created(self, _topic: str, event: Any) -> None:
        if self.catalogue is not None:
            self._spawn(self._learn_ticket(getattr(event, "ticket_id", None), getattr(event, "status", None)))

    async def _learn_ticket(self, ticket_id: str | None, status: str | None) -> None:
        if not ticket_id:
            return
        call_ids: list[str] = []
        if self.ticket_lookup is not None:
            try:
                data = await self.ticket_lookup(ticket_id)
            except Exception:
                log.exception("recordings: cannot read ticket %s", ticket_id)
                data = None
            if data:
                call_ids = [str(c) for c in data.get("call_ids") or []]
                status = data.get("status") or status
        await self.db(self.catalogue.link_ticket, ticket_id, call_ids, status)

    def _on_ticket_callback(self, _topic: str, event: Any) -> None:
        if self.catalogue is not None and getattr(event, "outcome", "applied") == "applied" and event.status:
            self._spawn(self.db(self.catalogue.set_ticket_status, event.ticket_id, event.status))

    # -- retention ------------------------------------------------------------------------------
    async def sweep(self, now: float | None = None) -> list[str]:
        """Delete the converted files that retention allows; return their call ids."""
        s = self.settings
        now = self.clock() if now is None else now
        if s.retention_days <= 0:
            return []
        deleted = []
        for rec in await self.db(self.catalogue.ready_before, now - s.retention_days * retention.DAY):
            tickets = await self.db(self.catalogue.tickets_for, rec)
            statuses = dict(tickets)
            if self.ticket_lookup is not None:  # the tickets service is the truth; the bus may have missed one
                for ticket_id in tickets:
                    with contextlib.suppress(Exception):
                        data = await self.ticket_lookup(ticket_id)
                        statuses[ticket_id] = data.get("status") if data else statuses[ticket_id]
            if not retention.deletable(rec.captured_at, now, s.retention_days, statuses.values()):
                continue
            try:
                await self.store.delete(rec.key)
            except StoreError as exc:  # kept in the catalogue as ready: the next sweep tries again
                log.error("recording %s: retention could not delete it: %s", rec.uniqueid, exc)
                continue
            await self.db(self.catalogue.mark_deleted, rec.uniqueid, now)
            log.info("recording %s deleted by retention (%d days; tickets %s)", rec.uniqueid, s.retention_days,
                     ", ".join(f"{t}={st}" for t, st in statuses.items()) or "none")
            deleted.append(rec.uniqueid)
        return deleted

    async def _retention_loop(self) -> None:
        while True:
            try:
                await self.sweep()
            except Exception:
                log.exception("recordings: retention sweep failed")
            await asyncio.sleep(self.settings.retention_interval)
