"""The field grammar of AMI events, learnt from recordings, and a checker for any transcript.

``learn(paths)`` reads ``*.ami.txt`` recordings (``<ms> <line>`` per line, ``>>>`` lines are the
actions sent) and returns, per event name, the field-name sequences seen. ``check(frames, grammar)``
lists every event whose field names (in order) match none of the recorded sequences.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

_LINE = re.compile(r"^\s*(\d+(?:\.\d+)?) ?(.*)$")

Frame = list[tuple[str, str]]


def read_recording(path: str | Path) -> list[tuple[float, Frame | dict]]:
    """(offset_ms, frame) for every received frame; (offset_ms, {'>>>': action}) for actions sent."""
    import ast
    out: list = []
    current: Frame = []
    start = 0.0
    for raw in Path(path).read_text(encoding="utf-8").splitlines():
        m = _LINE.match(raw)
        if not m:
            continue
        offset, text = float(m.group(1)), m.group(2)
        if text.startswith(">>> Action: "):
            name, _, rest = text[len(">>> Action: "):].partition(" ")
            action = {"Action": name}
            action.update(ast.literal_eval(rest) if rest.strip() else {})
            out.append((offset, {">>>": action}))
            continue
        if text.startswith("Asterisk Call Manager/"):
            continue
        if text == "":
            if current:
                out.append((start, current))
                current = []
            continue
        if not current:
            start = offset
        key, sep, value = text.partition(": ")
        if not sep and text.endswith(":"):
            key, value = text[:-1], ""
        current.append((key, value))
    if current:
        out.append((start, current))
    return out


def parse_frames(data: bytes) -> list[Frame]:
    """Split raw AMI bytes into frames (the banner line is skipped)."""
    frames = []
    for chunk in data.split(b"\r\n\r\n"):
        text = chunk.decode("utf-8", "replace")
        if text.startswith("Asterisk Call Manager/"):
            text = text.partition("\r\n")[2]
        lines = [ln for ln in text.split("\r\n") if ln]
        if not lines:
            continue
        frame = []
        for ln in lines:
            k, sep, v = ln.partition(": ")
            if not sep and ln.endswith(":"):
                k, v = ln[:-1], ""
            frame.append((k, v))
        frames.append(frame)
    return frames


def learn(paths: Iterable[str | Path]) -> dict[str, set[tuple[str, ...]]]:
    grammar: dict[str, set[tuple[str, ...]]] = {}
    for path in paths:
        for _, frame in read_recording(path):
            if isinstance(frame, dict) or not frame or frame[0][0] != "Event":
                continue
            grammar.setdefault(frame[0][1], set()).add(tuple(k for k, _ in frame[1:]))
    return grammar


def check(frames: Iterable[Frame], grammar: dict[str, set[tuple[str, ...]]]) -> list[str]:
    """Problems: events of a recorded type whose field names differ from every recorded layout."""
    problems = []
    for frame in frames:
        if not frame or frame[0][0] != "Event":
            continue
        name = frame[0][1]
        layouts = grammar.get(name)
        if layouts is None:
            continue
        fields = tuple(k for k, _ in frame[1:])
        if fields not in layouts:
            best = min(layouts, key=lambda lay: len(set(lay) ^ set(fields)))
            problems.append(f"{name}: fields {list(fields)} differ from recorded {list(best)}")
    return problems
