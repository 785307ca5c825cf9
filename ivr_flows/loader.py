"""Load a directory of flow files and validate them together: schema and graph errors, all at once.

Graph checks: a branch to an unknown node, a goto to an unknown flow or node, a node unreachable
from the start, a loop with no exit (nodes that can never reach a queue, transfer, goto, survey or
hangup), plus the entry and survey flows named in the settings must exist.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections import defaultdict, deque
from pathlib import Path
from types import MappingProxyType

import yaml

from ivr_flows import model as m
from ivr_flows.schema import Context, FlowError, FlowParser, parse_flow

FLOW_SUFFIXES = (".yaml", ".yml")
SOUND_SUFFIXES = (".wav", ".WAV", ".gsm", ".sln", ".sln16", ".ulaw", ".alaw", ".g722", ".g729", ".mp3", ".ogg")
CATALOGUE = "catalogue.yaml"


class FlowLoadError(Exception):
    def __init__(self, errors: list[FlowError]) -> None:
        super().__init__("\n".join(map(str, errors)))
        self.errors = errors


def read_catalogue(prompts_dir: Path) -> dict[str, dict]:
    """``config/prompts/catalogue.yaml``: prompt name -> {text, seconds}; missing file: empty."""
    path = prompts_dir / CATALOGUE
    if not path.exists():
        return {}
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    prompts = data.get("prompts", data) if isinstance(data, dict) else {}
    return {str(k): (v if isinstance(v, dict) else {"text": str(v or "")}) for k, v in prompts.items()}


def prompt_checker(prompts_dir: Path):
    """A prompt exists when the catalogue lists it or a sound file of that name is in the directory."""
    names = set(read_catalogue(prompts_dir))

    def exists(name: str) -> bool:
        return name in names or any((prompts_dir / f"{name}{ext}").is_file() for ext in SOUND_SUFFIXES)

    return exists


def read_hotlines(path: Path) -> frozenset[str] | None:
    """Numbers of the hotline directory (``config/hotlines.yaml``), or None when there is none."""
    if not path.exists():
        return None
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError:
        return None
    numbers: set[str] = set()

    def walk(value) -> None:
        if isinstance(value, dict):
            for key in ("number", "numbers", "phone"):
                item = value.get(key)
                for n in item if isinstance(item, list) else [item]:
                    if n is not None and str(n).isdigit():
                        numbers.add(str(n))
            for v in value.values():
                if isinstance(v, dict | list):
                    walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    walk(data)
    return frozenset(numbers) if numbers else None


def _edges(parser: FlowParser) -> dict[str, list[str]]:
    edges: dict[str, list[str]] = defaultdict(list)
    for node, target, _line, _field in parser.refs:
        edges[node].append(target)
    return edges


def _exits(node: m.Node | None) -> bool:
    if node is None:
        return True  # a node that failed to parse: its own error says enough
    if isinstance(node, m.TERMINALS):
        return True
    # A menu or collect with no explicit exhausted branch ends in the default queue.
    return isinstance(node, m.Menu | m.Collect) and node.exhausted is None


def check_graph(flows: dict[str, tuple[m.Flow | None, FlowParser]], unknown_flows: bool = False) -> list[FlowError]:
    """Graph errors across the flows; ``unknown_flows``: a file could not be read as YAML, so a goto to a flow
    not found may well go to that file's flow (not reported: the syntax error is the one to fix)."""
    errors: list[FlowError] = []
    entries: dict[str, set[str]] = defaultdict(set)  # flow -> nodes entered by goto from elsewhere
    for _flow, parser in flows.values():
        for node, target, line, field in parser.refs:
            if target not in parser.declared:
                errors.append(FlowError(parser.path, line, f"node {node}", f"{field} goes to unknown node '{target}'"))
        for node, other, other_node, line in parser.gotos:
            if other not in flows:
                if unknown_flows:
                    continue
                errors.append(FlowError(parser.path, line, f"node {node}", f"goto to unknown flow '{other}'"))
            elif other_node is not None:
                if other_node not in flows[other][1].declared:
                    errors.append(FlowError(parser.path, line, f"node {node}",
                                            f"goto to unknown node '{other_node}' of flow '{other}'"))
                else:
                    entries[other].add(other_node)
    for name, (flow, parser) in flows.items():
        if flow is None or flow.start not in parser.declared or parser.broken_edges:
            continue
        edges = _edges(parser)
        roots = {flow.start} | entries[name]
        seen = set(roots)
        todo = deque(roots)
        while todo:
            for target in edges.get(todo.popleft(), ()):
                if target in parser.declared and target not in seen:
                    seen.add(target)
                    todo.append(target)
        for node_id, line in parser.declared.items():
            if node_id not in seen:
                errors.append(FlowError(parser.path, line, f"node {node_id}",
                                        f"unreachable from the start node '{flow.start}'"))
        # Loops with no exit: reverse search from the nodes that end the IVR.
        reverse: dict[str, list[str]] = defaultdict(list)
        for src, targets in edges.items():
            for target in targets:
                reverse[target].append(src)
        can_exit = {n for n in parser.declared if _exits(flow.nodes.get(n))}
        todo = deque(can_exit)
        while todo:
            for src in reverse.get(todo.popleft(), ()):
                if src not in can_exit:
                    can_exit.add(src)
                    todo.append(src)
        stuck = sorted((parser.declared[n], n) for n in seen if n not in can_exit)
        if stuck:
            line, first = stuck[0]
            names = " -> ".join(n for _, n in stuck)
            errors.append(FlowError(parser.path, line, f"node {first}",
                                    f"loop with no exit: {names} never reach a queue, transfer, goto or hangup"))
    return errors


def load_texts(texts: dict[str, str], context: Context, required: tuple[str, ...] = ()) -> m.FlowSet:
    """Validate ``{path: text}`` as one set of flows; raise FlowLoadError listing every problem."""
    errors: list[FlowError] = []
    flows: dict[str, tuple[m.Flow | None, FlowParser]] = {}
    digests: dict[str, str] = {}
    parsed = []
    for path in sorted(texts):
        flow, parser = parse_flow(texts[path], path, context)
        parsed.append((flow, parser))
        errors.extend(parser.errors)
        if not parser.name or parser.name == "?":
            continue
        if parser.name in flows:
            errors.append(FlowError(path, 1, "", f"flow '{parser.name}' is also defined in {flows[parser.name][1].path}"))
            continue
        flows[parser.name] = (flow, parser)
        digests[parser.name] = hashlib.sha256(texts[path].encode("utf-8")).hexdigest()[:12]
    unreadable = any(parser.syntax_error for _flow, parser in parsed)
    errors.extend(check_graph(flows, unknown_flows=unreadable))
    for name in required:
        if name not in flows and not unreadable:   # it may be the unreadable file's flow
            errors.append(FlowError(next(iter(sorted(texts)), "<flows>"), 1, "", f"the flow '{name}' is missing"))
    if errors:
        raise FlowLoadError(sorted(set(errors)))
    version = hashlib.sha256("".join(f"{n}:{digests[n]};" for n in sorted(digests)).encode()).hexdigest()[:12]
    built = {name: dataclasses.replace(flow, digest=digests[name]) for name, (flow, _p) in flows.items()}
    return m.FlowSet(MappingProxyType(built), version)


def read_dir(flows_dir: Path) -> dict[str, str]:
    if not flows_dir.is_dir():
        raise FlowLoadError([FlowError(str(flows_dir), 0, "", "flows directory not found")])
    return {str(p): p.read_text(encoding="utf-8") for p in sorted(flows_dir.iterdir())
            if p.suffix in FLOW_SUFFIXES and p.is_file()}


def context_from_settings(flows_settings) -> Context:
    s = flows_settings
    return Context(frozenset(s.queues), prompt_checker(Path(s.prompts_dir)), read_hotlines(Path(s.hotlines_file)))


def load_dir(flows_dir: Path, context: Context, required: tuple[str, ...] = ()) -> m.FlowSet:
    texts = read_dir(flows_dir)
    if not texts:
        raise FlowLoadError([FlowError(str(flows_dir), 0, "", "no flow files (*.yaml) in the directory")])
    return load_texts(texts, context, required)
