"""The CTI layer process: AMI session, FastAGI server, HTTP server and the parts on one event bus.

A *part* (the IVR flows, the queue monitor, tickets...) is built from the layer with
``part = factory(layer)``; it may register AGI handlers on ``layer.registry`` and bus subscriptions
in its constructor, and may have ``setup_web(app)``, ``async start()`` and ``async stop()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable
from typing import Any

from cti import databases, files, web
from cti.agi import AgiServer, default_registry
from cti.ami import TOPIC_STATE, AmiClient
from cti.auth import Credentials, load_session_key
from cti.bus import EventBus
from cti.roles import ADMIN, VIEWER
from cti.settings import Settings
from queue_monitor.summary import NO_MONITOR, summary_line

log = logging.getLogger(__name__)

PartFactory = Callable[["Layer"], Any]
SESSION_KEY_FILE = ".session-secret"   # in data_dir, 0600: the agent-session HMAC key when none is set


def default_parts() -> list[PartFactory]:
    """The parts `cti run` starts, in start order."""
    from cti.calls.part import CallsPart
    from cti.dispositions.part import DispositionsPart
    from cti.outbound.part import OutboundPart
    from cti.tickets.part import TicketsPart
    from cti.toolbar.part import ToolbarPart
    from ivr_flows.part import FlowsPart
    from queue_monitor.part import MonitorPart
    from recordings.part import RecordingsPart

    # Calls, Recordings and Outbound come after Tickets (and Outbound after Calls): they look them up.
    return [TicketsPart, FlowsPart, MonitorPart, CallsPart, RecordingsPart, OutboundPart, ToolbarPart,
            DispositionsPart]


class Layer:
    """Everything `cti run` starts; built from settings alone."""

    def __init__(self, settings: Settings, bus: EventBus | None = None,
                 parts: list[PartFactory] | None = None) -> None:
        s = self.settings = settings
        files.prepare(s)                # databases and secrets 0600, our folders 0700, before any part opens one
        self.bus = bus or EventBus()
        self.bus.subscribe(TOPIC_STATE, lambda _t, state: log.info("AMI session %s %s", *state))
        self.registry = default_registry()
        self.ami = AmiClient(
            self.bus, host=s.ami.host, port=s.ami.port, username=s.ami.username, secret=s.ami.secret,
            action_timeout=s.ami.action_timeout, connect_timeout=s.ami.connect_timeout,
            ping_interval=s.ami.ping_interval, reconnect_min=s.ami.reconnect_min,
            reconnect_max=s.ami.reconnect_max,
        )
        self.agi = AgiServer(
            self.registry, host=s.agi.bind, port=s.agi.port, allow=s.agi.allow,
            command_timeout=s.agi.command_timeout, shutdown_grace=s.agi.shutdown_grace,
        )
        # The admin credential of earlier versions (http.token); a random one per run when no admin
        # credential is configured at all, printed at start. The printed wallboard address carries
        # wall_token, a viewer credential made for this run: it can change nothing.
        has_admin = bool(s.http.token or s.http.credentials.get(ADMIN))
        self.http_token = s.http.token or ("" if has_admin else web.new_token())
        self.wall_token = web.new_token()
        self.credentials: Credentials | None = None
        self.http_port: int | None = None
        self.http_app = None
        self._http_runner = None
        self._stopped = False
        self.parts = [factory(self) for factory in (default_parts() if parts is None else parts)]

    async def start(self) -> None:
        s = self.settings
        s.data_dir.mkdir(parents=True, exist_ok=True)
        for part in self.parts:
            if hasattr(part, "start"):
                await part.start()
        setups = [p.setup_web for p in self.parts if hasattr(p, "setup_web")]
        # this run's tokens; http.token itself comes from the settings, so a SIGHUP can rotate it
        extra = {self.wall_token: VIEWER} | ({self.http_token: ADMIN} if self.http_token and not s.http.token else {})
        self.credentials = Credentials(s.http, load_session_key(s.http.session_secret, s.data_dir / SESSION_KEY_FILE),
                                       extra=extra)
        app = web.create_app(self.credentials, [lambda app: app[web.HEALTH].append(self.ami.health), *setups],
                             refusal_interval=s.http.refusal_log_interval)
        self.http_app = app
        self._http_runner, self.http_port = await web.serve(app, s.http.bind, s.http.port)
        log.info("HTTP API on http://%s:%s/", s.http.bind, self.http_port)
        await self.agi.start()
        log.info("FastAGI listening on %s:%s", s.agi.bind, self.agi.port)
        await self.ami.start(wait=False)  # reconnects in the background until Asterisk answers

    def reload_credentials(self, settings: Settings) -> None:
        """Take the HTTP credentials of freshly read ``settings`` (SIGHUP): rotation without a restart.
        Agent sessions stay valid (same key); this run's printed tokens stay too."""
        if self.credentials is not None:
            self.credentials.update(settings.http)
        counts = ", ".join(f"{n} {role}" for role, n in self.credentials.counts().items()) if self.credentials else ""
        log.info("HTTP credentials reloaded: %s", counts)

    def wall_address(self) -> str:
        host = self.settings.http.bind
        host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else (f"[{host}]" if ":" in host else host)
        return f"http://{host}:{self.http_port}/wallboard?token={self.wall_token}"

    @property
    def monitor(self):
        """The queue monitor part (queue_monitor.part.MonitorPart) among the parts, or None."""
        from queue_monitor.part import MonitorPart
        return next((p for p in self.parts if isinstance(p, MonitorPart)), None)

    def status_line(self) -> str:
        """One line for the terminal: the AMI session, calls in the IVR, then each queue as the monitor
        counts it (the figures of /api/figures, today's window, under the configured presets)."""
        monitor = self.monitor
        queues = NO_MONITOR if monitor is None else summary_line(monitor.wall())
        return f"[AMI {self.ami.state}] IVR 语音导航中 in IVR {self.agi.stats.active} | {queues}"

    async def print_status(self, stop: asyncio.Event, print_line: Callable[[str], None], interval: float,
                           alive: Callable[[], bool] = lambda: True) -> None:
        """Print the status line whenever it changed, every ``interval`` seconds, until ``stop``."""
        last = ""
        while not stop.is_set() and alive():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)
            line = self.status_line()
            if line != last and not stop.is_set():
                print_line(line)
                last = line

    async def stop(self) -> None:
        """Stop calls, AMI, HTTP (open WebSockets are closed as going away) and the parts; a second
        call does nothing."""
        if self._stopped:
            return
        self._stopped = True
        await self.agi.stop(self.settings.agi.shutdown_grace)
        await self.ami.close()
        if self._http_runner is not None:
            await self._http_runner.cleanup()
        for part in reversed(self.parts):
            if hasattr(part, "stop"):
                await part.stop()


def _reload(layer: Layer, reload: Callable[[], Settings]) -> None:
    """SIGHUP: read the settings again, swap the HTTP credentials, then call ``reload(settings)`` on every
    part that has one (flows, hotline and specialist directories...). Bad settings keep everything in
    force; a part whose files are bad keeps its own and the others still reload. Calls are not touched:
    each keeps what it started with."""
    from cti.settings import ConfigError
    try:
        settings = reload()
    except ConfigError as exc:
        log.error("SIGHUP: settings not reloaded, everything in force stays: %s", exc)
        return
    layer.reload_credentials(settings)
    done, kept = [], []
    for part in layer.parts:
        if not hasattr(part, "reload"):
            continue
        name = type(part).__name__
        try:
            part.reload(settings)
        except Exception as exc:   # a bad file (or a bug) in one part must not stop the layer
            log.error("SIGHUP: %s not reloaded, its configuration in force stays: %s", name, exc)
            kept.append(name)
        else:
            done.append(name)
    log.info("SIGHUP: reloaded %s%s", ", ".join(["credentials", *done]),
             f"; kept the old configuration of {', '.join(kept)}" if kept else "")


async def run(settings: Settings, stop: asyncio.Event, print_line: Callable[[str], None] = print,
              reload: Callable[[], Settings] | None = None, terminal: bool = True) -> int:
    """Run until ``stop`` is set; print the live summary every ``monitor.summary_interval`` seconds.

    ``terminal`` False (a service whose output is a log, e.g. systemd's journal): only the start lines,
    without this run's tokens: whoever reads the log must not become admin or viewer by it.

    Returns the exit code: 0 when stopped, 1 when a listening port cannot be opened (in use, not
    permitted), 2 when Asterisk refused the AMI login (retrying would only lock the account)."""
    from cti.ami import AmiState

    layer = Layer(settings)
    if problems := await databases.problems(settings):   # before any part starts: nothing to stop
        for problem in problems:
            log.error("cannot start: %s", problem)
        return 1
    try:
        await layer.start()
    except OSError as exc:
        log.error("cannot start: %s (check http.port, agi.port and their bind addresses)", exc)
        await layer.stop()
        return 1
    wall, base = layer.wall_address(), layer.wall_address().split("/wallboard")[0]
    if terminal:
        if layer.http_token and not settings.http.token:
            print_line(f"HTTP admin token for this run: {layer.http_token}")
        print_line(f"wallboard 大屏 (viewer, this run): {wall}")
    else:
        if layer.http_token and not settings.http.token:
            log.warning("no admin credential in http.credentials: make one with `cti credentials new admin`")
        print_line(f"wallboard 大屏: {base}/wallboard (sign in with a viewer credential: `cti credentials new viewer`)")
    print_line(f"agent desk 坐席工作台: {base}/agent (agents sign in with their PIN)")
    if reload is not None:
        with contextlib.suppress(NotImplementedError, RuntimeError):   # no SIGHUP on Windows
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, lambda: _reload(layer, reload))
    try:
        await layer.print_status(stop, print_line if terminal else (lambda _line: None), settings.monitor.summary_interval,
                                 alive=lambda: layer.ami.state != AmiState.FAILED)
        refused = layer.ami.state == AmiState.FAILED
    finally:
        await layer.stop()
    if refused:
        log.error("stopping: Asterisk refused the AMI login; check ami.username and ami.secret "
                  "(CTI_AMI_SECRET) against manager_cti.conf")
        return 2
    return 0
