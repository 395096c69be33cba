"""A workflow drawn as a state graph: an SVG built server-side from the very ``transitions``
Machine that runs the workflow (``core.workflow.Workflow.machine``), so the picture cannot drift
from what runs.

No Graphviz: a small layered layout. States are ranked by the longest path from the initial state
over the graph without its back edges (found by a depth-first walk), laid out top to bottom; each
row is ordered by the mean position of its predecessors. Forward edges are straight lines; back
edges and edges within a row bend out to the side; a state's transition to itself is a loop.
Every label is escaped; the markup has no script and no external reference.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr

ROW = 96          # vertical distance between rows
NODE_H = 44
PAD = 24          # margin around the drawing
GAP = 36          # horizontal gap between two states of a row
SIDE = 70         # room on each side for bent edges
FONT = 13


def text_width(text: str, size: float = FONT) -> float:
    """A fair estimate of the drawn width (CJK glyphs are square, Latin about half)."""
    return sum(size if ord(ch) > 0x2E80 else size * 0.6 for ch in text)


@dataclass
class Edge:
    source: str
    dest: str
    labels: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class Graph:
    name: str
    label: str
    initial: str
    final: tuple[str, ...]
    states: dict[str, str]      # code -> label, in the machine's order
    edges: list[Edge]


ACTOR_WORDS = {"claimant": "申报人", "current_reviewer": "当前审核机构", "organiser": "组织机构",
               "approver": "审批机构"}


def graph_of(workflow) -> Graph:
    """The states and transitions of a ``core.workflow.Workflow``, read from its Machine; the
    Chinese labels and guards come from the definition the Machine was built from."""
    d = workflow.definition
    machine = workflow.machine
    states = {name: d.state_label(name) for name in machine.states}
    edges: dict[tuple[str, str], Edge] = {}
    for trigger, event in machine.events.items():
        for source, transitions in event.transitions.items():
            for t in transitions:
                dest = t.dest if t.dest is not None else source
                edge = edges.setdefault((source, dest), Edge(source, dest))
                label = d.trigger_label(trigger)
                if label not in edge.labels:
                    edge.labels.append(label)
                for tdef in d.transitions:
                    if tdef.trigger == trigger and source in tdef.sources and tdef.dest == dest:
                        guards = "、".join(name if arg is None else f"{name}({arg})" for name, arg in tdef.guards)
                        note = f"{label}（{trigger}）：{ACTOR_WORDS.get(tdef.actor, tdef.actor)}"
                        if guards:
                            note += f"；条件 {guards}"
                        if note not in edge.notes:
                            edge.notes.append(note)
    return Graph(d.name, d.label, d.initial, tuple(d.final), states, list(edges.values()))


def _layers(g: Graph) -> dict[str, int]:
    """Longest-path ranks over the graph without back edges (DFS from the initial state)."""
    out: dict[str, list[str]] = {s: [] for s in g.states}
    for e in g.edges:
        if e.source != e.dest:
            out[e.source].append(e.dest)
    back: set[tuple[str, str]] = set()
    colour: dict[str, int] = {}

    def visit(s: str) -> None:
        colour[s] = 1
        for t in out[s]:
            if colour.get(t) == 1:
                back.add((s, t))
            elif t not in colour:
                visit(t)
        colour[s] = 2

    for start in [g.initial, *g.states]:
        if start not in colour:
            visit(start)
    rank = {s: 0 for s in g.states}
    order: list[str] = []
    seen: set[str] = set()

    def topo(s: str) -> None:  # reverse post-order of the DAG
        seen.add(s)
        for t in out[s]:
            if (s, t) not in back and t not in seen:
                topo(t)
        order.append(s)

    for start in [g.initial, *g.states]:
        if start not in seen:
            topo(start)
    for s in reversed(order):
        for t in out[s]:
            if (s, t) not in back:
                rank[t] = max(rank[t], rank[s] + 1)
    return rank


def render_svg(g: Graph, *, element_id: str | None = None) -> str:
    rank = _layers(g)
    width_of = {s: max(text_width(label) + 28, text_width(s, 11) + 20, 72) for s, label in g.states.items()}
    # Long forward edges pass through virtual points, one per row they cross, which take a slot
    # of their own in the row (so no edge runs through a state); the label sits on the first.
    rows: dict[int, list[str]] = {}
    for s in g.states:
        rows.setdefault(rank[s], []).append(s)
    via: dict[int, list[str]] = {}
    preds: dict[str, list[str]] = {s: [] for s in g.states}
    for i, e in enumerate(g.edges):
        if e.source == e.dest or rank[e.dest] <= rank[e.source]:
            continue
        chain = [e.source]
        for r in range(rank[e.source] + 1, rank[e.dest]):
            v = f"\0{i}.{r}"
            rows[r].append(v)
            rank[v] = r
            width_of[v] = (text_width("／".join(e.labels), 11) + 12) if r == rank[e.source] + 1 else 14
            preds[v] = [chain[-1]]
            chain.append(v)
        preds[e.dest].append(chain[-1])
        via[i] = chain[1:]
    row_width = {r: sum(width_of[s] for s in states) + GAP * (len(states) - 1) for r, states in rows.items()}
    inner = max(row_width.values())
    total_w = inner + 2 * (PAD + SIDE)
    x: dict[str, float] = {}
    for r in sorted(rows):
        states = rows[r]
        if r > 0:  # order a row by the mean x of its predecessors (stable for ties)
            index = {s: i for i, s in enumerate(states)}
            states.sort(key=lambda s: (sum(x[p] for p in preds[s]) / len(preds[s]) if preds[s] else total_w / 2,
                                       index[s]))
        cursor = (total_w - row_width[r]) / 2
        for s in states:
            x[s] = cursor + width_of[s] / 2
            cursor += width_of[s] + GAP
    top_rank = max(rank.values())
    y = {s: PAD + 8 + rank[s] * ROW + NODE_H / 2 for s in rank}
    total_h = PAD * 2 + 8 + top_rank * ROW + NODE_H + 16
    marker = f"jj-arrow-{g.name}"
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="jj-workflow" viewBox="0 0 {total_w:.0f} {total_h:.0f}" '
             f'width="{total_w * 1.25:.0f}" role="img" aria-label={quoteattr(g.label)}'
             + (f' id={quoteattr(element_id)}' if element_id else "") + ">",
             f"<title>{escape(g.label)}</title>",
             f'<defs><marker id="{marker}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
             'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker></defs>']
    label_boxes: list[str] = []
    side_count = {"right": 0, "left": 0}
    for i, e in enumerate(g.edges):
        text = "／".join(e.labels)
        tip = "\n".join(e.notes) or text
        sx, sy, dx, dy = x[e.source], y[e.source], x[e.dest], y[e.dest]
        if e.source == e.dest:
            r = width_of[e.source] / 2
            path = (f"M{sx + r:.1f},{sy - 8:.1f} C{sx + r + 46:.1f},{sy - 30:.1f} {sx + r + 46:.1f},{sy + 30:.1f} "
                    f"{sx + r:.1f},{sy + 8:.1f}")
            lx, ly = sx + r + 30, sy - 24
        elif rank[e.dest] > rank[e.source]:
            points = [(sx, sy + NODE_H / 2)]
            for v in via.get(i, ()):
                points += [(x[v], y[v] - NODE_H / 2), (x[v], y[v] + NODE_H / 2)]
            points.append((dx, dy - NODE_H / 2))
            path = "M" + " L".join(f"{px:.1f},{py:.1f}" for px, py in points)
            if via.get(i):
                lx, ly = x[via[i][0]], y[via[i][0]]
            else:
                (x1, y1), (x2, y2) = points[0], points[-1]
                lx, ly = (x1 + x2) / 2, (y1 + y2) / 2
        else:  # a back edge or within a row: bend out on the side nearer the border
            side = "right" if (sx + dx) / 2 > total_w / 2 + 1 else "left"
            side_count[side] += 1
            k = side_count[side]
            sign = 1 if side == "right" else -1
            x1 = sx + sign * width_of[e.source] / 2
            x2 = dx + sign * width_of[e.dest] / 2
            bulge = (max(x1, x2) if sign > 0 else min(x1, x2)) + sign * (30 + 18 * k)
            path = f"M{x1:.1f},{sy:.1f} C{bulge:.1f},{sy:.1f} {bulge:.1f},{dy:.1f} {x2:.1f},{dy:.1f}"
            w = text_width(text, 11) + 8
            lx, ly = (x1 + 6 * bulge + x2) / 8 + sign * (w / 2 - 10), (sy + dy) / 2
        parts.append(f'<g class="jj-edge" data-source={quoteattr(e.source)} data-dest={quoteattr(e.dest)}>'
                     f"<title>{escape(tip)}</title>"
                     f'<path d="{path}" fill="none" stroke="#555" stroke-width="1.4" '
                     f'stroke-linejoin="round" marker-end="url(#{marker})"/></g>')
        w = text_width(text, 11) + 8
        label_boxes.append(f'<g class="jj-edge-label"><rect x="{lx - w / 2:.1f}" y="{ly - 8:.1f}" width="{w:.1f}" '
                           f'height="16" rx="3" fill="#fff" fill-opacity="0.9"/>'
                           f'<text x="{lx:.1f}" y="{ly + 4:.1f}" font-size="11" text-anchor="middle" '
                           f'fill="#0b5394">{escape(text)}</text></g>')
    for s, label in g.states.items():
        w = width_of[s]
        left, top = x[s] - w / 2, y[s] - NODE_H / 2
        fill = "#e8f4ea" if s in g.final else ("#fff8e1" if s == g.initial else "#f1f5fb")
        stroke_w = 2.4 if s == g.initial else 1.2
        parts.append(f'<g class="jj-state" data-state={quoteattr(s)}>'
                     f'<rect x="{left:.1f}" y="{top:.1f}" width="{w:.1f}" height="{NODE_H}" rx="8" fill="{fill}" '
                     f'stroke="#34495e" stroke-width="{stroke_w}"/>')
        if s in g.final:
            parts.append(f'<rect x="{left + 3:.1f}" y="{top + 3:.1f}" width="{w - 6:.1f}" height="{NODE_H - 6}" '
                         f'rx="6" fill="none" stroke="#34495e" stroke-width="0.8"/>')
        parts.append(f'<text x="{x[s]:.1f}" y="{y[s] - 1:.1f}" font-size="{FONT}" text-anchor="middle" '
                     f'fill="#222">{escape(label)}</text>'
                     f'<text x="{x[s]:.1f}" y="{y[s] + 14:.1f}" font-size="10" text-anchor="middle" '
                     f'fill="#777">{escape(s)}</text></g>')
    parts.extend(label_boxes)
    parts.append("</svg>")
    return "".join(parts)


def workflow_svg(workflow, *, element_id: str | None = None) -> str:
    return render_svg(graph_of(workflow), element_id=element_id)
