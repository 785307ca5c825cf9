"""Asterisk Manager Interface: parser, messages and the client session."""

from cti.ami.client import (
    TOPIC_EVENT,
    TOPIC_RESYNCED,
    TOPIC_STATE,
    AmiClient,
    AmiError,
    AmiLoginError,
    AmiNotConnected,
    AmiState,
    AmiTimeout,
    EventTime,
    Resynced,
)
from cti.ami.message import AmiMessage, parse

__all__ = [
    "TOPIC_EVENT", "TOPIC_RESYNCED", "TOPIC_STATE", "AmiClient", "AmiError", "AmiLoginError",
    "AmiMessage", "AmiNotConnected", "AmiState", "AmiTimeout", "EventTime", "Resynced", "parse",
]
