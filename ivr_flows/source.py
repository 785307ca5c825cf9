"""YAML with line numbers: mappings and lists remember where each key and item starts.

PyYAML forgets positions once it builds Python objects; the validator needs them for
``file:line: node <id>: ...`` messages, and it must also see duplicate keys (which PyYAML drops).
"""

from __future__ import annotations

import yaml


class LDict(dict):
    """A mapping with the line of itself (``line``) and of each key (``lines[key]``)."""

    line: int = 0

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.lines: dict[object, int] = {}
        self.duplicates: list[tuple[object, int]] = []

    def line_of(self, key: object) -> int:
        return self.lines.get(key, self.line)


class LList(list):
    line: int = 0

    def __init__(self, *args) -> None:
        super().__init__(*args)
        self.lines: list[int] = []

    def line_of(self, index: int) -> int:
        return self.lines[index] if 0 <= index < len(self.lines) else self.line


class _Loader(yaml.SafeLoader):
    pass


def _mapping(loader: _Loader, node: yaml.MappingNode) -> LDict:
    loader.flatten_mapping(node)
    out = LDict()
    out.line = node.start_mark.line + 1
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            key = str(key)
        line = key_node.start_mark.line + 1
        if key in out:
            out.duplicates.append((key, line))
        out[key] = loader.construct_object(value_node, deep=True)
        out.lines[key] = line
    return out


def _sequence(loader: _Loader, node: yaml.SequenceNode) -> LList:
    out = LList()
    out.line = node.start_mark.line + 1
    for item in node.value:
        out.append(loader.construct_object(item, deep=True))
        out.lines.append(item.start_mark.line + 1)
    return out


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _sequence)


class YamlSyntaxError(ValueError):
    def __init__(self, line: int, message: str, column: int = 0) -> None:
        super().__init__(message)
        self.line = line
        self.column = column


# PyYAML's wording of the usual slips, in an admin's words (yaml/parser.py, yaml/scanner.py).
HINTS = (
    ("expected <block end>", "a line is indented more or less than the keys beside it"),
    ("mapping values are not allowed here", "a ':' where a value was expected (quote a value containing ': ', "
                                             "or check the indentation of the line)"),
    ("found character '\\t'", "a tab: indent with spaces"),
    ("could not find expected ':'", "a key without ':' (or an unclosed quote)"),
    ("found undefined alias", "an '*' that names no '&' anchor (quote a value starting with '*')"),
    ("expected ',' or ']'", "an unclosed '[' list"),
    ("expected ',' or '}'", "an unclosed '{' mapping"),
    ("found unexpected end of stream", "an unclosed quote"),
)


def _misaligned(text: str, line: int) -> str:
    """Where the block the parser stopped in began out of line with 0-based ``line``: its first key's line
    and indentation (the usual cause: one key indented one space more than its siblings)."""
    lines = text.splitlines()

    def indent(s: str) -> int:
        return len(s) - len(s.lstrip(" "))

    def content(s: str) -> bool:
        return bool(s.strip()) and not s.lstrip().startswith("#")

    if not 0 <= line < len(lines):
        return ""
    here = indent(lines[line])
    first = None
    for n in range(line - 1, -1, -1):
        if not content(lines[n]):
            continue
        if indent(lines[n]) < here:      # the parent: the block began on the next content line
            break
        first = n
    if first is None or indent(lines[first]) == here:
        return ""
    return (f"this line is indented {here} spaces but line {first + 1}, above it in the same block, "
            f"{indent(lines[first])}: keys of one mapping line up")


def load_yaml(text: str) -> object:
    """Parse ``text``; raise YamlSyntaxError(line, message, column) on bad YAML: one error, where the
    parser stopped (1-based line and column), PyYAML's words and what they usually mean."""
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 0)
        problem = exc.problem or str(exc)
        hint = next((h for key, h in HINTS if key in problem), "")
        if "expected <block end>" in problem and mark is not None:
            hint = _misaligned(text, mark.line) or hint
        context = ""
        if exc.context and exc.context_mark is not None and exc.context_mark is not mark:
            context = f" ({exc.context} that starts at line {exc.context_mark.line + 1}, " \
                      f"column {exc.context_mark.column + 1})"
        raise YamlSyntaxError(line, f"not valid YAML: {problem}{context}" + (f": {hint}" if hint else ""),
                              column) from None
    except yaml.YAMLError as exc:
        raise YamlSyntaxError(1, f"not valid YAML: {exc}") from None
