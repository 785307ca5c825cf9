"""AMI client on panoramisk's Manager: login, reconnect, keepalive, actions, events on the bus.

panoramisk 1.4 gives the ActionID correlation and list collection (its ``Action``); this module adds
what it lacks: a bytes-level UTF-8 parser with bounded buffers, action timeouts, a liveness check,
capped exponential backoff, a visible session state, and a resync after every (re)connect.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import random
import time
from dataclasses import dataclass
from typing import Any

from panoramisk import Manager
from panoramisk.actions import Action
from panoramisk.ami_protocol import AMIProtocol

from cti.ami.message import AmiMessage, FrameReader
from cti.bus import EventBus

log = logging.getLogger(__name__)

TOPIC_EVENT = "ami.event"
TOPIC_STATE = "ami.state"
TOPIC_RESYNCED = "ami.resynced"

# Actions answered by a list of events; panoramisk's own guess is kept for these (and Originate,
# whose OriginateResponse follows), every other action resolves on its first response: its guess
# takes "Added interface to queue" for a list start and reads 'async' on "successfully queued".
LIST_ACTIONS = frozenset({
    "queuestatus", "queuesummary", "coreshowchannels", "status", "bridgelist", "bridgeinfo",
    "pjsipshowendpoints", "pjsipshowcontacts", "sippeers", "agents", "parkedcalls", "originate",
})


# Asterisk sends FullyBooted to the new session itself and list events answer an action (ActionID):
# neither is ever stamped (manager.c); broadcast events are stamped when timestampevents is on.
UNSTAMPED_ALWAYS = frozenset({"FullyBooted"})
TIMESTAMP_FIX = "timestampevents = yes in manager.conf [general]"


class EventTime(enum.StrEnum):
    """Whether this session's events carry Asterisk's ``Timestamp`` (manager.conf ``timestampevents``)."""

    UNKNOWN = "unknown"          # no broadcast event seen since login yet
    STAMPED = "stamped"
    UNSTAMPED = "unstamped"      # Asterisk's default; times are the layer's time of receipt


class AmiState(enum.StrEnum):
    DISCONNECTED = "disconnected"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"
    FAILED = "failed"  # bad credentials: retrying would only lock the account
    CLOSED = "closed"


class AmiError(Exception):
    """An AMI action or session failed."""


class AmiLoginError(AmiError):
    """Asterisk refused the credentials; the client does not retry."""


class AmiNotConnected(AmiError):
    """No live AMI session to send the action on (or it was lost while waiting)."""


class AmiTimeout(AmiError, TimeoutError):
    """Asterisk did not answer an action in time."""


@dataclass(frozen=True, slots=True)
class Resynced:
    """Live state read after a (re)connect; consumers drop what they knew and rebuild from this."""

    queue_status: tuple[AmiMessage, ...]
    channels: tuple[AmiMessage, ...]
    reconnect: bool


class AmiProtocol(AMIProtocol):
    """panoramisk's protocol with our parser: bytes buffered, UTF-8 decoded per frame, size capped."""

    def connection_made(self, transport):
        super().connection_made(transport)
        self._reader = FrameReader()

    @property
    def _buffer(self) -> bytearray:
        """The bytes of the frame still arriving (bounded by MAX_FRAME_BYTES)."""
        return self._reader.buffer

    def data_received(self, data: bytes) -> None:
        # the time of receipt is the event time when Asterisk does not stamp events (timestampevents = no)
        for message in self._reader.feed(data, received_at=time.time()):
            self.handle_message(message)

    def handle_message(self, message: AmiMessage) -> None:
        action_id = message.action_id
        action = self.responses.get(action_id) if action_id else None
        if action is not None:
            try:
                done = action.add_message(message)
            except Exception:  # a response panoramisk's Action cannot classify must not kill the session
                log.exception("AMI response for %s could not be matched", action_id)
                done = True
                if not action.future.done():
                    action.future.set_exception(AmiError(f"unreadable response to {action_id}"))
            if done:
                self.responses.pop(action_id, None)
        elif message.is_event:
            self.factory.on_event(message)

    def connection_lost(self, exc):
        if not self.closed:
            self.closed = True
            self.factory.on_connection_lost(self, exc)


class AmiClient(Manager):
    """One AMI session to Asterisk, kept alive for the life of the process."""

    def __init__(
        self,
        bus: EventBus,
        *,
        host: str = "127.0.0.1",
        port: int = 5038,
        username: str,
        secret: str,
        action_timeout: float = 10.0,
        connect_timeout: float = 5.0,
        ping_interval: float = 10.0,
        reconnect_min: float = 0.5,
        reconnect_max: float = 30.0,
        resync: bool = True,
    ) -> None:
        super().__init__(
            host=host, port=port, username=username, secret=secret, encoding="utf-8",
            protocol_factory=AmiProtocol, loop=asyncio.get_running_loop(),
        )
        self.bus = bus
        self.action_timeout = action_timeout
        self.connect_timeout = connect_timeout
        self.ping_interval = ping_interval
        self.reconnect_min = reconnect_min
        self.reconnect_max = reconnect_max
        self.resync_on_connect = resync
        self.state = AmiState.DISCONNECTED
        self.state_detail = ""
        self.connects = 0
        self.event_time = EventTime.UNKNOWN
        self._runner: asyncio.Task | None = None
        self._lost: asyncio.Event = asyncio.Event()
        self._logged_in: asyncio.Future | None = None

    # --- session ---------------------------------------------------------------------------------

    async def start(self, wait: bool = True) -> None:
        """Start the session loop; with ``wait``, return once logged in (raise on bad credentials)."""
        if self._runner is None:
            self._logged_in = self.loop.create_future()
            # read by wait/wait_connected when someone waits; marked retrieved so a refused login is not
            # also reported as "Future exception was never retrieved"
            self._logged_in.add_done_callback(lambda f: f.cancelled() or f.exception())
            self._runner = asyncio.create_task(self._run(), name="ami-session")
        if wait:
            await asyncio.shield(self._logged_in)

    async def wait_connected(self, timeout: float | None = None) -> None:
        if self._logged_in is None:
            raise AmiNotConnected("client not started")
        async with asyncio.timeout(timeout):
            await asyncio.shield(self._logged_in)

    async def _run(self) -> None:
        attempt = 0
        while True:
            self._set_state(AmiState.CONNECTING if self.connects == 0 else AmiState.RECONNECTING)
            try:
                await self._connect_once()
            except AmiLoginError as exc:
                self._set_state(AmiState.FAILED, str(exc))
                log.error("AMI login to %s:%s refused: %s; not retrying", self.config["host"], self.config["port"], exc)
                if not self._logged_in.done():
                    self._logged_in.set_exception(exc)
                return
            except (TimeoutError, OSError, AmiError) as exc:
                delay = min(self.reconnect_max, self.reconnect_min * 2**attempt) * random.uniform(0.8, 1.0)
                attempt += 1
                log.warning("AMI connection to %s:%s failed (%s); retry in %.1fs",
                            self.config["host"], self.config["port"], exc or type(exc).__name__, delay)
                self._set_state(AmiState.RECONNECTING, str(exc))
                await asyncio.sleep(delay)
                continue
            attempt = 0
            await self._lost.wait()
            log.warning("AMI connection lost; reconnecting")

    async def _connect_once(self) -> None:
        self._lost = asyncio.Event()
        # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancel that races completion.
        async with asyncio.timeout(self.connect_timeout):
            transport, protocol = await self.loop.create_connection(
                AmiProtocol, self.config["host"], self.config["port"])
        protocol.factory = self
        protocol.encoding = "utf-8"
        self.protocol = protocol
        try:
            reply = await self.action(
                {"Action": "Login", "Username": self.config["username"], "Secret": self.config["secret"],
                 "Events": "on"},
                timeout=self.connect_timeout,
            )
            if not reply.success:
                raise AmiLoginError(reply.get("Message", "login refused"))
            self.connects += 1
            self.event_time = EventTime.UNKNOWN   # manager.conf may have changed while we were away
            self._set_state(AmiState.CONNECTED)
            log.info("AMI logged in to %s:%s", self.config["host"], self.config["port"])
            self.pinger = asyncio.create_task(self._keepalive(protocol), name="ami-keepalive")
            if self.resync_on_connect:
                await self.resync()
        except BaseException:
            transport.abort()
            raise
        if not self._logged_in.done():
            self._logged_in.set_result(None)

    async def resync(self) -> Resynced:
        """Read live queue and channel state and publish it, so consumers never keep ghost calls."""
        queue_status = await self.action({"Action": "QueueStatus"})
        channels = await self.action({"Action": "CoreShowChannels"})
        snapshot = Resynced(
            queue_status=tuple(m for m in _as_list(queue_status) if m.is_event and not m.name.endswith("Complete")),
            channels=tuple(m for m in _as_list(channels) if m.is_event and not m.name.endswith("Complete")),
            reconnect=self.connects > 1,
        )
        self.bus.publish(TOPIC_RESYNCED, snapshot)
        return snapshot

    async def _keepalive(self, protocol: AmiProtocol) -> None:
        # panoramisk's own ping never reads the answer; a half-open TCP session would go unnoticed.
        while not protocol.closed:
            await asyncio.sleep(self.ping_interval)
            try:
                await self.action({"Action": "Ping"}, timeout=max(1.0, self.ping_interval))
            except (TimeoutError, AmiError) as exc:
                if not protocol.closed:
                    log.error("AMI keepalive failed (%s); dropping the connection", exc)
                    protocol.transport.abort()
                return

    def on_connection_lost(self, protocol: AmiProtocol, exc: Exception | None) -> None:
        if protocol is not self.protocol:
            return
        if self.pinger is not None:
            self.pinger.cancel()
            self.pinger = None
        # Pending actions fail rather than being replayed: replaying an Originate could ring twice.
        for action in list(protocol.responses.values()):
            if not action.future.done():
                action.future.set_exception(AmiNotConnected("AMI connection lost"))
        protocol.responses.clear()
        if self.state is AmiState.CONNECTED:
            self._set_state(AmiState.RECONNECTING, str(exc or "connection closed"))
        self._lost.set()

    def on_event(self, message: AmiMessage) -> None:
        stamped = EventTime.STAMPED if message.stamped else EventTime.UNSTAMPED
        if stamped is not self.event_time and message.name not in UNSTAMPED_ALWAYS and message.id is None:
            self._event_time_seen(stamped)
        self.bus.publish(TOPIC_EVENT, message)

    def _event_time_seen(self, stamped: EventTime) -> None:
        before, self.event_time = self.event_time, stamped
        where = f"{self.config['host']}:{self.config['port']}"
        if stamped is EventTime.UNSTAMPED:
            log.warning("AMI events from %s carry no Timestamp: set %s and reload the manager (Asterisk's "
                        "default is no). Until then event times are the layer's time of receipt and waits and "
                        "talk times Asterisk's whole-second HoldTime / TalkTime", where, TIMESTAMP_FIX)
        elif before is EventTime.UNSTAMPED:
            log.warning("AMI events from %s carry Timestamp again: waits are measured from it", where)

    def health(self) -> dict[str, str]:
        """Fields of /healthz: the session state and whether events are stamped (and the fix if not)."""
        out = {"ami": str(self.state), "ami_event_time": str(self.event_time)}
        if self.event_time is EventTime.UNSTAMPED:
            out["ami_event_time_fix"] = TIMESTAMP_FIX
        return out

    def _set_state(self, state: AmiState, detail: str = "") -> None:
        if state is not self.state or detail != self.state_detail:
            self.state, self.state_detail = state, detail
            self.bus.publish(TOPIC_STATE, (state, detail))

    async def close(self) -> None:
        if self._runner is not None:
            self._runner.cancel()
            await asyncio.gather(self._runner, return_exceptions=True)
            self._runner = None
        if self.pinger is not None:
            self.pinger.cancel()
            self.pinger = None
        if self.protocol is not None and not self.protocol.closed:
            try:
                await self.action({"Action": "Logoff"}, timeout=1.0)
            except (TimeoutError, AmiError):
                pass
            self.protocol.closed = True
            self.protocol.transport.close()
        if self._logged_in is not None and not self._logged_in.done():
            self._logged_in.set_exception(AmiNotConnected("closed"))
            self._logged_in.exception()  # mark retrieved
        self._set_state(AmiState.CLOSED)

    # --- actions ---------------------------------------------------------------------------------

    async def action(self, fields: dict[str, Any], timeout: float | None = None, as_list: bool | None = None) -> Any:
        """Send one action; return its response, or the list of messages for list-type actions.

        ``as_list`` forces the reply shape; by default only :data:`LIST_ACTIONS` collect a list.

        Raises :class:`AmiTimeout` when Asterisk does not answer within ``timeout`` seconds.
        """
        protocol = self.protocol
        if protocol is None or protocol.closed:
            raise AmiNotConnected(f"cannot send {fields.get('Action')}: AMI not connected")
        for key, value in fields.items():
            # A CR/LF in a value would let a caller-supplied string inject AMI headers.
            if any(c in str(value) for c in "\r\n") or any(c in key for c in "\r\n: "):
                raise ValueError(f"AMI field {key!r} holds a line break or separator")
        if str(fields.get("Action", "")).lower() == "originate":
            fields = {"Async": "true", **fields}  # panoramisk 1.4 raises KeyError('async') without it
        if as_list is None and str(fields.get("Action", "")).lower() not in LIST_ACTIONS:
            as_list = False
        action = Action(fields)
        future = protocol.send(action, as_list=as_list)
        try:
            async with asyncio.timeout(timeout or self.action_timeout):
                return await asyncio.shield(future)
        except TimeoutError:
            protocol.responses.pop(action.id, None)
            raise AmiTimeout(f"no answer to {fields.get('Action')} within {timeout or self.action_timeout}s") from None


def _as_list(reply: Any) -> list[AmiMessage]:
    return list(reply) if isinstance(reply, list) else [reply]
