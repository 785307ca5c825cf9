"""The FastAGI server: asyncio streams, a peer allow-list, bounded reads, graceful shutdown."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections.abc import Iterable
from dataclasses import asdict, dataclass

from cti.agi.errors import AgiError
from cti.agi.protocol import MAX_LINE_BYTES
from cti.agi.registry import Registry
from cti.agi.session import FAIL_OPEN_TIMEOUT, Outcome, close_quietly, run_call
from cti.agi.transport import StreamTransport, read_env

log = logging.getLogger("cti.agi")

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(slots=True)
class AgiStats:
    """Counters for metrics; ``active`` is the number of calls running now."""

    connections: int = 0
    rejected: int = 0
    bad_peers: int = 0
    started: int = 0
    ok: int = 0
    failed: int = 0
    hung_up: int = 0
    active: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def parse_allow_list(entries: Iterable[str]) -> tuple[IpNetwork, ...]:
    """``["127.0.0.1", "10.0.0.0/8"]`` -> networks; a bad entry raises ValueError at start-up."""
    return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in entries)


def peer_allowed(peer: str, networks: Iterable[IpNetwork]) -> bool:
    try:
        address = ipaddress.ip_address(peer.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped  # a dual-stack socket shows IPv4 peers as ::ffff:a.b.c.d
    return any(address in net for net in networks)


class AgiServer:
    """FastAGI on asyncio streams; ``await start()``, ``port``, ``await stop(grace)``, ``stats``."""

    def __init__(
        self,
        registry: Registry | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 4573,
        allow: Iterable[str] = ("127.0.0.1",),
        command_timeout: float = 60.0,
        shutdown_grace: float = 10.0,
        env_timeout: float = 10.0,
        fail_open_timeout: float = FAIL_OPEN_TIMEOUT,
        backlog: int = 1024,
    ):
        if registry is None:
            from cti.agi.builtin import default_registry

            registry = default_registry()
        self.registry = registry
        self.host = host
        self._requested_port = port
        self.allow = parse_allow_list(allow)
        self.command_timeout = command_timeout
        self.shutdown_grace = shutdown_grace
        self.env_timeout = env_timeout
        self.fail_open_timeout = fail_open_timeout
        # Asterisk opens many connections at once after a burst of calls; asyncio's default (100) drops SYNs.
        self.backlog = backlog
        self.stats = AgiStats()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task] = set()
        self._closing = False

    @property
    def port(self) -> int:
        """The bound port (the real one when 0 was asked for)."""
        if self._server is None or not self._server.sockets:
            return self._requested_port
        return self._server.sockets[0].getsockname()[1]

    async def start(self) -> None:
        self._closing = False
        self._server = await asyncio.start_server(
            self._on_connect, self.host, self._requested_port, limit=MAX_LINE_BYTES, backlog=self.backlog
        )
        log.info("agi server listening on %s:%d allow=%s", self.host, self.port, [str(n) for n in self.allow])

    async def stop(self, grace: float | None = None) -> None:
        """Stop accepting; running calls get ``grace`` seconds, then are cancelled (and fail open)."""
        grace = self.shutdown_grace if grace is None else grace
        self._closing = True
        if self._server is not None:
            self._server.close()
        running = set(self._tasks)
        if running:
            log.info("agi server stopping: %d call(s) running, grace %.1f s", len(running), grace)
            _, pending = await asyncio.wait(running, timeout=grace)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=self.fail_open_timeout + 1.0)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None
        log.info("agi server stopped %s", self.stats.as_dict())

    async def __aenter__(self) -> AgiServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        transport = StreamTransport(reader, writer)
        try:
            await self._serve(transport, writer)
        except asyncio.CancelledError:
            # stop() cut the call after its grace (it failed open already); ending here, as Python 3.11's
            # stream server would log its cancelled task as an "Exception in callback" error
            pass
        finally:
            self._tasks.discard(task)
            await close_quietly(transport)

    async def _serve(self, transport: StreamTransport, writer: asyncio.StreamWriter) -> None:
        self.stats.connections += 1
        peer = writer.get_extra_info("peername")
        peer_ip = peer[0] if isinstance(peer, tuple) and peer else str(peer)
        if self._closing:
            return  # shutting down: the dialplan carries on without us (CTIQUEUE stays the default)
        if not peer_allowed(peer_ip, self.allow):
            self.stats.rejected += 1
            log.warning("agi connection rejected: peer %s not in allow list", peer_ip)
            return
        try:
            async with asyncio.timeout(self.env_timeout):
                env = await read_env(transport)
        except (AgiError, TimeoutError) as exc:
            self.stats.bad_peers += 1
            reason = "no environment in time" if isinstance(exc, TimeoutError) else str(exc)
            log.warning("agi connection dropped: peer %s: %s", peer_ip, reason)
            return
        self.stats.started += 1
        self.stats.active += 1
        outcome = Outcome.FAILED
        try:
            outcome = await run_call(
                env,
                transport,
                self.registry,
                command_timeout=self.command_timeout,
                fail_open_timeout=self.fail_open_timeout,
            )
        finally:
            self.stats.active -= 1
            match outcome:
                case Outcome.OK:
                    self.stats.ok += 1
                case Outcome.HUNG_UP:
                    self.stats.hung_up += 1
                case _:
                    self.stats.failed += 1
