"""Exceptions raised by the FastAGI layer; a handler may catch them, the session maps them to outcomes."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cti.agi.protocol import AgiResponse


class AgiError(Exception):
    """Base class of every AGI failure."""


class ProtocolError(AgiError):
    """The peer broke the AGI wire format (garbage, overlong line, oversized environment)."""


class PeerGone(AgiError):
    """The connection closed (Asterisk went away or the pipe broke)."""


class CommandTimeout(AgiError):
    """A command got no response in time; the channel state is unknown afterwards."""


class CallHungUp(AgiError):
    """The caller hung up: raised by the first command that is not allowed on a dead channel."""


class CommandFailed(AgiError):
    """Asterisk rejected a command (510 unknown command, 520 usage): a bug in the handler."""

    def __init__(self, command: str, response: AgiResponse):
        super().__init__(f"{command!r} -> {response.code} {response.message}")
        self.command = command
        self.response = response
