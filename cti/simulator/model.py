"""Channels and bridges of the simulated PBX (state only, no behaviour)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(eq=False)
class Channel:
    name: str
    uniqueid: str
    linkedid: str
    context: str
    exten: str
    created: float
    priority: int = 1
    state: int = 0
    cid_num: str = "<unknown>"
    cid_name: str = "<unknown>"
    conn_num: str = "<unknown>"
    conn_name: str = "<unknown>"
    language: str = "en"
    accountcode: str = ""
    app: str = ""
    appdata: str = ""
    variables: dict[str, str] = field(default_factory=dict)
    bridge: Bridge | None = None
    peer: Channel | None = None          # the other half of a Local pair
    cause: int = 16
    gone: bool = False                   # Hangup event sent
    # who reacts to a hangup request; None means: wake the dialplan coroutine
    hangup_handler: Callable[[Channel], None] | None = None
    hangup_requested: asyncio.Event = field(default_factory=asyncio.Event)
    # where received DTMF goes (an AGI command or a feature detector); None drops it
    dtmf_sink: Callable[[str], None] | None = None
    on_answer: Callable[[Channel], None] | None = None   # called when the channel answers
    on_state: Callable[[Channel], None] | None = None    # called after each Newstate of the channel
    # a Local ;1 half optimised away: called with the channel that took its place in the bridge
    on_optimised: Callable[[Channel], None] | None = None
    dial_bridge: Bridge | None = None    # the bridge Dial() put this channel in with its callee
    on_busy: Callable[[Channel], None] | None = None     # a Dial() waiting on this channel hears it is busy
    call: object | None = None           # the InboundCall this channel belongs to
    role: str = ""                       # caller / pstn / agent / agent-out / dept / dept-out

    @property
    def device(self) -> str:
        """Local/12345@from-pstn for Local/12345@from-pstn-00000000;1."""
        base = self.name.rsplit(";", 1)[0]
        return base.rsplit("-", 1)[0]

    def set_callerid(self, num: str, name: str) -> None:
        self.cid_num, self.cid_name = num or "<unknown>", name or "<unknown>"

    def set_connected(self, num: str, name: str) -> None:
        self.conn_num, self.conn_name = num or "<unknown>", name or "<unknown>"


@dataclass(eq=False)
class Bridge:
    uniqueid: str = field(default_factory=lambda: str(uuid.uuid4()))
    channels: list[Channel] = field(default_factory=list)
    technology: str = "simple_bridge"
    consult: bool = False      # an attended transfer's consultation bridge (no Local optimisation there)
