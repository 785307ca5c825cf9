"""Configuration of the simulated PBX: queues, agents, departments, prompts, listeners.

The defaults reproduce the recorded Asterisk 22 lab (``etc/queues.conf``, ``etc/features.conf`` and
the dialplan of ``etc/extensions.conf``).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from .manager_conf import SHIPPED_MANAGER

Duration = float | Callable[..., float]  # a callable may take the random.Random to draw from


def sample(value: Duration, rng: random.Random | None = None) -> float:
    if not callable(value):
        return float(value)
    takes_rng = rng is not None and getattr(getattr(value, "__code__", None), "co_argcount", 0) > 0
    return float(value(rng) if takes_rng else value())


@dataclass
class QueueConfig:
    name: str
    members: list[str]                      # agent extensions, e.g. ["6001", "6002"]
    strategy: str = "rrmemory"
    servicelevel: int = 15
    timeout: int = 15                       # member ring timeout (seconds)
    retry: int = 5
    wrapuptime: int = 0
    # True: every waiting caller may ring a free agent (the shipped queues_cti.conf); False: only the head of
    # the line (Asterisk 22's default, what queues_conf.py reads from a queues.conf without the key)
    autofill: bool = True


@dataclass
class AgentTiming:
    """How an agent behaves: the fixture's DB(agent/delay/6XXX) and DB(agent/talk/6XXX)."""
    ring_delay: Duration = 2.0              # seconds of ringing before answering
    talk_time: Duration = 5.0               # seconds of talk after answering (Wait(talk))
    wrapup: Duration = 0.0                  # after-call work, unavailable to the queue


@dataclass
class DepartmentTiming:
    """A department hotline (context ``departments``): rings, answers, talks."""
    answer_delay: Duration = 3.0
    talk_time: Duration = 30.0
    no_answer_rate: float = 0.0             # probability the department never answers
    busy: bool = False                      # every call finds the line busy (cause 17)


@dataclass
class SimConfig:
    host: str = "127.0.0.1"
    ami_port: int = 5038                    # 0 picks a free port
    username: str = "cti"
    secret: str = "cti-secret"
    # manager.conf whose users' read classes and eventfilter apply to their sessions (the shipped one by
    # default; None: only username/secret, sent everything); extra_users: name -> secret, sent everything
    manager_conf: str | None = str(SHIPPED_MANAGER)
    extra_users: dict[str, str] = field(default_factory=dict)
    agi_host: str = "127.0.0.1"
    agi_port: int = 4573
    agi_script: str = "ivr"
    agi_connect_timeout: float = 2.0        # real seconds
    speed: float = 1.0
    start_epoch: float | None = None        # simulated clock start (None: now)
    queue_log: str | None = None            # path of the queue_log file
    seed: int | None = None
    lockstep: bool = False                  # discrete-event time frozen while the layer answers AGI
    queues: list[QueueConfig] = field(default_factory=lambda: [
        QueueConfig("public", ["6001", "6002"], timeout=20, retry=1),
        QueueConfig("enterprise", ["6101"], timeout=12, retry=1),
    ])
    agents: dict[str, AgentTiming] = field(default_factory=dict)
    default_agent: AgentTiming = field(default_factory=AgentTiming)
    departments: dict[str, DepartmentTiming] = field(default_factory=dict)
    default_department: DepartmentTiming = field(default_factory=DepartmentTiming)
    # prompt name -> seconds; unknown prompts last default_prompt seconds
    prompts: dict[str, float] = field(default_factory=lambda: {"hello-world": 1.4, "beep": 0.25})
    default_prompt: float = 2.0
    # prompt files not on the switch's disk: AGI STREAM FILE / GET DATA answer result=-1 for them
    missing_prompts: set[str] = field(default_factory=set)
    # features.conf
    atxfer: str = "*2"
    blindxfer: str = "#1"
    atxfer_abort: str = "*1"
    atxfer_complete: str = "*2"
    atxfer_threeway: str = "*3"
    transfer_digit_timeout: float = 3.0
    atxfer_noanswer_timeout: float = 15.0
    # features.conf xferfailsound (beeperr.wav, 0.36 s) played to the agent after a failed attended transfer;
    # no feature code is detected while it plays (seen on Asterisk 22.10.1: *2 40 ms after the Unhold did nothing)
    xfer_fail_sound: float = 0.36
    # one-key transfer: BlindTransfer/Redirect into this context dials Local/<exten>@departments
    transfer_context: str = "cti-transfer"
    transfer_dial_timeout: float = 15.0
    transfer_fallback_queue: str = "public"
    queue_timeout: int = 60                 # Queue(${CTIQUEUE},tT,,,60)
    recording_dir: str | None = None        # MixMonitor spool: a WAV per answered queue call (None: off)
    rng: random.Random = field(default_factory=random.Random)
    # asterisk.conf's systemname and the Entity ID (a MAC-like id, Asterisk's ${ENTITYID}): what tells two
    # switches apart (the wall keys figures by it); a fresh one per simulator, as two hosts' MACs differ
    system_name: str = ""
    entity_id: str = field(default_factory=lambda: ":".join(f"{b:02x}" for b in (2, *random.randbytes(5))))
