"""The AMI server of the simulated PBX (asyncio, loopback).

Answers like Asterisk 22 as recorded: banner ``Asterisk Call Manager/11.0.0``; Login answers
``Authentication accepted`` then FullyBooted and SuccessfulAuth; list actions answer ``EventList:
start``, the items, and a ``...Complete`` event with ``ListItems``; unknown actions get
``Invalid/unknown command``. Header names are case-insensitive on input; text is UTF-8.
"""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from .fields import channel_fields, frame
from .manager_conf import ManagerUser
from .queues import Member

if TYPE_CHECKING:
    from .pbx import Pbx

log = logging.getLogger(__name__)

BANNER = b"Asterisk Call Manager/11.0.0\r\n"
TRUE = ("yes", "true", "y", "t", "1", "on")


class Action:
    """One received action: headers with case-insensitive names, repeated ones kept."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self.pairs = pairs
        self.index: dict[str, str] = {}
        for k, v in pairs:
            self.index.setdefault(k.lower(), v)

    def get(self, key: str, default: str = "") -> str:
        return self.index.get(key.lower(), default)

    def getall(self, key: str) -> list[str]:
        return [v for k, v in self.pairs if k.lower() == key.lower()]

    @property
    def name(self) -> str:
        return self.get("action").strip()

    @property
    def action_id(self) -> str | None:
        return self.index.get("actionid")


class AmiSession:
    def __init__(self, server: AmiServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.server, self.pbx = server, server.pbx
        self.reader, self.writer = reader, writer
        self.authenticated = False
        self.events = True
        self.classes: set[str] | None = None   # None: all event classes
        self.closed = False
        self.username = ""
        self.user: ManagerUser | None = None    # its read classes and eventfilter (manager.conf)

    # -- output ---------------------------------------------------------------------------------------
    def send(self, fields: list[tuple[str, str]]) -> None:
        if self.closed or self.writer.is_closing():
            return
        self.writer.write(frame(fields))
        # a client that does not read must not make the simulator hold its whole history
        transport = self.writer.transport
        if transport is not None and transport.get_write_buffer_size() > 16 * 1024 * 1024:
            log.warning("AMI client %s is not reading: disconnected", self.peer)
            self.close()

    @property
    def peer(self) -> str:
        p = self.writer.get_extra_info("peername")
        return f"{p[0]}:{p[1]}" if p else "?"

    def on_event(self, message: list[tuple[str, str]]) -> None:
        if not self.authenticated or not self.events:
            return
        if self.classes is not None:
            priv = message[1][1] if len(message) > 1 and message[1][0] == "Privilege" else ""
            if not (set(priv.split(",")) - {"all"}) & self.classes:
                return
        if self.user is not None and not self.user.passes(message):
            return
        self.send(message)

    def respond(self, action: Action, response: str = "Success", message: str | None = None,
                extra: list[tuple[str, str]] = (), list_start: bool = False) -> None:
        fields = [("Response", response)]
        if action.action_id is not None:
            fields.append(("ActionID", action.action_id))
        if list_start:
            fields.append(("EventList", "start"))
        fields += list(extra)
        if message is not None:
            fields.append(("Message", message))
        self.send(fields)

    def error(self, action: Action, message: str) -> None:
        self.respond(action, "Error", message)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.writer.close()

    # -- input ----------------------------------------------------------------------------------------
    async def run(self) -> None:
        self.writer.write(BANNER)
        buffer = b""
        try:
            while not self.closed:
                chunk = await self.reader.read(65536)
                if not chunk:
                    break
                buffer += chunk.replace(b"\r\n", b"\n")
                while b"\n\n" in buffer:
                    raw, buffer = buffer.split(b"\n\n", 1)
                    pairs = []
                    for line in raw.decode("utf-8", "replace").split("\n"):
                        key, sep, value = line.partition(":")
                        if sep:
                            pairs.append((key.strip(), value.strip()))
                    if pairs:
                        self.dispatch(Action(pairs))
                    await self.writer.drain()
                if len(buffer) > 1024 * 1024:
                    log.warning("AMI client %s sent an endless frame: disconnected", self.peer)
                    break
        except (ConnectionError, OSError):
            pass
        finally:
            self.server.sessions.discard(self)
            self.close()

    def dispatch(self, action: Action) -> None:
        name = action.name
        if not name:
            self.error(action, "Missing action in request")
            return
        lname = name.lower()
        if not self.authenticated and lname not in ("login", "challenge", "logoff"):
            self.error(action, "Authentication Required")
            return
        handler = getattr(self, "act_" + lname, None)
        if handler is None:
            self.error(action, "Invalid/unknown command")
            return
        try:
            handler(action)
        except Exception:
            log.exception("AMI action %s failed", name)
            self.error(action, f"Internal error handling {name}")

    # -- session actions --------------------------------------------------------------------------------
    def act_login(self, a: Action) -> None:
        user = self.server.users.get(a.get("Username"))
        if user is None or a.get("Secret") != user.secret:
            log.info("AMI login failed for %r from %s", a.get("Username"), self.peer)
            self.error(a, "Authentication failed")
            return
        self.authenticated = True
        self.username = a.get("Username")
        self.user = user
        self._set_events(a.get("Events", "on"))
        self.respond(a, message="Authentication accepted")
        if user.read is None or "system" in user.read:   # sent straight to the session, as manager.c does
            self.send([("Event", "FullyBooted"), ("Privilege", "system,all"),
                       ("Uptime", str(int(self.pbx.clock.now()) - self.pbx.boot_time)), ("LastReload", "0"),
                       ("Status", "Fully Booted")])
        now = self.pbx.clock.now()
        tv = datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"
        local = self.writer.get_extra_info("sockname") or ("127.0.0.1", 0)
        remote = self.writer.get_extra_info("peername") or ("127.0.0.1", 0)
        self.on_event([("Event", "SuccessfulAuth"), ("Privilege", "security,all"), ("Timestamp", f"{now:.6f}"),
                       ("EventTV", tv), ("Severity", "Informational"), ("Service", "AMI"), ("EventVersion", "1"),
                       ("AccountID", self.username), ("SessionID", f"0x{id(self):x}"),
                       ("LocalAddress", f"IPV4/TCP/{local[0]}/{local[1]}"),
                       ("RemoteAddress", f"IPV4/TCP/{remote[0]}/{remote[1]}"), ("UsingPassword", "0"),
                       ("SessionTV", tv)])

    def _set_events(self, value: str) -> None:
        v = value.strip().lower()
        if v in ("on", "yes", "true", "all", "1"):
            self.events, self.classes = True, None
        elif v in ("off", "no", "false", "0", ""):
            self.events, self.classes = False, None
        else:
            self.events, self.classes = True, {c.strip() for c in v.split(",") if c.strip()}

    def act_events(self, a: Action) -> None:
        self._set_events(a.get("EventMask", "on"))
        self.respond(a, extra=[("Events", "On" if self.events else "Off")])

    def act_logoff(self, a: Action) -> None:
        self.respond(a, "Goodbye", "Thanks for all the fish.")
        self.close()

    def act_userevent(self, a: Action) -> None:
        """UserEvent action: an event ``UserEvent`` (class user) with the action's other headers."""
        name = a.get("UserEvent")
        if not name:
            self.error(a, "Missing UserEvent")
            return
        extra = [(k, v) for k, v in a.pairs if k.lower() not in ("action", "actionid", "userevent")]
        self.respond(a)
        self.pbx.emit("UserEvent", [("UserEvent", name)] + extra)

    def act_command(self, a: Action) -> None:
        """Command (CLI through AMI): only ``core restart now`` is simulated (see AmiServer.restart)."""
        command = " ".join(a.get("Command").lower().split())
        if command not in ("core restart now", "core restart gracefully"):
            self.error(a, f"Command not simulated: {a.get('Command')}")
            return
        self.respond(a, "Success", "Command output follows")
        self.pbx.spawn(self.server.restart(), name="core restart")

    def act_ping(self, a: Action) -> None:
        self.respond(a, extra=[("Ping", "Pong"), ("Timestamp", f"{self.pbx.clock.now():.6f}")])

    # -- call control -----------------------------------------------------------------------------------
    def _channel(self, a: Action, key: str = "Channel"):
        name = a.get(key)
        if not name:
            self.error(a, "No channel specified")
            return None
        ch = self.pbx.find_channel(name)
        if ch is None:
            self.error(a, "No such channel")
        return ch

    def act_originate(self, a: Action) -> None:
        channel = a.get("Channel")
        if not channel:
            self.error(a, "Channel not specified")
            return
        cid_num, cid_name = _parse_callerid(a.get("CallerID"))
        try:
            timeout = float(a.get("Timeout") or 30000) / 1000
            priority = int(a.get("Priority") or 1)
        except ValueError:
            self.error(a, "Invalid timeout or priority")
            return
        variables = {}
        for item in a.getall("Variable"):
            for part in item.split(","):
                k, sep, v = part.partition("=")
                if sep:
                    variables[k.strip()] = v
        self.respond(a, message="Originate successfully queued")
        err = self.pbx.dialplan.originate(channel, a.get("Context"), a.get("Exten"), priority,
                                          a.get("Application"), a.get("Data"), cid_num, cid_name, timeout,
                                          a.action_id, variables)
        if err:
            log.warning("Originate %s: %s", channel, err)
            self.pbx.emit("OriginateResponse", ([("ActionID", a.action_id)] if a.action_id else []) + [
                ("Response", "Failure"), ("Channel", channel), ("Context", a.get("Context")),
                ("Exten", a.get("Exten")), ("Reason", "0"), ("Uniqueid", "<null>"),
                ("CallerIDNum", cid_num or "<unknown>"), ("CallerIDName", cid_name or "<unknown>")])

    def act_hangup(self, a: Action) -> None:
        name = a.get("Channel")
        if not name:
            self.error(a, "No channel specified")
            return
        if len(name) > 2 and name.startswith("/") and name.endswith("/"):
            rx = re.compile(name[1:-1])
            targets = [c for c in list(self.pbx.channels.values()) if rx.search(c.name)]
            self.respond(a, message=f"{len(targets)} channels hung up.")
        else:
            ch = self.pbx.find_channel(name)
            if ch is None:
                self.error(a, "No such channel")
                return
            targets = [ch]
            self.respond(a, message="Channel Hungup")
        cause = int(a.get("Cause") or 16) if (a.get("Cause") or "16").isdigit() else 16
        for ch in targets:
            self.pbx.deliver_hangup(ch, cause)

    def act_redirect(self, a: Action) -> None:
        ch = self._channel(a)
        if ch is None:
            return
        extra = None
        if a.get("ExtraChannel"):
            extra = self.pbx.find_channel(a.get("ExtraChannel"))
            if extra is None:
                self.error(a, "ExtraChannel does not exist")
                return
        if not a.get("Exten") or not a.get("Context"):
            self.error(a, "Exten and Context are required")
            return
        self.respond(a, message="Redirect successful")
        self.pbx.features.redirect(ch, a.get("Context"), a.get("Exten"))
        if extra is not None:
            self.pbx.features.redirect(extra, a.get("ExtraContext") or a.get("Context"),
                                       a.get("ExtraExten") or a.get("Exten"))

    def act_blindtransfer(self, a: Action) -> None:
        ch = self._channel(a)
        if ch is None:
            return
        if not a.get("Exten"):
            self.error(a, "No extension specified")
            return
        if ch.bridge is None:
            self.error(a, "Transfer failed")
            return
        self.respond(a, message="Transfer succeeded")
        self.pbx.features.blind_transfer(ch, a.get("Exten"), a.get("Context") or ch.context)

    def act_setvar(self, a: Action) -> None:
        var = a.get("Variable")
        if not var:
            self.error(a, "No variable specified")
            return
        if a.get("Channel"):
            ch = self._channel(a)
            if ch is None:
                return
            self.respond(a, message="Variable Set")
            self.pbx.setvar(ch, var, a.get("Value"))
        else:
            self.pbx.globals[var] = a.get("Value")
            self.respond(a, message="Variable Set")

    def act_getvar(self, a: Action) -> None:
        var = a.get("Variable")
        if not var:
            self.error(a, "No variable specified")
            return
        ch = None
        if a.get("Channel"):
            ch = self._channel(a)
            if ch is None:
                return
        value = self.pbx.variable(ch, var)
        self.respond(a, extra=[("Variable", var), ("Value", value or "")])

    def act_playdtmf(self, a: Action) -> None:
        ch = self._channel(a)
        if ch is None:
            return
        digit = a.get("Digit")
        if not digit:
            self.error(a, "No digit specified")
            return
        self.respond(a, message="DTMF successfully queued")
        duration = int(a.get("Duration") or 100) if (a.get("Duration") or "100").isdigit() else 100
        if a.get("Receive", "no").lower() in TRUE:
            self.pbx.receive_dtmf(ch, digit[0], duration)
        else:
            self.pbx.spawn(self.pbx.send_dtmf(ch, digit[0]))

    def act_dbput(self, a: Action) -> None:
        if not a.get("Family") or not a.get("Key"):
            self.error(a, "No family or key specified")
            return
        self.pbx.db[f"{a.get('Family')}/{a.get('Key')}"] = a.get("Val")
        self.respond(a, message="Updated database successfully")

    def act_dbget(self, a: Action) -> None:
        key = f"{a.get('Family')}/{a.get('Key')}"
        if key not in self.pbx.db:
            self.error(a, "Database entry not found")
            return
        self.respond(a, message="Result will follow", list_start=True)
        self.send([("Event", "DBGetResponse")] + _aid(a) + [("Family", a.get("Family")), ("Key", a.get("Key")),
                                                          ("Val", self.pbx.db[key])])
        self.send([("Event", "DBGetComplete")] + _aid(a) + [("EventList", "Complete"), ("ListItems", "1")])

    # -- queues -----------------------------------------------------------------------------------------
    def act_queuestatus(self, a: Action) -> None:
        pbx = self.pbx
        now = pbx.clock.now()
        only, member_filter = a.get("Queue"), a.get("Member")
        self.respond(a, message="Queue status will follow", list_start=True)
        items = 0
        for q in pbx.queues.values():
            if only and q.name != only:
                continue
            self.send([("Event", "QueueParams"), ("Queue", q.name), ("Max", str(q.maxlen)),
                       ("Strategy", q.strategy), ("Calls", str(len(q.callers))), ("Holdtime", str(q.holdtime)),
                       ("TalkTime", str(q.talktime)), ("Completed", str(q.completed)),
                       ("Abandoned", str(q.abandoned)), ("ServiceLevel", str(q.servicelevel)),
                       ("ServicelevelPerf", f"{q.sl_perf:.1f}"), ("ServicelevelPerf2", f"{q.sl_perf2:.1f}"),
                       ("Weight", str(q.weight))] + _aid(a))
            items += 1
            for m in reversed(q.members):  # Asterisk lists members in its hash order, here the reverse
                if member_filter and member_filter not in (m.name, m.interface):
                    continue
                self.send([("Event", "QueueMember"), ("Queue", q.name), ("Name", m.name),
                           ("Location", m.interface), ("StateInterface", m.interface),
                           ("Membership", m.membership), ("Penalty", str(m.penalty)),
                           ("CallsTaken", str(m.calls_taken)), ("LastCall", str(m.last_call)),
                           ("LastPause", str(m.last_pause)), ("LoginTime", str(m.login_time)),
                           ("InCall", "1" if m.in_call else "0"), ("Status", str(m.status)),
                           ("Paused", "1" if m.paused else "0"), ("PausedReason", m.paused_reason),
                           ("Wrapuptime", str(q.wrapuptime))] + _aid(a))
                items += 1
            for pos, e in enumerate(q.callers, start=1):
                ch = e.q
                self.send([("Event", "QueueEntry"), ("Queue", q.name), ("Position", str(pos)),
                           ("Channel", ch.name), ("Uniqueid", ch.uniqueid), ("CallerIDNum", ch.cid_num),
                           ("CallerIDName", ch.cid_name), ("ConnectedLineNum", ch.conn_num),
                           ("ConnectedLineName", ch.conn_name), ("Wait", str(int(now - e.enter))),
                           ("Priority", "0")] + _aid(a))
                items += 1
        self.send([("Event", "QueueStatusComplete")] + _aid(a) + [("EventList", "Complete"),
                                                                  ("ListItems", str(items))])

    def act_queuesummary(self, a: Action) -> None:
        pbx = self.pbx
        now = pbx.clock.now()
        only = a.get("Queue")
        self.respond(a, message="Queue summary will follow", list_start=True)
        items = 0
        for q in pbx.queues.values():
            if only and q.name != only:
                continue
            longest = max((int(now - e.enter) for e in q.callers), default=0)
            self.send([("Event", "QueueSummary"), ("Queue", q.name), ("LoggedIn", str(q.logged_in())),
                       ("Available", str(q.available_count(now))), ("Callers", str(len(q.callers))),
                       ("HoldTime", str(q.holdtime)), ("TalkTime", str(q.talktime)),
                       ("LongestHoldTime", str(longest))] + _aid(a))
            items += 1
        self.send([("Event", "QueueSummaryComplete")] + _aid(a) + [("EventList", "Complete"),
                                                                   ("ListItems", str(items))])

    def act_queueadd(self, a: Action) -> None:
        pbx = self.pbx
        q = pbx.queues.get(a.get("Queue"))
        iface = a.get("Interface")
        if not a.get("Queue") or not iface:
            self.error(a, "'Queue' and 'Interface' are required")
            return
        if q is None:
            self.error(a, "Unable to add interface to queue: No such queue")
            return
        if q.member(iface) is not None:
            self.error(a, "Unable to add interface: Already there")
            return
        penalty = int(a.get("Penalty") or 0) if (a.get("Penalty") or "0").lstrip("-").isdigit() else 0
        m = Member(iface, a.get("MemberName") or iface, penalty=penalty, membership="dynamic",
                   paused=a.get("Paused", "false").lower() in TRUE, login_time=int(pbx.clock.now()))
        q.members.append(m)
        self.respond(a, message="Added interface to queue")
        pbx.queue_app.member_status(q, m, "QueueMemberAdded")
        pbx.queue_app.notify(q)

    def act_queueremove(self, a: Action) -> None:
        pbx = self.pbx
        q = pbx.queues.get(a.get("Queue"))
        if q is None:
            self.error(a, "Unable to remove interface from queue: No such queue")
            return
        m = q.member(a.get("Interface"))
        if m is None:
            self.error(a, "Unable to remove interface: Not there")
            return
        q.members.remove(m)
        self.respond(a, message="Removed interface from queue")
        pbx.queue_app.member_status(q, m, "QueueMemberRemoved")

    def act_queuepause(self, a: Action) -> None:
        pbx = self.pbx
        iface = a.get("Interface")
        if not iface:
            self.error(a, "Need 'Interface' parameter.")
            return
        paused = a.get("Paused", "true").lower() in TRUE
        found = []
        for q in pbx.queues.values():
            if a.get("Queue") and q.name != a.get("Queue"):
                continue
            m = q.member(iface)
            if m is not None:
                found.append((q, m))
        if not found:
            self.error(a, "Interface not found")
            return
        self.respond(a, message="Interface paused successfully" if paused else "Interface unpaused successfully")
        for q, m in found:
            m.paused = paused
            m.paused_reason = a.get("Reason") if paused else ""
            m.last_pause = int(pbx.clock.now()) if paused else m.last_pause
            pbx.queue_app.member_status(q, m, "QueueMemberPause")
            pbx.queue_app.notify(q)

    def act_coreshowchannels(self, a: Action) -> None:
        pbx = self.pbx
        now = pbx.clock.now()
        self.respond(a, message="Channels will follow", list_start=True)
        chans = list(pbx.channels.values())
        for ch in chans:
            secs = int(now - ch.created)
            self.send([("Event", "CoreShowChannel")] + _aid(a) + channel_fields(ch) + [
                # a queue's outgoing leg shows AppQueue "(Outgoing Line)" on the real switch (parity test)
                ("Application", ch.app), ("ApplicationData", ch.appdata),
                ("Duration", f"{secs // 3600:02d}:{secs // 60 % 60:02d}:{secs % 60:02d}"),
                ("BridgeId", ch.bridge.uniqueid if ch.bridge else "")])
        self.send([("Event", "CoreShowChannelsComplete")] + _aid(a) + [("EventList", "Complete"),
                                                                       ("ListItems", str(len(chans)))])


def _aid(a: Action) -> list[tuple[str, str]]:
    return [("ActionID", a.action_id)] if a.action_id is not None else []


def _parse_callerid(text: str) -> tuple[str, str]:
    """'"Citizen" <13800000001>' -> ('13800000001', 'Citizen')."""
    text = (text or "").strip()
    m = re.match(r'^\s*"?([^"<]*?)"?\s*<([^>]*)>\s*$', text)
    if m:
        return m.group(2).strip(), m.group(1).strip()
    return (text, "") if text else ("", "")


class AmiServer:
    def __init__(self, pbx: Pbx, host: str, port: int, username: str, secret: str,
                 users: dict[str, ManagerUser] | None = None) -> None:
        """``users``: manager.conf users by name; ``username``/``secret`` is added (or its secret set) on top,
        with every class and no filter when the file does not name it."""
        self.pbx, self.host, self.port = pbx, host, port
        self.users: dict[str, ManagerUser] = dict(users or {})
        if username in self.users:
            self.users[username].secret = secret
        else:
            self.users[username] = ManagerUser(username, secret)
        self.sessions: set[AmiSession] = set()
        self._server: asyncio.base_events.Server | None = None
        pbx.listeners.append(self._broadcast)

    async def restart(self) -> None:
        """``core restart now`` as seen on the real switch (DESIGN.md section 5): every channel is hung up with
        cause 0 (a waiting caller: QueueCallerAbandon, QueueCallerLeave, the h extension's UserEvent, Hangup),
        then Shutdown (Cleanly, Restart), then every AMI session closes. The simulator keeps listening and its
        queues keep their members, as Asterisk restores dynamic members (persistentmembers)."""
        pbx = self.pbx
        for ch in list(pbx.channels.values()):   # a Local ;1 half goes with its ;2 half, as a HangupRequest
            if not ch.gone and not ch.name.endswith(";1"):
                pbx.deliver_hangup(ch, 0)
        for _ in range(200):   # the dialplans end their channels (h extensions) in their own tasks
            if not pbx.channels:
                break
            await asyncio.sleep(0.01)
        for ch in list(pbx.channels.values()):
            pbx.destroy(ch, soft=False, cause=0)
        pbx.emit("Shutdown", [("Shutdown", "Cleanly"), ("Restart", "True")])
        await asyncio.sleep(0)
        for session in list(self.sessions):
            session.close()

    def _broadcast(self, message: list[tuple[str, str]]) -> None:
        for s in list(self.sessions):
            s.on_event(message)

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._accept, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def _accept(self, reader, writer) -> None:
        session = AmiSession(self, reader, writer)
        self.sessions.add(session)
        await session.run()

    async def stop(self) -> None:
        if self.pbx and self._broadcast in self.pbx.listeners:
            self.pbx.listeners.remove(self._broadcast)
        if self._server is not None:
            self._server.close()
        for s in list(self.sessions):
            s.close()
        if self._server is not None:
            try:
                await asyncio.wait_for(self._server.wait_closed(), 2)
            except TimeoutError:
                pass
