"""The AGI wire format as pure functions: environment, request URL, command lines, responses.

Nothing here does I/O, so every rule is unit-tested on strings (the shape of wazo-amid's parser).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from urllib.parse import parse_qsl, unquote, urlsplit

from cti.agi.errors import ProtocolError

# Asterisk's own AGI buffer is 2 KB; 8 KB leaves room for long variables without letting a peer grow us.
MAX_LINE_BYTES = 8 * 1024
# A real environment is ~25 lines / 700 bytes; anything far beyond that is not Asterisk.
MAX_ENV_LINES = 256
MAX_ENV_BYTES = 64 * 1024
# A 520 usage text is a few dozen lines; cap it so a chatty peer cannot keep one call reading forever.
MAX_CONTINUATION_LINES = 200

HANGUP_LINE = "HANGUP"

# Commands res_agi marks ``dead=1`` (allowed after hangup); every other command gets 511 then.
DEAD_SAFE_COMMANDS = frozenset(
    {
        "ASYNCAGI BREAK",
        "DATABASE DEL",
        "DATABASE DELTREE",
        "DATABASE GET",
        "DATABASE PUT",
        "EXEC",
        "GET FULL VARIABLE",
        "GET VARIABLE",
        "NOOP",
        "SET VARIABLE",
        "SPEECH DESTROY",
        "SPEECH UNLOAD GRAMMAR",
        "VERBOSE",
    }
)

_CODE = re.compile(r"^(\d{3})(?:([ -])(.*))?$")
_NEEDS_QUOTES = re.compile(r'[\s"\\]')


# --- responses --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AgiResponse:
    """One parsed response: ``200 result=1 (13800000001) endpos=11234``.

    ``result`` is an int when the text after ``result=`` is numeric, else that text ('' when empty);
    ``result_text`` always keeps the raw text (GET DATA digits such as ``0123`` or ``*1`` need it).
    ``data`` is the text in parentheses, ``message`` any other text (the 5xx explanation, 520 usage).
    """

    code: int
    result: int | str = ""
    result_text: str = ""
    data: str | None = None
    endpos: int | None = None
    extra: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    message: str = ""
    raw: str = ""

    @property
    def ok(self) -> bool:
        return self.code == 200

    @property
    def timeout(self) -> bool:
        """GET DATA / RECORD FILE ended on the timeout (``(timeout)`` after the result)."""
        return self.data == "timeout"

    @property
    def dead_channel(self) -> bool:
        return self.code == 511


def parse_response_line(line: str) -> AgiResponse:
    """Parse a final response line (``NNN text``); raises :class:`ProtocolError` on anything else."""
    match = _CODE.match(line)
    if not match or match.group(2) == "-":
        raise ProtocolError(f"not an AGI response line: {line[:80]!r}")
    code = int(match.group(1))
    rest = match.group(3) or ""
    if code != 200 or not rest.startswith("result="):
        return AgiResponse(code=code, message=rest, raw=line)

    body = rest[len("result=") :]
    result_text, _, tail = body.partition(" ")
    data: str | None = None
    tail = tail.lstrip()
    if tail.startswith("("):
        # The value of GET VARIABLE may itself hold ')': the data ends at the last one.
        close = tail.rfind(")")
        if close > 0:
            data, tail = tail[1:close], tail[close + 1 :]
        else:
            data, tail = tail[1:], ""
    extra: dict[str, str] = {}
    words: list[str] = []
    for token in tail.split():
        key, eq, value = token.partition("=")
        if eq and key.isidentifier():
            extra[key] = value
        else:
            words.append(token)
    endpos = _to_int(extra.get("endpos"))
    return AgiResponse(
        code=code,
        result=_to_int(result_text) if _is_int(result_text) else result_text,
        result_text=result_text,
        data=data,
        endpos=endpos,
        extra=MappingProxyType(extra),
        message=" ".join(words),
        raw=line,
    )


class ResponseAssembler:
    """Turns response lines into :class:`AgiResponse` objects, one ``feed`` per line.

    ``HANGUP`` lines are flags, not responses (``hangup_seen`` turns true and reading goes on);
    ``520-...`` starts a multi-line usage text that ends with the ``520 ...`` line.
    """

    __slots__ = ("hangup_seen", "_continuation")

    def __init__(self) -> None:
        self.hangup_seen = False
        self._continuation: list[str] | None = None

    def feed(self, line: str) -> AgiResponse | None:
        if line == HANGUP_LINE:
            self.hangup_seen = True
            return None
        if self._continuation is not None:
            match = _CODE.match(line)
            if match and match.group(2) != "-" and match.group(1) == self._continuation[0][:3]:
                lines, self._continuation = self._continuation, None
                lines.append(line)
                usage = "\n".join(lines[1:-1])
                return AgiResponse(code=int(line[:3]), message=usage, raw="\n".join(lines))
            if len(self._continuation) >= MAX_CONTINUATION_LINES:
                raise ProtocolError("multi-line response too long")
            self._continuation.append(line)
            return None
        match = _CODE.match(line)
        if match and match.group(2) == "-":
            self._continuation = [line]
            return None
        return parse_response_line(line)


# --- environment -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AgiEnv:
    """The ``agi_*`` block Asterisk sends first, plus the route taken from ``agi_request``."""

    vars: Mapping[str, str]
    script: str
    params: Mapping[str, str]
    args: tuple[str, ...]

    def get(self, key: str, default: str = "") -> str:
        return self.vars.get(key, default)

    @property
    def caller_id(self) -> str:
        return self.get("agi_callerid")

    @property
    def caller_name(self) -> str:
        return self.get("agi_calleridname")

    @property
    def uniqueid(self) -> str:
        return self.get("agi_uniqueid")

    @property
    def channel(self) -> str:
        return self.get("agi_channel")

    @classmethod
    def from_vars(cls, variables: Mapping[str, str], request: str | None = None) -> AgiEnv:
        """Build from parsed variables; ``request`` overrides ``agi_request`` (classic AGI scripts)."""
        target = request if request is not None else variables.get("agi_request", "")
        if not target:
            target = variables.get("agi_network_script", "")
        if not target:
            raise ProtocolError("environment has no agi_request")
        script, params = parse_request(target)
        return cls(
            vars=MappingProxyType(dict(variables)),
            script=script,
            params=MappingProxyType(params),
            args=_collect_args(variables),
        )


def parse_env_line(line: str) -> tuple[str, str]:
    """``agi_callerid: 13800000001`` -> ``("agi_callerid", "13800000001")``; the value keeps its text."""
    key, colon, value = line.partition(":")
    key = key.strip()
    if not colon or not key or len(key.split()) != 1:
        raise ProtocolError(f"not an environment line: {line[:80]!r}")
    return key, value[1:] if value.startswith(" ") else value


def parse_env(lines: Iterable[str]) -> AgiEnv:
    """Parse the environment lines (without the closing blank line)."""
    return AgiEnv.from_vars(dict(parse_env_line(line) for line in lines))


def parse_request(request: str) -> tuple[str, dict[str, str]]:
    """``agi://127.0.0.1:4573/ivr?lang=zh`` -> ``("ivr", {"lang": "zh"})``; a bare ``ivr?x=1`` works too."""
    parts = urlsplit(request.strip())
    script = unquote(parts.path).strip("/")
    params = dict(parse_qsl(parts.query, keep_blank_values=True))
    return script, params


def _collect_args(variables: Mapping[str, str]) -> tuple[str, ...]:
    numbered = []
    for key, value in variables.items():
        if key.startswith("agi_arg_") and key[8:].isdigit():
            numbered.append((int(key[8:]), value))
    return tuple(value for _, value in sorted(numbered))


# --- commands ----------------------------------------------------------------------------------------


def quote(value: object, *, always: bool = False) -> str:
    """Quote one argument the way res_agi's ``parse_args`` reads it (backslash escapes ``"`` and ``\\``)."""
    text = _one_line(str(value))
    if not always and text and not _NEEDS_QUOTES.search(text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def format_command(verb: str, *args: str) -> str:
    """Join a verb and already-quoted arguments into one command line (no newline)."""
    return " ".join((verb, *args)) if args else verb


def is_dead_safe(command: str) -> bool:
    """True when Asterisk still runs this command after the caller hung up."""
    words = command.upper().split(None, 3)
    return any(" ".join(words[:size]) in DEAD_SAFE_COMMANDS for size in (1, 2, 3))


def _one_line(text: str) -> str:
    # A newline inside an argument would smuggle a second command onto the wire.
    return text.replace("\r", " ").replace("\n", " ")


def _is_int(text: str) -> bool:
    return bool(text) and (text.isdigit() or (text[0] == "-" and text[1:].isdigit()))


def _to_int(text: str | None) -> int | None:
    if text is None or not _is_int(text):
        return None
    return int(text)
