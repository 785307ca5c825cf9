"""Delivers outbox messages to the ticket backend, signed, with retries; several may run at once."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from datetime import timedelta

import aiohttp

from cti.bus import EventBus
from cti.tasks import finish
from cti.tickets import events, retry, signing
from cti.tickets.outbox import Claimed, Outbox, Outcome
from cti.tickets.settings import TicketsSettings

log = logging.getLogger(__name__)


class Dispatcher:
    def __init__(self, outbox: Outbox, settings: TicketsSettings, bus: EventBus | None = None,
                 rng: random.Random | None = None) -> None:
        self.outbox = outbox
        self.settings = settings
        self.bus = bus
        self.rng = rng or random.Random()
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task | None = None
        self._http: aiohttp.ClientSession | None = None
        self.delivered = 0

    def wake(self) -> None:
        """A message was just written: look now rather than at the next poll."""
        self._wake.set()

    async def start(self) -> None:
        if not self.settings.endpoint_url:
            log.warning("tickets.endpoint_url is empty: tickets are stored but not delivered")
        if retry.schedule_span(self.settings.retry_schedule) < 86400:
            log.warning("tickets.retry_schedule spans less than a day; a long backend outage makes dead letters")
        self._stopping = False
        self._task = asyncio.create_task(self._loop(), name="tickets-dispatcher")

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        # A batch in flight finishes (each request is bounded by request_timeout).
        await finish(self._task, self.settings.request_timeout + 2)
        self._task = None
        if self._http is not None:
            await self._http.close()
            self._http = None

    def _publish(self, topic: str, claim: Claimed, **kw) -> None:
        if self.bus is not None:
            self.bus.publish(topic, events.TicketEvent(claim.ticket_id, self.outbox.clock(),
                                                       message_id=claim.message_id, attempts=claim.attempts, **kw))

    async def _loop(self) -> None:
        while not self._stopping:
            try:
                n = await self.run_once()
            except Exception:
                log.exception("tickets dispatcher: batch failed; trying again shortly")
                n = 0
            if n >= self.settings.batch_size or self._stopping:
                continue  # more may be waiting
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.settings.poll_interval):   # not wait_for: 3.11's can swallow a cancel
                    await self._wake.wait()
            self._wake.clear()

    async def run_once(self) -> int:
        """Claim one batch of due messages and deliver it; return how many were claimed."""
        url = self.settings.endpoint_url
        if not url or not self.settings.secrets:
            return 0
        if await self.outbox.endpoint_failed(url):
            return 0
        claims = await self.outbox.claim(self.settings.batch_size, self.settings.lease_seconds)
        if not claims:
            return 0
        if self._http is None:
            self._http = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self.settings.concurrency),
                timeout=aiohttp.ClientTimeout(total=self.settings.request_timeout))
        gate = asyncio.Semaphore(self.settings.concurrency)

        async def one(claim: Claimed) -> Outcome:
            async with gate:
                return await self._attempt(url, claim)

        outcomes = await asyncio.gather(*(one(c) for c in claims))
        gone = any(x.kind == "dead" and x.status == 410 for x in outcomes)
        if gone:
            # The backend says this endpoint is gone for good: stop sending until an admin acts. Marked
            # before the dead letters are written, so whoever sees one sees the endpoint stopped too.
            await self.outbox.set_endpoint(url, "failed", "410 Gone")
        # One transaction for the whole batch: a commit per message would bound delivery by fsync.
        applied = await self.outbox.record(outcomes)
        for x in outcomes:
            if x.claim.id in applied:
                self._report(url, x)
        if gone:
            log.error("ticket backend %s answered 410 Gone: delivery stopped; fix it and run "
                      "`cti outbox replay --all-dead`", url)
            self._publish(events.TOPIC_ENDPOINT, outcomes[0].claim, detail=url)
        return len(claims)

    async def _attempt(self, url: str, claim: Claimed) -> Outcome:
        body = claim.body.encode()
        now = self.outbox.clock()
        headers = signing.sign_headers(self.settings.secrets, claim.message_id, int(now.timestamp()), body)
        headers["content-type"] = "application/json"
        status: int | None = None
        retry_after: float | None = None
        try:
            async with self._http.post(url, data=body, headers=headers, allow_redirects=False) as resp:
                status = resp.status
                retry_after = retry.parse_retry_after(resp.headers.get("Retry-After"), now)
                await resp.read()
            error = "" if 200 <= status < 300 else f"HTTP {status}"
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        if status is not None and 200 <= status < 300:
            return Outcome(claim, "delivered", status)
        if status == 410:
            return Outcome(claim, "dead", status, "410 Gone: endpoint marked failed")
        delay = retry.next_delay(claim.attempts, self.settings.retry_schedule, self.settings.retry_jitter, self.rng)
        if delay is None:
            return Outcome(claim, "dead", status, error)
        if retry_after is not None:
            delay = min(max(delay, retry_after), self.settings.retry_after_max)
        return Outcome(claim, "retry", status, error, now + timedelta(seconds=delay))

    def _report(self, url: str, x: Outcome) -> None:
        c = x.claim
        if x.kind == "delivered":
            self.delivered += 1
            log.info("%s message %s delivered (attempt %d)", _about(c), c.message_id, c.attempts)
            self._publish(events.TOPIC_DELIVERED, c, status="delivered")
        elif x.kind == "dead":
            log.error("%s message %s is a dead letter after %d attempts: %s", _about(c), c.message_id,
                      c.attempts, x.error)
            self._publish(events.TOPIC_DEAD, c, detail=x.error)
        else:
            log.warning("%s message %s attempt %d failed (%s); next at %s", _about(c), c.message_id,
                        c.attempts, x.error, x.retry_at.isoformat(timespec="seconds"))
            self._publish(events.TOPIC_RETRY, c, detail=x.error)


def _about(claim: Claimed) -> str:
    """What a log line says a message is about: its ticket, or its type when it has none (call.disposition)."""
    return f"ticket {claim.ticket_id}" if claim.ticket_id else claim.event_type
