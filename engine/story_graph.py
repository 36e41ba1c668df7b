"""``rasa visualize``: the stories and rules as one graph, drawn as a standalone SVG (or HTML).

Nodes are user intents and bot actions between START and END; each story or rule (checkpoints
joined, ``or`` expanded) is a path from START to END, and paths that begin alike share their
nodes until they part, as Rasa merges identical prefixes. The picture is a layered tree drawn
by this module: each step one row down, leaves side by side in story order, a parent centred
over its children, so no two edges of the tree cross. No Graphviz, no script, no CDN.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape

from engine.training_data.stories import (
    RULE_SNIPPET_ACTION,
    ActionStep,
    StoryData,
    UserStep,
    expand_stories,
)

START, END = 0, 1
ROW_HEIGHT, NODE_HEIGHT, MARGIN = 70, 32, 20
CHAR_WIDTH, MIN_COLUMN, MAX_LABEL = 7.2, 110, 40
_NOT_DRAWN = {RULE_SNIPPET_ACTION, "action_listen"}
COLOURS = {"start": "#ffd27f", "end": "#ffd27f", "intent": "#bcd7ff", "action": "#ffffff"}


@dataclass
class GraphNode:
    kind: str  # start, end, intent, action
    label: str
    depth: int
    children: dict[tuple[str, str], int] = field(default_factory=dict)
    ends: bool = False  # a story or rule stops here: an edge to END


@dataclass
class StoryGraph:
    nodes: list[GraphNode]

    @property
    def edges(self) -> list[tuple[int, int]]:
        edges = []
        for index, node in enumerate(self.nodes):
            edges.extend((index, child) for child in node.children.values())
            if node.ends:
                edges.append((index, END))
        return edges


def build_story_graph(stories: StoryData) -> StoryGraph:
    """One path per linear story and rule from START to END; equal prefixes share nodes."""
    nodes = [GraphNode("start", "START", 0), GraphNode("end", "END", 0)]
    for story in expand_stories(stories.stories) + expand_stories(stories.rules):
        current = START
        for key in _path(story.steps):
            child = nodes[current].children.get(key)
            if child is None:
                child = len(nodes)
                nodes.append(GraphNode(key[0], key[1], nodes[current].depth + 1))
                nodes[current].children[key] = child
            current = child
        nodes[current].ends = True
    nodes[END].depth = max(node.depth for node in nodes) + 1
    return StoryGraph(nodes)


def _path(steps: list) -> list[tuple[str, str]]:
    """(kind, label) of each step a user or the bot takes; slots, loops and ``...`` are not
    turns, and ``action_listen`` is the edge into the next intent."""
    path = []
    for step in steps:
        if isinstance(step, UserStep):
            path.append(("intent", step.intent or f"user: {step.text}"))
        elif isinstance(step, ActionStep) and step.name not in _NOT_DRAWN:
            path.append(("action", step.name or f"bot: {step.text}"))
    return path


# --- layout and drawing -----------------------------------------------------------------------


@dataclass
class _Layout:
    """Columns of the nodes, and the column each edge to END runs down."""

    columns: dict[int, float] = field(default_factory=dict)
    end_lanes: dict[int, float] = field(default_factory=dict)
    leaves: int = 0

    def place(self, graph: StoryGraph, index: int) -> float:
        """Leaves left to right in story order, a parent centred over its children. A node
        where a story stops but others go on gets a leaf of its own for its edge to END, so
        that edge runs down an empty column instead of through the nodes below."""
        node = graph.nodes[index]
        placed = [self.place(graph, child) for child in node.children.values()]
        if node.ends or not placed:
            placed.append(self._leaf())
            if node.ends:
                self.end_lanes[index] = placed[-1]
        self.columns[index] = (placed[0] + placed[-1]) / 2
        return self.columns[index]

    def _leaf(self) -> float:
        self.leaves += 1
        return self.leaves - 1.0


def _layout(graph: StoryGraph) -> _Layout:
    layout = _Layout()
    layout.place(graph, START)
    layout.columns[END] = max(layout.leaves - 1, 0) / 2
    return layout


def _label(text: str) -> str:
    return text if len(text) <= MAX_LABEL else text[: MAX_LABEL - 1] + "…"


def story_graph_svg(graph: StoryGraph) -> str:
    """The graph as one ``<svg>`` document (well-formed XML, every label escaped)."""
    layout = _layout(graph)
    columns = layout.columns
    longest = max(len(_label(node.label)) for node in graph.nodes)
    column = max(MIN_COLUMN, longest * CHAR_WIDTH + 30)
    width = (max(columns.values()) + 1) * column + 2 * MARGIN
    height = (graph.nodes[END].depth + 1) * ROW_HEIGHT + 2 * MARGIN

    def centre(index: int) -> tuple[float, float]:
        x = MARGIN + columns[index] * column + column / 2
        return x, MARGIN + graph.nodes[index].depth * ROW_HEIGHT + NODE_HEIGHT / 2

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" font-family="sans-serif" font-size="12">',
        '<defs><marker id="arrow" markerWidth="8" markerHeight="8" refX="8" refY="4" '
        'orient="auto"><path d="M0,0 L8,4 L0,8 z" fill="#555"/></marker></defs>',
    ]
    bottom = graph.nodes[END].depth * ROW_HEIGHT + MARGIN - ROW_HEIGHT / 2

    lanes = {i: MARGIN + lane * column + column / 2 for i, lane in layout.end_lanes.items()}
    parts += [
        _edge(centre(a), centre(b), lane=lanes[a] if b == END else None, bottom=bottom)
        for a, b in graph.edges
    ]
    parts += [_node(node, centre(i), column) for i, node in enumerate(graph.nodes)]
    parts.append("</svg>")
    return "\n".join(parts)


def _edge(
    start: tuple[float, float],
    end: tuple[float, float],
    *,
    lane: float | None = None,
    bottom: float = 0.0,
) -> str:
    """A curve to the next row; an edge to END leaves by its lane: over into it, straight
    down to the last row, then into END."""
    (x1, y1), (x2, y2) = start, end
    y1, y2 = y1 + NODE_HEIGHT / 2, y2 - NODE_HEIGHT / 2
    path = f"M{x1:.1f},{y1:.1f} "
    if lane is None:
        path += _curve(x1, y1, x2, y2)
    else:
        turn = min(y1 + ROW_HEIGHT - NODE_HEIGHT, bottom)
        path += f"{_curve(x1, y1, lane, turn)} L{lane:.1f},{bottom:.1f} "
        path += _curve(lane, bottom, x2, y2)
    return f'<path class="edge" d="{path}" fill="none" stroke="#555" marker-end="url(#arrow)"/>'


def _curve(x1: float, y1: float, x2: float, y2: float) -> str:
    """A cubic from the current point (x1, y1), leaving and arriving vertically."""
    bend = (y2 - y1) / 2
    return f"C{x1:.1f},{y1 + bend:.1f} {x2:.1f},{y2 - bend:.1f} {x2:.1f},{y2:.1f}"


def _node(node: GraphNode, centre: tuple[float, float], column: float) -> str:
    x, y = centre
    label = _label(node.label)
    box = min(column - 16, len(label) * CHAR_WIDTH + 24)
    radius = NODE_HEIGHT / 2 if node.kind in ("start", "end", "intent") else 3
    return (
        f'<g class="node {node.kind}"><title>{escape(node.label)}</title>'
        f'<rect x="{x - box / 2:.1f}" y="{y - NODE_HEIGHT / 2:.1f}" width="{box:.1f}" '
        f'height="{NODE_HEIGHT}" rx="{radius:.0f}" fill="{COLOURS[node.kind]}" stroke="#555"/>'
        f'<text x="{x:.1f}" y="{y + 4:.1f}" text-anchor="middle">{escape(label)}</text></g>'
    )


def story_graph_html(graph: StoryGraph, *, title: str = "Story graph") -> str:
    """A standalone page holding the SVG inline: opens from disk, needs nothing else."""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title>"
        "<style>body{font-family:sans-serif;margin:1.5em}svg{max-width:none}"
        ".legend span{display:inline-block;padding:2px 10px;margin-right:8px;"
        "border:1px solid #555;border-radius:12px}</style></head>\n<body>"
        f"<h1>{escape(title)}</h1>"
        f'<p class="legend"><span style="background:{COLOURS["intent"]}">user intent</span>'
        f'<span style="background:{COLOURS["action"]};border-radius:3px">bot action</span></p>\n'
        f"{story_graph_svg(graph)}\n</body></html>\n"
    )
