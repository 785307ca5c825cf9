"""A real Asterisk 22 for the real-switch suite: one private instance per test, the project's snippets
included unchanged, callers, agents and department phones as Local channels of ``extensions_test.conf``.

Where the build comes from: ``CTI_TEST_ASTERISK`` (the ``asterisk-lab`` script, or the folder holding
it), else ``shared/asterisk-22/asterisk-lab`` beside the checkout (``../shared``) or beside a parent folder. ``find_lab()`` returns None when
there is none; the suite's conftest then fails (``CTI_TEST_REQUIRE_ASTERISK=1``, set by ``.ci/run``) or skips
with the reason.
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from sim_support import AmiClient

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
SNIPPETS = ROOT / "config" / "asterisk"
# Modules whose code in this build uses CPU instructions (AVX512-FP16) that not every x86_64 machine has
# (SIGILL at load on this project's machines); the suite never needs GSM.
NOLOAD = ("codec_gsm.so", "format_gsm.so", "format_wav_gsm.so", "res_stun_monitor.so")
OBSERVER_SECRET = "observer-secret"


def find_lab() -> Path | None:
    """The ``asterisk-lab`` script to use, or None: ``CTI_TEST_ASTERISK`` (the script or its folder), else
    ``shared/asterisk-22/asterisk-lab`` beside the checkout or beside one of its parent folders."""
    named = os.environ.get("CTI_TEST_ASTERISK", "")
    if named:   # a named build is the one to use: a wrong name is no build, never a silent fallback
        candidates = [Path(named), Path(named) / "asterisk-lab"]
    else:
        candidates = [parent / "shared" / "asterisk-22" / "asterisk-lab" for parent in ROOT.parents]
    for c in candidates:
        if c.is_file() and os.access(c, os.X_OK):
            return c
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _write_conf(conf: Path, ami_port: int, agi_port: int, extra: dict[str, str] | None = None) -> None:
    """Asterisk's own files for a test instance: each ``#include``s the shipped snippet unchanged; ``extra``
    (file name -> text) is appended to a file, after the snippet (a test's own queue, for one)."""
    conf.mkdir(parents=True, exist_ok=True)
    (conf / "manager.conf").write_text(
        "[general]\nenabled = yes\nbindaddr = 127.0.0.1\n"
        f"port = {ami_port}\ntimestampevents = yes\n\n"
        f"#include {SNIPPETS}/manager_cti.conf\n\n"
        # The test's own eyes on the switch: every event, unfiltered, to check the layer against.
        f"[observer]\nsecret = {OBSERVER_SECRET}\ndeny = 0.0.0.0/0.0.0.0\npermit = 127.0.0.1/255.255.255.255\n"
        "read = all\nwrite = all\n")
    (conf / "extensions.conf").write_text(
        "[general]\nstatic = yes\nwriteprotect = yes\n\n"
        f"[globals]\nCTI_AGI_HOST = 127.0.0.1\nCTI_AGI_PORT = {agi_port}\n\n"
        f"#include {SNIPPETS}/extensions_cti.conf\n#include {HERE}/extensions_test.conf\n")
    (conf / "queues.conf").write_text(f"[general]\n\n#include {SNIPPETS}/queues_cti.conf\n")
    (conf / "features.conf").write_text(f"#include {SNIPPETS}/features_cti.conf\n")
    (conf / "modules.conf").write_text(
        "[modules]\nautoload = yes\n" + "".join(f"noload => {m}\n" for m in NOLOAD))
    (conf / "logger.conf").write_text("[logfiles]\nmessages => notice,warning,error,verbose\n")
    for name, text in (extra or {}).items():
        with (conf / name).open("a") as f:
            f.write("\n" + text)


@dataclass
class Switch:
    """One running Asterisk: its folder, AMI port, the FastAGI port its dialplan calls, and the CLI."""

    lab: Path
    dir: Path
    ami_port: int
    agi_port: int
    sounds: Path | None = None
    observer: AmiClient | None = None
    _seq: int = field(default=0)
    extra_conf: dict[str, str] = field(default_factory=dict)   # appended to Asterisk's files (_write_conf)

    # -- life ------------------------------------------------------------------------------------------
    def start(self) -> None:
        conf = self.dir / "conf"
        _write_conf(conf, self.ami_port, self.agi_port, self.extra_conf)
        out = subprocess.run([str(self.lab), "start", str(self.dir), str(conf)], capture_output=True, text=True,
                             timeout=120)
        if out.returncode != 0:
            raise RuntimeError(f"asterisk-lab start failed ({out.returncode}): {out.stdout}{out.stderr}\n"
                               f"{self.log_text()[-3000:]}")
        if self.sounds is not None:
            self._add_sounds(self.sounds)

    def stop(self) -> None:
        subprocess.run([str(self.lab), "stop", str(self.dir)], capture_output=True, timeout=60)

    def restart(self) -> None:
        """``core restart now`` as an admin would type it, then wait until it is fully booted again."""
        self.cli("core restart now")
        deadline = time.monotonic() + 60
        time.sleep(0.5)
        while time.monotonic() < deadline:
            out = subprocess.run([str(self.lab), "cli", str(self.dir), "core waitfullybooted"],
                                 capture_output=True, text=True, timeout=30)
            if out.returncode == 0 and "fully booted" in out.stdout.lower():
                return
            time.sleep(0.2)
        raise RuntimeError(f"Asterisk did not come back after a restart:\n{self.log_text()[-3000:]}")

    def _add_sounds(self, prompts: Path) -> None:
        """Asterisk's sounds folder: the system's English prompts plus the project's synthesized ones."""
        sounds = self.dir / "data" / "sounds"
        system = sounds.resolve() if sounds.is_symlink() else None
        if sounds.is_symlink():
            sounds.unlink()
            sounds.mkdir()
            if system is not None and system.is_dir():
                for entry in system.iterdir():
                    (sounds / entry.name).symlink_to(entry)
        for entry in prompts.iterdir():
            if not (sounds / entry.name).exists():
                (sounds / entry.name).symlink_to(entry)

    # -- inspection ------------------------------------------------------------------------------------
    def cli(self, command: str) -> str:
        out = subprocess.run([str(self.lab), "cli", str(self.dir), command], capture_output=True, text=True,
                             timeout=30)
        return out.stdout

    def log_text(self) -> str:
        path = self.dir / "log" / "messages"
        return path.read_text(errors="replace") if path.exists() else ""

    @property
    def monitor_dir(self) -> Path:
        """Where MixMonitor writes ``<uid>.raw`` (the relative name in the shipped dialplan)."""
        return self.dir / "spool" / "monitor"

    def db_put(self, family: str, key: str, value: object) -> None:
        out = self.cli(f"database put {family} {key} {value}")
        assert "success" in out.lower(), f"database put {family} {key}: {out!r}"

    # -- the test's own AMI session --------------------------------------------------------------------
    async def observe(self) -> AmiClient:
        """A second, unfiltered AMI session (user ``observer``) that keeps every frame."""
        client = AmiClient()
        await client.connect(self.ami_port)
        resp = dict(await client.action({"Action": "Login", "Username": "observer", "Secret": OBSERVER_SECRET}))
        assert resp.get("Response") == "Success", resp
        self.observer = client
        return client

    # -- parties ---------------------------------------------------------------------------------------
    async def call(self, dialled: str = "12345", caller: str = "", name: str = "张三",
                   keys: str = "", key_delay: float = 1.0, stay: float = 600.0) -> str:
        """A citizen dials ``dialled``; presses ``keys`` (``w`` = half a second) ``key_delay`` s after the
        IVR answers, and hangs up ``stay`` s after that. Returns the caller's number (unique per call unless
        given), by which ``caller_events`` finds the call."""
        assert self.observer is not None, "call observe() first"
        self._seq += 1
        caller = caller or f"1380{os.getpid() % 1000:03d}{self._seq:04d}"
        sid = f"{int(time.time() * 1000) % 10_000_000}{self._seq:03d}"
        self.db_put("caller", f"{sid}/delay", key_delay)
        self.db_put("caller", f"{sid}/keys", keys or "none")
        self.db_put("caller", f"{sid}/stay", stay)
        resp = dict(await self.observer.action({
            "Action": "Originate", "Channel": f"Local/{dialled}@cti-inbound", "Context": "test-caller",
            "Exten": sid, "Priority": 1, "CallerID": f'"{name}" <{caller}>', "Async": "true",
            "Timeout": 30000}))
        assert resp.get("Response") == "Success", resp
        return caller

    async def queue_caller(self, caller: str, patience: float, timeout: int = 600, name: str = "李四") -> None:
        """A citizen put straight into queue ``public`` (the shipped Queue() path, no menu): hangs up after
        ``patience`` s unless answered; Queue() itself lets go after ``timeout`` s."""
        assert self.observer is not None, "call observe() first"
        self._seq += 1
        sid = f"{int(time.time() * 1000) % 10_000_000}{self._seq:03d}"
        for family, key, value in (("qcaller", f"{caller}/timeout", timeout), ("caller", f"{sid}/delay", 0),
                                   ("caller", f"{sid}/keys", "none"), ("caller", f"{sid}/stay", patience)):
            put = dict(await self.observer.action({"Action": "DBPut", "Family": family, "Key": key, "Val": value}))
            assert put.get("Response") == "Success", put
        resp = dict(await self.observer.action({
            "Action": "Originate", "Channel": f"Local/{caller}@test-queue", "Context": "test-caller", "Exten": sid,
            "Priority": 1, "CallerID": f'"{name}" <{caller}>', "Async": "true", "Timeout": 30000}))
        assert resp.get("Response") == "Success", resp

    async def press(self, channel: str, digits: str) -> None:
        """The party on ``channel`` presses ``digits`` now: AMI PlayDTMF sends each key out of that channel,
        as the phone's SendDTMF would (for a citizen, its ``;1`` half: ``citizen_phone``)."""
        assert self.observer is not None, "call observe() first"
        for digit in digits:
            resp = dict(await self.observer.action({"Action": "PlayDTMF", "Channel": channel, "Digit": digit,
                                                    "Duration": 200}))
            assert resp.get("Response") == "Success", (channel, digit, resp)
            await asyncio.sleep(0.3)   # one key after the other, as a person presses them

    def agent(self, agent: str, ring: float = 1.0, talk: float = 3600.0, busy: bool = False) -> None:
        """How agent ``agent``'s phone (``Local/<agent>@agents/n``) behaves on the next calls."""
        self.db_put("agent", f"{agent}/ring", ring)
        self.db_put("agent", f"{agent}/talk", talk)
        self.db_put("agent", f"{agent}/busy", "yes" if busy else "no")

    def department(self, number: str, ring: float = 2.0, talk: float = 3600.0, busy: bool = False) -> None:
        """How department hotline ``number`` (``Local/<number>@test-dept``) answers."""
        self.db_put("dept", f"{number}/ring", ring)
        self.db_put("dept", f"{number}/talk", talk)
        self.db_put("dept", f"{number}/busy", "yes" if busy else "no")

    def citizen(self, number: str, mode: str = "answer", ring: float = 1.0) -> None:
        """How citizen ``number``'s phone (``Local/<number>@test-citizen``) behaves: answer (after ``ring`` s),
        ring (never answers), busy or congestion."""
        self.db_put("citizen", f"{number}/mode", mode)
        self.db_put("citizen", f"{number}/ring", ring)

    # -- what the switch says --------------------------------------------------------------------------
    def events(self, name: str | None = None, **fields: str) -> list[dict[str, str]]:
        """Events the observer saw, as dicts, filtered by name and exact field values."""
        assert self.observer is not None
        out = []
        for frame in self.observer.frames:
            d = dict(frame)
            if "Event" not in d or (name and d["Event"] != name):
                continue
            if all(d.get(k) == v for k, v in fields.items()):
                out.append(d)
        return out

    def caller_events(self, caller: str, name: str | None = None) -> list[dict[str, str]]:
        """Events of the citizen's channel (the one with ``caller`` as CallerIDNum), by name."""
        uids = {e["Uniqueid"] for e in self.events(None, CallerIDNum=caller)
                if e.get("Context") != "test-caller" and "Uniqueid" in e and ";1" not in e.get("Channel", "")}
        return [e for e in self.events(name) if e.get("Uniqueid") in uids]

    async def wait_event(self, name: str, timeout: float = 30.0, **fields: str) -> dict[str, str]:
        assert self.observer is not None

        def match(frame) -> bool:
            d = dict(frame)
            return d.get("Event") == name and all(d.get(k) == v for k, v in fields.items())

        try:
            return dict(await self.observer.wait_for(match, timeout))
        except TimeoutError:
            seen = sorted({dict(f).get("Event", "") for f in self.observer.frames})
            raise AssertionError(f"no {name} {fields} within {timeout} s; events seen: {seen}") from None

    def citizen_phone(self, citizen_channel: str) -> str:
        """The citizen's phone: the ``;1`` half (context test-caller) of the Local pair whose ``;2`` half is
        the call in [cti-inbound]."""
        assert citizen_channel.endswith(";2"), citizen_channel
        return citizen_channel[:-2] + ";1"

    async def queue_status(self, queue: str) -> dict[str, str]:
        """Asterisk's own counters of ``queue`` (QueueParams of a QueueStatus action)."""
        assert self.observer is not None
        frames = await self.observer.list_action({"Action": "QueueStatus", "Queue": queue})
        return next((dict(f) for f in frames if dict(f).get("Event") == "QueueParams"), {})

    def our_warnings(self) -> list[str]:
        """WARNING/ERROR lines of Asterisk's log that name the project's snippets or contexts."""
        pattern = re.compile(r"(WARNING|ERROR)\[.*(_cti\.conf|cti-|CTI |departments|queue '(public|enterprise|"
                             r"supervision|linkage110)')")
        return [line for line in self.log_text().splitlines() if pattern.search(line)]


async def until(predicate, timeout: float = 30.0, what: str = "", seen=None) -> None:
    """Wait for ``predicate()`` (checked every 20 ms); on timeout say what was awaited and what was seen."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            detail = seen() if callable(seen) else seen
            raise AssertionError(f"waited {timeout} s for {what or predicate}; saw: {detail}")
        await asyncio.sleep(0.02)


async def poll(fetch, accept, timeout: float = 30.0, what: str = "", interval: float = 0.05):
    """Call ``await fetch()`` until ``accept(value)``; returns the value. On timeout, says what was
    awaited and the last values seen."""
    seen: list = []
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await fetch()
        if accept(value):
            return value
        seen = (seen + [value])[-3:]
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"waited {timeout} s for {what}; last seen: {seen}")
        await asyncio.sleep(interval)
