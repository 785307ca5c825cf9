"""The queue monitor inside the layer: engine on the bus, call rows to the database, the wallboard,
its WebSocket, /api/figures, /api/reports, /metrics, and Redis fan-out between instances."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import time
from collections import OrderedDict, deque
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Literal

from aiohttp import WSMsgType, web
from pydantic import Field

from cti.ami import TOPIC_EVENT, TOPIC_RESYNCED
from cti.calls.stats import TOPIC_DEPARTMENT_LEG, DepartmentLeg
from cti.dispositions.messages import TOPIC_OUTCOME as TOPIC_DISPOSITION
from cti.dispositions.messages import DispositionOutcome
from cti.outbound.followups import TOPIC_FOLLOWUP, FollowupAttempt
from cti.outbound.linkage import TOPIC_LINKAGE, Handover
from cti.outbound.testdial import TOPIC_TEST_DIAL
from cti.privacy import mask_number
from cti.schema import SchemaError
from cti.web import InvalidInput, QueryModel, prepare_websocket, query_as
from queue_monitor.cli import (
    definitions,
    known_queues,
    period,
    period_problem,
    queue_problem,
    stored_dispositions,
)
from queue_monitor.departments import TEST_KIND, DepartmentBoard, is_test
from queue_monitor.dispositions import DispositionBoard
from queue_monitor.dispositions import record_from as disposition_record
from queue_monitor.engine import EngineConfig, QueueCall, QueueEngine
from queue_monitor.followups import FollowupBoard, FollowupRecord, record_from
from queue_monitor.linkage import DIRECTIONS, LinkageBoard, LinkageRecord
from queue_monitor.metrics import render_metrics
from queue_monitor.reports import contributions, report
from queue_monitor.storage import CallStore
from queue_monitor.switch import missed_legs, read_switch
from queue_monitor.wall import build_wall, merge_recent, recent_calls

log = logging.getLogger(__name__)

PAGE = Path(__file__).with_name("static") / "wallboard.html"
MAX_PENDING_ROWS = 100_000
RECENT_CALLS = 10          # rows of the wall's 最近通话 panel
MAX_REMEMBERED = 20_000    # callers and recordings remembered for that panel, oldest forgotten
TOPIC_RECORDING_READY = "recording.ready"   # recordings.pipeline.TOPIC_READY (not imported: no pydub here)


class MonitorPart:
    def __init__(self, layer) -> None:
        self.settings = m = layer.settings.monitor
        self.layer_settings = layer.settings      # the queues a report may name (queue_monitor.cli.known_queues)
        self.instance = m.instance or socket.gethostname()
        self.ami = layer.ami
        self.switch = ""          # the Asterisk this instance reads (queue_monitor.switch), once logged in
        self._heard_since: float | None = None   # the switch's clock (epoch s) at this process's first login
        self._twins: set[str] = set()            # instances on the same switch whose missed calls were restored
        self.defs = definitions(m)
        self.engine = QueueEngine(EngineConfig(
            definitions=self.defs, windows=dict(m.windows), bucket_seconds=m.bucket_seconds,
            sparkline_slot_seconds=m.sparkline_slot_seconds, timezone=m.timezone,
            default_hotline=m.default_hotline, wrapup_seconds=m.wrapup_seconds))
        self.departments = DepartmentBoard(self.defs, dict(m.windows), m.timezone)
        self.test_dials = DepartmentBoard(self.defs, dict(m.windows), m.timezone)   # 拨测, never mixed in
        self.linkage = LinkageBoard(dict(m.windows), m.timezone)
        self.followups = FollowupBoard(dict(m.windows), m.timezone)
        self.dispositions = DispositionBoard(dict(m.windows), m.timezone)   # 话后小结: 在线解答率
        self.store = CallStore(m.database_url, self.instance)
        self.sockets: set[web.WebSocketResponse] = set()
        self.remote: dict[str, tuple[float, dict]] = {}   # instance -> (monotonic received, snapshot)
        self.pending: list[QueueCall] = []
        self.pending_legs: list[DepartmentLeg] = []
        self.pending_linkage: list[LinkageRecord] = []
        self.pending_followups: list[FollowupRecord] = []
        self._flushing = asyncio.Lock()   # a report waits for rows another flush is still writing
        self.stored = 0
        self.pushes = 0
        self._seen_at = 0.0                                # monotonic time of the latest event
        self._changed: asyncio.Event | None = None
        self._tasks: list[asyncio.Task] = []
        self._redis = None
        self.recent: deque[QueueCall] = deque(maxlen=RECENT_CALLS)   # answered calls, oldest first
        self.callers: OrderedDict[str, str] = OrderedDict()           # uniqueid -> masked caller number
        self.recorded: OrderedDict[str, str] = OrderedDict()          # call id -> recording's uniqueid
        self.links: OrderedDict[str, str] = OrderedDict()             # recording's uniqueid -> signed link
        self._unsubscribe = [layer.bus.subscribe(TOPIC_EVENT, self._on_event),
                             layer.bus.subscribe(TOPIC_RESYNCED, self._on_resync),
                             layer.bus.subscribe(TOPIC_DEPARTMENT_LEG, self._on_department_leg),
                             layer.bus.subscribe(TOPIC_RECORDING_READY, self._on_recording_ready),
                             layer.bus.subscribe(TOPIC_TEST_DIAL, self._on_test_dial),
                             layer.bus.subscribe(TOPIC_LINKAGE, self._on_linkage),
                             layer.bus.subscribe(TOPIC_FOLLOWUP, self._on_followup),
                             layer.bus.subscribe(TOPIC_DISPOSITION, self._on_disposition)]

    # -- bus ------------------------------------------------------------------------------------------
    def _on_event(self, _topic: str, event) -> None:
        if event.name == "QueueCallerJoin":
            _remember(self.callers, event.get("Uniqueid", ""), mask_number(event.get("CallerIDNum", "")))
        before = self.engine.now
        rows = self.engine.on_event(event)
        if self.engine.now != before:
            self._seen_at = time.monotonic()
        if self.engine.dirty and self._changed is not None:
            self._changed.set()
        if rows:
            self._keep(rows)

    def _on_resync(self, _topic: str, snap) -> None:
        self._tasks = [t for t in self._tasks if not t.done()]   # one per (re)login: keep only those still running
        self._tasks.append(asyncio.get_running_loop().create_task(self._identify_switch(), name="monitor-switch"))
        rows = self.engine.on_resync(snap.queue_status, snap.channels, now=self.now())
        log.info("queue monitor resynced: %d waiting legs, %d lost track of", len(self.engine.legs),
                 self.engine.lost_track)
        self._keep(rows)
        if self._changed is not None:
            self._changed.set()

    async def _identify_switch(self) -> None:
        """After each (re)login: which Asterisk this is (another may answer on the same address now)."""
        try:
            switch, clock = await read_switch(self.ami)
        except Exception as exc:
            log.warning("queue monitor: could not read the switch's identity (%s); the wall keys this "
                        "instance's figures by its own name", exc)
            return
        if self._heard_since is None and clock is not None:
            self._heard_since = clock + 1   # EPOCH is whole seconds: the login happened within that second
        if switch != self.switch:
            log.info("queue monitor: instance %s reads switch %s", self.instance, switch or "(unnamed)")
            self.switch = switch
            if self._changed is not None:
                self._changed.set()
        await self._restore_missed()

    async def _restore_missed(self) -> None:
        """Today's calls a twin (another instance on this switch, seen through Redis) stored while this one
        was not running: counted into the engine once, so this wall keeps every call of the day when the
        twin goes (a restart rebuilds only this instance's own rows: ``_reload_today``)."""
        twins = {i for i, (_, snap) in self.remote.items() if self.switch and snap.get("switch") == self.switch}
        twins -= self._twins
        if not twins or self._heard_since is None:
            return
        self._twins |= twins
        before = self._heard_since
        since = min(self.engine.day.day_of(before), before - max(self.settings.windows.values(), default=0))
        try:
            own = [*await self.store.calls(since, float("inf"), instance=self.instance), *self.pending]
            theirs = [c for twin in sorted(twins) for c in await self.store.calls(since, float("inf"), instance=twin)]
        except Exception:
            log.exception("queue monitor: cannot read the calls of %s from %s", ", ".join(sorted(twins)), self.store.url)
            return
        rows = missed_legs(own, theirs, before, set(self.callers) | set(self.engine.legs))
        if rows:
            applied = self.engine.restore(contributions(rows), self.now(), since)
            log.info("queue monitor: %d queue legs counted by %s while this instance was not running (%d counts)",
                     len(rows), ", ".join(sorted(twins)), applied)
            if self._changed is not None:
                self._changed.set()

    def _on_department_leg(self, _topic: str, leg: DepartmentLeg) -> None:
        self._add_leg(leg)

    def _on_test_dial(self, _topic: str, leg: DepartmentLeg) -> None:
        if leg.kind != TEST_KIND:
            leg = replace(leg, kind=TEST_KIND)   # the topic says it is a test call
        if not leg.ringing_at:
            leg = replace(leg, ringing_at=self.now())   # never rang: counted when its result came
        self._add_leg(leg)

    def _add_leg(self, leg: DepartmentLeg) -> None:
        board = self.test_dials if is_test(leg) else self.departments
        if board.add(leg):
            self.pending_legs.append(leg)
            del self.pending_legs[:-MAX_PENDING_ROWS]   # the database is gone for long: keep memory bounded
            if self._changed is not None:
                self._changed.set()

    def _on_linkage(self, _topic: str, handover: Handover) -> None:
        if handover.direction not in DIRECTIONS:
            log.warning("queue monitor: ignored a %s hand-over of unknown direction %r", _topic, handover.direction)
            return
        record = LinkageRecord(handover.call_id, handover.direction, self.now())   # counted on the monitor's clock
        if self.linkage.add(record):
            self.pending_linkage.append(record)
            del self.pending_linkage[:-MAX_PENDING_ROWS]
            if self._changed is not None:
                self._changed.set()

    def _on_followup(self, _topic: str, attempt: FollowupAttempt) -> None:
        record = record_from(attempt, self.now())
        if record is None:
            log.warning("queue monitor: ignored a %s message without an outcome: %r", _topic, attempt)
            return
        if self.followups.add(record):
            self.pending_followups.append(record)
            del self.pending_followups[:-MAX_PENDING_ROWS]
            if self._changed is not None:
                self._changed.set()

    def _on_disposition(self, _topic: str, outcome: DispositionOutcome) -> None:
        # stored by the dispositions part (tickets database): nothing to write here. Counted at its call's end,
        # as `cti report` and the rebuild at start count it (one recorded after midnight is yesterday's); the
        # end is the layer's clock, ours is the switch's (a sped-up simulator's too): its age on ours
        now = self.now()
        at = now if outcome.ended_at is None else now - max(0.0, time.time() - outcome.ended_at)
        if self.dispositions.add(disposition_record(outcome, at)) and self._changed is not None:
            self._changed.set()

    def _on_recording_ready(self, _topic: str, ready) -> None:
        uniqueid = getattr(ready, "uniqueid", "")
        for call_id in (uniqueid, getattr(ready, "linkedid", "")):
            _remember(self.recorded, call_id, uniqueid)
        _remember(self.links, uniqueid, getattr(ready, "link", ""))
        if self._changed is not None and any(uniqueid in (r.uniqueid, r.linkedid) for r in self.recent):
            self._changed.set()   # the row gains its play link

    def _keep(self, rows: list[QueueCall]) -> None:
        self.recent.extend(r for r in rows if r.outcome == "answered" and r.ended_at is not None)
        self.pending.extend(rows)
        if len(self.pending) > MAX_PENDING_ROWS:  # the database is gone for long: keep memory bounded
            dropped = len(self.pending) - MAX_PENDING_ROWS
            del self.pending[:dropped]
            log.error("queue monitor: database unreachable, %d call rows dropped", dropped)

    def now(self) -> float:
        """Asterisk's clock: the latest event time plus what elapsed since (wall clock before any event)."""
        if self.engine.now == 0.0:
            return time.time()
        return self.engine.now + (time.monotonic() - self._seen_at if self._seen_at else 0.0)

    # -- lifecycle ------------------------------------------------------------------------------------
    async def start(self) -> None:
        self._changed = asyncio.Event()
        try:
            await self.store.create()
            await self._reload_today()
        except SchemaError:
            raise   # a database of another version: the start is refused with the command to run
        except Exception:
            log.exception("queue monitor: cannot open %s; call rows are kept in memory", self.store.url)
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._push_loop(), name="monitor-push"),
                       loop.create_task(self._flush_loop(), name="monitor-store")]
        if self.settings.redis_url:
            self._tasks.append(loop.create_task(self._redis_loop(), name="monitor-redis"))

    async def stop(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        # A write in progress finishes first: cancelled mid-way, its rows could still land after the next
        # start rebuilt today from the database (counted by the reports, not by the figures) or be lost.
        async with self._flushing:
            for t in self._tasks:
                t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        for ws in list(self.sockets):
            with contextlib.suppress(Exception):
                await ws.close()
        self._keep(self.engine.talks_in_progress())   # counted answered once, by the next start and the reports
        await self.flush()
        if self._redis is not None:
            with contextlib.suppress(Exception):
                await self._redis.aclose()
        await self.store.close()

    async def _reload_today(self) -> None:
        """Today survives a restart of the layer: the engine's windows are rebuilt from this instance's
        stored calls (so /api/figures "today" equals `cti report` for today), and department legs, test
        calls, 110 hand-overs, follow-ups and dispositions (from the tickets database) of today are reloaded.
        Legs, hand-overs, follow-ups and dispositions are this instance's own: another instance's rows in a
        shared database reach the wall through Redis from that instance, and would count twice."""
        now = self.now()
        start = min(self.departments.day.day_of(now), now - max(self.settings.windows.values(), default=0))
        latest = await self.store.latest(self.instance)
        if latest is not None:
            # Asterisk's clock, not ours: the windows stand at the newest stored moment until events come
            since = min(self.engine.day.day_of(latest), latest - max(self.settings.windows.values(), default=0))
            rows = await self.store.calls(since, float("inf"), instance=self.instance)
            applied = self.engine.restore(contributions(rows), latest, since)
            log.info("queue monitor: figures of the day rebuilt from %d stored queue legs (%d counts)",
                     len(rows), applied)
        for leg in await self.store.legs(start, float("inf"), self.instance):
            (self.test_dials if is_test(leg) else self.departments).add(leg)
        for record in await self.store.linkage(start, float("inf"), self.instance):
            self.linkage.add(record)
        for followup in await self.store.followups(start, float("inf"), self.instance):
            self.followups.add(followup)
        for disposition in await stored_dispositions(self.layer_settings, start, float("inf"), instance=self.instance):
            self.dispositions.add(disposition)

    async def flush(self) -> None:
        async with self._flushing:
            await self._flush()

    async def _flush(self) -> None:
        rows, self.pending = self.pending, []
        try:
            self.stored += await self.store.add(rows)
        except Exception:
            log.exception("queue monitor: writing %d call rows failed; retrying", len(rows))
            self.pending[:0] = rows
        legs, self.pending_legs = self.pending_legs, []
        try:
            await self.store.add_legs(legs)
        except Exception:
            log.exception("queue monitor: writing %d department legs failed; retrying", len(legs))
            self.pending_legs[:0] = legs
        linkage, self.pending_linkage = self.pending_linkage, []
        try:
            await self.store.add_linkage(linkage)
        except Exception:
            log.exception("queue monitor: writing %d 110 hand-overs failed; retrying", len(linkage))
            self.pending_linkage[:0] = linkage
        followups, self.pending_followups = self.pending_followups, []
        try:
            await self.store.add_followups(followups)
        except Exception:
            log.exception("queue monitor: writing %d follow-up attempts failed; retrying", len(followups))
            self.pending_followups[:0] = followups

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(0.5)
            if self.pending or self.pending_legs or self.pending_linkage or self.pending_followups:
                await self.flush()

    # -- figures and push -----------------------------------------------------------------------------
    def local_snapshot(self) -> dict:
        now = self.now()
        snap = self.engine.snapshot(now)
        snap["departments"] = self.departments.snapshot(now)
        snap["test_dials"] = self.test_dials.snapshot(now)
        snap["specialists"] = self.departments.specialist_snapshot(now)   # 政策专员, next to the hotlines
        snap["linkage"] = self.linkage.snapshot(now)
        snap["followups"] = self.followups.snapshot(now)
        snap["dispositions"] = self.dispositions.snapshot(now)
        snap["switch"] = self.switch
        snap["recent_calls"] = recent_calls(self.recent, self.callers, self.recorded, self.settings.timezone,
                                            RECENT_CALLS, self.links)
        self.engine.dirty.clear()
        return snap

    def wall(self, local: dict | None = None) -> dict:
        snaps = {self.instance: local or self.local_snapshot()}
        horizon = time.monotonic() - self.settings.redis_stale_seconds
        for inst, (received, snap) in list(self.remote.items()):
            if received < horizon:
                del self.remote[inst]  # an instance that stopped publishing leaves the wall
            else:
                snaps[inst] = snap
        wall = build_wall(self.instance, snaps, self.defs)
        m = self.settings
        wall["thresholds"] = {"green": m.green_at, "yellow": m.yellow_at, "orange": m.orange_at}
        wall["last_event_ts"] = self.engine.now
        wall["timezone"] = m.timezone     # the wall's clock shows the centre's time, not the browser's
        wall["recent_calls"] = merge_recent(self.instance, snaps, RECENT_CALLS)
        wall["generated_at"] = time.time()
        return wall

    async def _push_loop(self) -> None:
        m = self.settings
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(m.refresh_seconds):   # not wait_for: 3.11's can swallow a cancel
                    await self._changed.wait()
            self._changed.clear()
            try:
                local = self.local_snapshot()
                if self._redis is not None:
                    await self._publish(local)
                if self.sockets:
                    text = json.dumps(self.wall(local), ensure_ascii=False)
                    await asyncio.gather(*(self._send(ws, text) for ws in list(self.sockets)))
                    self.pushes += 1
            except Exception:
                log.exception("queue monitor: push failed")
            await asyncio.sleep(m.push_interval)  # coalesce: at most one push per interval

    async def _send(self, ws: web.WebSocketResponse, text: str) -> None:
        try:
            await asyncio.wait_for(ws.send_str(text), 5)
        except Exception:
            self.sockets.discard(ws)  # a dead or stuck wallboard is dropped; it reconnects by itself

    # -- Redis fan-out --------------------------------------------------------------------------------
    async def _publish(self, local: dict) -> None:
        try:
            await self._redis.publish(self.settings.redis_channel,
                                      json.dumps({"instance": self.instance, "snapshot": local}))
        except Exception as exc:
            log.warning("queue monitor: Redis publish failed: %s", exc)

    async def _redis_loop(self) -> None:
        import redis.asyncio as redis
        delay = 0.5
        while True:
            client = redis.from_url(self.settings.redis_url)
            try:
                pubsub = client.pubsub()
                await pubsub.subscribe(self.settings.redis_channel)
                self._redis = client
                delay = 0.5
                log.info("queue monitor: Redis fan-out on %s", self.settings.redis_channel)
                async for message in pubsub.listen():
                    if message.get("type") != "message":
                        continue
                    try:
                        data = json.loads(message["data"])
                        inst = data["instance"]
                        if inst != self.instance:
                            self.remote[inst] = (time.monotonic(), data["snapshot"])
                            self._changed.set()
                            if self.switch and data["snapshot"].get("switch") == self.switch and inst not in self._twins:
                                self._tasks.append(asyncio.get_running_loop().create_task(self._restore_missed()))
                    except (ValueError, KeyError, TypeError) as exc:
                        log.warning("queue monitor: bad Redis message ignored: %s", exc)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("queue monitor: Redis unavailable (%s); retrying in %.1f s", exc, delay)
            finally:
                self._redis = None
                with contextlib.suppress(Exception):
                    await client.aclose()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30)

    # -- HTTP -----------------------------------------------------------------------------------------
    def setup_web(self, app: web.Application) -> None:
        app.router.add_get("/wallboard", self._page)
        app.router.add_get("/wallboard/ws", self._ws)
        app.router.add_get("/api/figures", self._figures)
        app.router.add_get("/api/reports", self._reports)
        app.router.add_get("/metrics", self._metrics)

    async def _page(self, request: web.Request) -> web.Response:
        return web.Response(text=PAGE.read_text(encoding="utf-8"), content_type="text/html", charset="utf-8")

    async def _figures(self, request: web.Request) -> web.Response:
        return web.json_response(self.wall(), dumps=lambda o: json.dumps(o, ensure_ascii=False))

    async def _metrics(self, request: web.Request) -> web.Response:
        return web.Response(text=render_metrics(self.local_snapshot()), content_type="text/plain",
                            charset="utf-8", headers={"X-Prometheus-Format": "0.0.4"})

    async def _reports(self, request: web.Request) -> web.Response:
        q = query_as(request, ReportQuery)
        start_day, end_day, denominator, rounding = q.from_, q.to, q.denominator, q.rounding
        problem = period_problem(start_day, end_day, ("from", "to"))
        if problem:
            raise InvalidInput(*problem)
        if q.queue and (problem := queue_problem(q.queue, known_queues(self.layer_settings,
                                                                       await self.store.queues()))):
            raise InvalidInput("queue", problem)
        q = {"queue": q.queue}
        await self.flush()
        start, end = period(start_day, end_day, self.settings.timezone)
        calls = await self.store.calls(start, end, q.get("queue") or None)
        legs = [] if q.get("queue") else await self.store.legs(start, end)  # legs belong to no 12345 queue
        linkage = [] if q.get("queue") else await self.store.linkage(start, end)
        followups = [] if q.get("queue") else await self.store.followups(start, end)   # 回访 uses no 12345 queue
        dispositions = await stored_dispositions(self.layer_settings, start, end, q.get("queue"))   # 在线解答率 by line and queue
        rep = report(calls, definitions(self.settings, denominator, rounding), start, end, legs, linkage,
                     followups, dispositions)
        rep["from_date"], rep["to_date"] = start_day.isoformat(), end_day.isoformat()
        return web.json_response(rep, dumps=lambda o: json.dumps(o, ensure_ascii=False))

    async def _ws(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=20)
        await prepare_websocket(request, ws)
        self.sockets.add(ws)
        try:
            await ws.send_str(json.dumps(self.wall(), ensure_ascii=False))
            async for msg in ws:
                if msg.type == WSMsgType.ERROR:
                    break
        finally:
            self.sockets.discard(ws)
        return ws


class ReportQuery(QueryModel):
    """``GET /api/reports?from=2026-01-01&to=2026-01-31[&denominator=..][&rounding=..][&queue=..]``."""
    from_: date = Field(alias="from")
    to: date
    denominator: Literal["answered", "offered", "offered_minus_short_abandons", "asterisk_sl2"] | None = None
    rounding: Literal["exact", "asterisk"] | None = None
    queue: str | None = Field(None, pattern=r"^[0-9A-Za-z_-]{1,32}$")


def _remember(memory: OrderedDict, key: str, value: str) -> None:
    if key:
        memory[key] = value
        memory.move_to_end(key)
        while len(memory) > MAX_REMEMBERED:
            memory.popitem(last=False)
