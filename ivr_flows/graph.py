"""A flow as a Mermaid flowchart or a Graphviz digraph, so the admin sees the menu."""

from __future__ import annotations

from ivr_flows import model as m


def _label(node: m.Node) -> str:
    kind = type(node).__name__.lower()
    if isinstance(node, m.Queue):
        extra = f"queue {node.queue}" + (f" prio {node.priority}" if node.priority else "") + \
            (f" tags {','.join(node.tags)}" if node.tags else "") + (" + survey" if node.survey else "")
    elif isinstance(node, m.Transfer):
        extra = f"transfer {node.hotline}"
    elif isinstance(node, m.Goto):
        extra = f"goto {node.flow}" + (f".{node.node}" if node.node else "")
    elif isinstance(node, m.SetVars):
        extra = "set " + ", ".join([f"{k}={v}" for k, v in node.values.items()] + [f"#{t}" for t in node.tags])
    elif isinstance(node, m.Play | m.Menu | m.Collect | m.Survey | m.Hangup):
        prompts = getattr(node, "greeting", None) or getattr(node, "prompts", ())
        text = prompts[0].text or prompts[0].file if prompts else ""
        extra = f"{kind}: {text[:28]}" + ("…" if len(text) > 28 else "")
    elif isinstance(node, m.Http):
        extra = f"http {node.method} {node.url.split('?', 1)[0]}"
    else:
        extra = kind
    return f"{node.id}\n{extra}"


def _edges(node: m.Node, default_queue: str) -> list[tuple[str, str]]:
    out = [(label, target) for label, target in node.targets()]
    if isinstance(node, m.Menu | m.Collect) and node.exhausted is None:
        out.append(("exhausted", f"__queue_{default_queue}"))
    return out


def _shape_mermaid(node: m.Node, nid: str, label: str) -> str:
    if isinstance(node, m.Menu | m.Survey | m.Collect):
        return f'{nid}{{{{"{label}"}}}}'
    if isinstance(node, m.Condition):
        return f'{nid}{{"{label}"}}'
    if isinstance(node, m.TERMINALS):
        return f'{nid}(["{label}"])'
    return f'{nid}["{label}"]'


def _mid(node_id: str) -> str:
    return "n_" + "".join(c if c.isalnum() else "_" for c in node_id)


def to_mermaid(flow: m.Flow, default_queue: str = "public") -> str:
    lines = ["flowchart TD", f"  %% flow {flow.name} {flow.digest} {flow.description}".rstrip(),
             f'  start(("{flow.name}")) --> {_mid(flow.start)}']
    extra: set[str] = set()
    for node in flow.nodes.values():
        label = _label(node).replace('"', "'").replace("\n", "<br/>")
        lines.append("  " + _shape_mermaid(node, _mid(node.id), label))
        for edge, target in _edges(node, default_queue):
            if target.startswith("__queue_"):
                extra.add(target)
            lines.append(f'  {_mid(node.id)} -->|"{edge}"| {_mid(target)}')
    for target in sorted(extra):
        lines.append(f'  {_mid(target)}(["queue {target[8:]} (default)"])')
    return "\n".join(lines) + "\n"


def to_dot(flow: m.Flow, default_queue: str = "public") -> str:
    def q(text: str) -> str:
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'

    lines = [f"digraph {q(flow.name)} {{", "  rankdir=TB;", '  node [fontname="Noto Sans CJK SC"];',
             f'  start [shape=circle, label={q(flow.name)}];', f"  start -> {q(flow.start)};"]
    extra: set[str] = set()
    for node in flow.nodes.values():
        shape = "diamond" if isinstance(node, m.Condition) else "hexagon" if isinstance(
            node, m.Menu | m.Survey | m.Collect) else "box" if not isinstance(node, m.TERMINALS) else "oval"
        lines.append(f"  {q(node.id)} [shape={shape}, label={q(_label(node))}];")
        for edge, target in _edges(node, default_queue):
            if target.startswith("__queue_"):
                extra.add(target)
            lines.append(f"  {q(node.id)} -> {q(target)} [label={q(edge)}];")
    for target in sorted(extra):
        lines.append(f"  {q(target)} [shape=oval, label={q('queue ' + target[8:] + ' (default)')}];")
    lines.append("}")
    return "\n".join(lines) + "\n"
