"""AMI messages and the pure AMI frame parser.

``parse(buffer) -> (messages, rest)`` turns bytes into immutable :class:`AmiMessage` objects; it does
no I/O, so it is tested and benchmarked on its own (the shape of wazo-amid's parser). :class:`FrameReader`
feeds it the bytes of a stream as they arrive, in time linear in the bytes read.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime

log = logging.getLogger(__name__)

EOL = b"\r\n"
SEPARATOR = b"\r\n\r\n"
# A frame larger than this is garbage (a real Asterisk message is a few KB); it is dropped, not kept.
MAX_FRAME_BYTES = 256 * 1024


class AmiMessage(Mapping[str, str]):
    """One AMI response or event: immutable, header names case-insensitive.

    Repeated headers (``ChanVariable``) keep every value; ``msg[key]`` returns the first,
    ``msg.getall(key)`` all of them. ``msg.timestamp`` is the ``Timestamp`` header as a float (epoch
    seconds) or ``None``; ``msg.received_at`` is when the layer read the frame (epoch seconds, ``None``
    for a message built in memory). Event time is :attr:`event_time`: the ``Timestamp`` when Asterisk
    stamps events (manager.conf ``timestampevents = yes``), else the time of receipt; its default is
    ``no``, so ``Timestamp`` is optional and never read alone.
    """

    __slots__ = ("_fields", "_index", "_timestamp", "_received")

    def __init__(self, fields: tuple[tuple[str, str], ...] | list[tuple[str, str]],
                 received_at: float | None = None):
        fields = tuple(fields)
        index: dict[str, str] = {}
        for key, value in fields:
            index.setdefault(key.lower(), value)
        object.__setattr__(self, "_fields", fields)
        object.__setattr__(self, "_index", index)
        object.__setattr__(self, "_timestamp", False)
        object.__setattr__(self, "_received", received_at)

    @classmethod
    def of(cls, **headers: str) -> AmiMessage:
        return cls(tuple((k, str(v)) for k, v in headers.items()))

    def __setattr__(self, name, value):
        raise AttributeError("AmiMessage is immutable")

    def __getitem__(self, key: str) -> str:
        return self._index[key.lower()]

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.lower() in self._index

    def __iter__(self) -> Iterator[str]:
        seen = set()
        for key, _ in self._fields:
            if key.lower() not in seen:
                seen.add(key.lower())
                yield key

    def __len__(self) -> int:
        return len(self._index)

    def __getattr__(self, name: str) -> str:
        # panoramisk's Action reads resp.response, resp.event, resp.message...: '' when absent.
        if name.startswith("__"):
            raise AttributeError(name)
        return self._index.get(name.lower(), "")

    def __eq__(self, other):
        return isinstance(other, AmiMessage) and self._fields == other._fields

    def __hash__(self):
        return hash(self._fields)

    def getall(self, key: str) -> list[str]:
        key = key.lower()
        return [v for k, v in self._fields if k.lower() == key]

    @property
    def fields(self) -> tuple[tuple[str, str], ...]:
        return self._fields

    @property
    def name(self) -> str:
        """The event name, or '' for a response."""
        return self._index.get("event", "")

    @property
    def is_event(self) -> bool:
        return "event" in self._index

    @property
    def is_response(self) -> bool:
        return "response" in self._index

    @property
    def id(self) -> str | None:
        return self._index.get("actionid")

    action_id = id

    @property
    def success(self) -> bool:
        return self.is_event or self._index.get("response") in ("Success", "Follows", "Goodbye")

    @property
    def timestamp(self) -> float | None:
        """The ``Timestamp`` header (epoch seconds), ``None`` when absent or not a positive finite number."""
        ts = self._timestamp
        if ts is False:
            raw = self._index.get("timestamp")
            try:
                ts = float(raw) if raw else None
            except ValueError:
                ts = None
            if ts is not None and not (math.isfinite(ts) and ts > 0):
                ts = None   # 'nan', 'inf', '-1', '0': no time at all, never 1970
            object.__setattr__(self, "_timestamp", ts)
        return ts

    @property
    def stamped(self) -> bool:
        """Whether Asterisk stamped this message (a usable ``Timestamp`` header)."""
        return self.timestamp is not None

    @property
    def received_at(self) -> float | None:
        """When the layer read this message (epoch seconds), ``None`` for one built in memory."""
        return self._received

    @property
    def event_time(self) -> float | None:
        """When it happened: the ``Timestamp`` if stamped, else the time of receipt, else ``None``."""
        ts = self.timestamp
        return self._received if ts is None else ts

    @property
    def time(self) -> datetime | None:
        ts = self.event_time
        return None if ts is None else datetime.fromtimestamp(ts, UTC)

    def __repr__(self) -> str:
        shown = " ".join(f"{k}={v!r}" for k, v in self._fields[:4])
        return f"<AmiMessage {shown}>"


def parse_frame(frame: bytes, received_at: float | None = None) -> AmiMessage | None:
    """One frame (without its blank line) to a message; ``None`` when it holds no header at all.

    ``received_at``: when the frame was read (epoch seconds), kept as the message's time of receipt."""
    text = frame.decode("utf-8", "replace")
    fields = []
    for line in text.split("\r\n"):
        key, sep, value = line.partition(": ")
        if sep:
            fields.append((key, value))
        elif line.endswith(":"):
            fields.append((line[:-1], ""))  # Asterisk sends 'AccountCode: ' with an empty value
        elif line:
            log.warning("AMI line without a colon ignored: %.80r", line)
    if not fields:
        return None
    return AmiMessage(fields, received_at)


def parse(buffer: bytes, received_at: float | None = None) -> tuple[list[AmiMessage], bytes]:
    """Split ``buffer`` into complete messages and the unfinished rest.

    ``received_at`` (epoch seconds) stamps every message as its time of receipt: the caller reads the
    clock, so the parser stays pure.

    The ``Asterisk Call Manager/x.y`` banner line and empty frames are skipped; a frame that never
    ends within :data:`MAX_FRAME_BYTES` is discarded with a log line so memory stays bounded.
    """
    messages: list[AmiMessage] = []
    frames = buffer.split(SEPARATOR)
    rest = frames.pop()
    for frame in frames:
        if frame.startswith(b"Asterisk Call Manager/"):
            _banner, _, frame = frame.partition(EOL)
        frame = frame.strip(b"\r\n")
        if not frame:
            continue
        message = parse_frame(frame, received_at)
        if message is not None:
            messages.append(message)
    if len(rest) > MAX_FRAME_BYTES:
        log.error("AMI frame over %d bytes without an end: %d bytes dropped", MAX_FRAME_BYTES, len(rest))
        rest = b""
    return messages, rest


class FrameReader:
    """The bytes of one AMI stream in, as they arrive; complete messages out.

    Linear in the bytes read: a frame arriving in many small reads (a long ``Variable`` value, a slow
    link) is searched for its blank line only in the new bytes, and kept in one growing buffer, instead
    of re-splitting the whole pending frame on every read (quadratic: a 200 KB frame in 7-byte reads
    took seconds).
    """

    def __init__(self) -> None:
        self.buffer = bytearray()
        self._scanned = 0          # bytes of the buffer known to hold no frame separator

    def feed(self, data: bytes, received_at: float | None = None) -> list[AmiMessage]:
        """Messages completed by ``data``; ``received_at`` (epoch seconds) is their time of receipt."""
        self.buffer += data
        if self.buffer.find(SEPARATOR, max(0, self._scanned - len(SEPARATOR) + 1)) < 0:
            self._scanned = len(self.buffer)
            if self._scanned > MAX_FRAME_BYTES:
                log.error("AMI frame over %d bytes without an end: %d bytes dropped", MAX_FRAME_BYTES, self._scanned)
                self.buffer.clear()
                self._scanned = 0
            return []
        messages, rest = parse(bytes(self.buffer), received_at)
        self.buffer = bytearray(rest)
        self._scanned = len(rest)
        return messages
