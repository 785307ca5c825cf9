"""Which Asterisk an instance reads: the identity the wall keys figures by (two hosts, one switch).

Two layer instances against one Asterisk both read every AMI event, so each counts every call; the wall
(queue_monitor.wall.one_per_switch) must show one of them, not their sum. The identity comes from the
switch itself, not from how an instance addresses it (127.0.0.1 and a LAN address are one switch):
Asterisk's built-in globals ``${ENTITYID}`` (asterisk.conf ``entityid``, by default a MAC address of the
host) and ``${SYSTEMNAME}`` (asterisk.conf ``systemname``, empty by default), read with AMI Getvar
without a channel (manager.c: class call or reporting; seen on Asterisk 22.10.1).
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)

VARIABLES = ("SYSTEMNAME", "ENTITYID")


async def switch_identity(ami) -> str:
    """``systemname@entityid`` (``entityid`` alone when no systemname is set) of the switch behind ``ami``
    (cti.ami.AmiClient, logged in); "" when the switch does not say."""
    values = []
    for name in VARIABLES:
        reply = await ami.action({"Action": "Getvar", "Variable": name})
        values.append(reply.get("Value", "") if reply.success else "")
    system_name, entity_id = values
    if not entity_id:
        return system_name
    return f"{system_name}@{entity_id}" if system_name else entity_id
