"""Logging set-up: one format; every line safe to read, grep and ship (issue 17).

Applied to the final text of each record, whoever logged it and whatever it holds (paths, headers,
agent ids, caller names, AMI fields, YAML, exception text), so no call site can forget:

- caller numbers are masked (mainland mobiles and landlines with an area code);
- control characters are escaped (``\\n`` -> ``\\\\n``, NUL -> ``\\\\x00``...): a value from outside can
  neither forge a log line nor make grep see a binary file; a traceback's own lines are indented, so
  no line of it can pass for the start of a record;
- SQLAlchemy's ``[parameters: ...]`` (the row values of a failed statement) are never written.

Two formats (``log.format``): ``text``, one line per record (a traceback's lines indented below it),
and ``json``, one JSON object per line for log collectors (``time`` ISO 8601 with offset, ``level``,
``logger``, ``message``, and ``traceback`` when there is one), with the same masking and escaping:
the decoded ``message`` is exactly what the text format writes. Both go to stderr, which systemd
hands to journald (deploy/cti12345.service): no log file to rotate.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import sys
from typing import TextIO

# Mainland mobile numbers and landlines with an area code; uniqueids (10 digits + '.') do not match.
_PHONE = re.compile(r"(?<![\d.])(1[3-9]\d|0\d{2,3}-?)(\d{3,4})(\d{4})(?![\d.])")
# C0 and C1 control characters, DEL, and the Unicode line and paragraph separators.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_CONTROL_BUT_NEWLINE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029]")
_SQL_PARAMETERS = re.compile(r"\[parameters: .*?(\]$|$)")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def mask_numbers(text: str) -> str:
    return _PHONE.sub(lambda m: m.group(1) + "*" * len(m.group(2)) + m.group(3), text)


def _escape_char(m: re.Match) -> str:
    c = m.group(0)
    return _NAMED.get(c) or (f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}")


def escape_controls(text: str) -> str:
    """``text`` on one line: control characters written as escapes."""
    return _CONTROL.sub(_escape_char, text)


def safe_text(text: str) -> str:
    """One message as it may be written: numbers masked, SQL parameters dropped, controls escaped."""
    return escape_controls(mask_numbers(_SQL_PARAMETERS.sub("[parameters hidden]", text)))


class SafeFormatter(logging.Formatter):
    """The layer's format with :func:`safe_text` applied to the message and to every traceback line."""

    def format(self, record: logging.LogRecord) -> str:
        saved = record.msg, record.args, record.exc_text
        record.msg, record.args = safe_text(record.getMessage()), None
        try:
            text = super().format(record)
        finally:
            record.msg, record.args, record.exc_text = saved
        head, sep, tail = text.partition("\n")
        if not sep:
            return head
        return head + "\n" + "\n".join("    " + line for line in _safe_lines(tail))


def _safe_lines(text: str) -> list[str]:
    """The lines of a traceback, each masked and with its control characters escaped."""
    return [_CONTROL_BUT_NEWLINE.sub(_escape_char, mask_numbers(_SQL_PARAMETERS.sub("[parameters hidden]", line)))
            for line in text.split("\n")]


class JsonFormatter(logging.Formatter):
    """One JSON object per record on one line; the message as :class:`SafeFormatter` writes it."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {"time": dt.datetime.fromtimestamp(record.created).astimezone().isoformat(timespec="milliseconds"),
                 "level": record.levelname, "logger": record.name, "message": safe_text(record.getMessage())}
        trace = self.formatException(record.exc_info) if record.exc_info else (record.exc_text or "")
        if record.stack_info:
            trace = f"{trace}\n{self.formatStack(record.stack_info)}".lstrip("\n")
        if trace:
            entry["traceback"] = "\n".join(_safe_lines(trace))
        # ensure_ascii=False keeps Chinese readable; json.dumps escapes every control character left
        return json.dumps(entry, ensure_ascii=False)


class MaskingFilter(logging.Filter):
    """Masks numbers in a record's message (for handlers other than :func:`setup`'s)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = safe_text(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
FORMATS = ("text", "json")   # log.format


def setup(level: str = "INFO", stream: TextIO | None = None, format: str = "text") -> logging.Handler:
    """Log to ``stream`` (stderr) at ``level`` in ``format`` (text or json); return the handler."""
    if format not in FORMATS:
        raise ValueError(f"log format {format!r} is not one of {', '.join(FORMATS)}")
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(SafeFormatter(FORMAT) if format == "text" else JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # aiosqlite's DEBUG lines hold every statement's parameters (citizens' numbers, summaries): never on.
    logging.getLogger("aiosqlite").setLevel(max(logging.INFO, logging.getLevelName(level)))
    return handler
