"""Which Asterisk an instance reads: the identity the wall keys figures by (two hosts, one switch).

Two layer instances against one Asterisk both read every AMI event, so each counts every call; the wall
(queue_monitor.wall.one_per_switch) must show one of them, not their sum. The identity comes from the
switch itself, not from how an instance addresses it (127.0.0.1 and a LAN address are one switch):
Asterisk's built-in globals ``${ENTITYID}`` (asterisk.conf ``entityid``, by default a MAC address of the
host) and ``${SYSTEMNAME}`` (asterisk.conf ``systemname``, empty by default), read with AMI Getvar
without a channel (manager.c: class call or reporting; seen on Asterisk 22.10.1).
"""

from __future__ import annotations

from collections.abc import Iterable

from queue_monitor.engine import QueueCall

VARIABLES = ("SYSTEMNAME", "ENTITYID", "EPOCH")


async def read_switch(ami) -> tuple[str, float | None]:
    """The switch behind ``ami`` (cti.ami.AmiClient, logged in): its identity, ``systemname@entityid``
    (``entityid`` alone when no systemname is set; "" when the switch does not say), and its clock now
    (``${EPOCH}``, epoch seconds; None when unreadable)."""
    values = []
    for name in VARIABLES:
        reply = await ami.action({"Action": "Getvar", "Variable": name})
        values.append(reply.get("Value", "") if reply.success else "")
    system_name, entity_id, epoch = values
    identity = f"{system_name}@{entity_id}" if system_name and entity_id else entity_id or system_name
    return identity, float(epoch) if epoch.isdigit() else None


def missed_legs(own: Iterable[QueueCall], theirs: Iterable[QueueCall], before: float,
                heard: set[str]) -> list[QueueCall]:
    """The legs a twin (another instance on the same switch) stored that this instance never counted: decided
    (answered, or left unanswered) ``before`` this instance started hearing the switch, not among its own rows
    (same Uniqueid and join time) and not of a caller it heard itself (``heard``: Uniqueids); each once."""
    mine = {(c.uniqueid, c.joined_at) for c in own}
    out: dict[tuple[str, float], QueueCall] = {}
    for c in theirs:
        key = (c.uniqueid, c.joined_at)
        decided = c.connected_at if c.connected_at is not None else c.left_at
        if key not in mine and c.uniqueid not in heard and decided < before:
            out.setdefault(key, c)
    return list(out.values())
