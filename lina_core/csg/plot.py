"""A Plotly figure of a scene graph, for the app's scene tab.

The layout is **layered**: a node's row is its causal hop depth (what the prompt states on top,
each effect one row below the deepest of its causes), so causes sit above their effects; within
a row nodes are ordered by the mean position of their parents (fewer crossings) and spaced so
that no two nodes or labels overlap.  Causal edges are solid red, other edges dashed grey, every
edge has an arrowhead at its target and carries its relation; implicit nodes are hollow, ringed with a dotted circle and
labelled "(implicit)".  It must draw graphs that do not validate (an edit in progress), so it
reads node data defensively.
"""
from __future__ import annotations

import math
from typing import Any

import networkx as nx

from .graph import CausalSceneGraph
from .vocabulary import CAUSAL_RELATIONS

CAUSAL_EDGE_COLOUR = "#d62728"
SPATIAL_EDGE_COLOUR = "#8c8c8c"
KIND_COLOURS = {"object": "#1f77b4", "surface": "#7f7f7f", "light": "#e6b800",
                "effect": "#d62728", "entity": "#2ca02c"}
#: stated nodes first in the top row, in this order of kinds
_KIND_ORDER = {"object": 0, "entity": 0, "surface": 1, "light": 2, "effect": 3}
#: the figure's geometry, in data units (one unit between neighbours and between rows) and in
#: the pixels the figure is drawn at (it is at least ``UNIT_PX`` per unit)
ROW_GAP = 1.25
COL_GAP = 1.0
UNIT_PX = 150
CHAR_PX = 7.0          # a label character at the label font size, generously
LINE_PX = 15.0
MARKER_PX = 24
LABEL_CHARS = 14       # a label line is cut to this many characters
RING = 0.16            # the dotted ring around an implicit node, in units
STAGGER, STAGGER_FROM = 0.5, 4   # rows wider than this stagger their nodes by this much
PANEL_PX = 540         # the Scene tab's figure panel at a 1400 px wide window
#: the legend's node entries (their own traces, in one neutral colour; a node's colour is its kind)
LEGEND_NAMES = {False: "node (colour: its kind)", True: "implicit node (hollow, dotted ring)"}
LEGEND_COLOUR = "#555555"


def _kind_of(g: CausalSceneGraph, n: str) -> str:
    return str(g.graph.nodes[n].get("kind") or "")


def _is_causal(rel: Any) -> bool:
    return rel in CAUSAL_RELATIONS or rel == "causes"


def _depths(g: CausalSceneGraph) -> dict[str, int]:
    """Each node's row: 0 for what is not an effect, and for an effect one more than the
    deepest node with an edge into it (its causes), so causes are always above their effects.
    Equal to :meth:`CausalSceneGraph.hop_depths` on a valid ToyWorld graph, and defined on any
    graph: an edge that would close a cycle is ignored."""
    dag = nx.DiGraph()
    dag.add_nodes_from(g.graph.nodes)
    into_effects = [(u, v) for u, v in g.graph.edges if u != v and _kind_of(g, v) == "effect"]
    dag.add_edges_from(into_effects)
    if not nx.is_directed_acyclic_graph(dag):   # rare (an edit in progress): edge by edge
        dag.remove_edges_from(into_effects)
        for u, v in into_effects:
            if not nx.has_path(dag, v, u):       # u -> v would close a cycle
                dag.add_edge(u, v)
    depth: dict[str, int] = {}
    for n in nx.topological_sort(dag):
        preds = list(dag.predecessors(n))
        depth[n] = 1 + max(depth[p] for p in preds) if preds and _kind_of(g, n) == "effect" \
            else 0
    return depth


def _rows(g: CausalSceneGraph, depth: dict[str, int]) -> list[list[str]]:
    """The nodes of each row, ordered: the top row by kind then insertion order, every other
    row by the mean column of each node's neighbours in the rows above (barycentre)."""
    order = {n: i for i, n in enumerate(g.graph.nodes)}
    rows: list[list[str]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
    for n in g.graph.nodes:
        rows[depth[n]].append(n)
    col: dict[str, float] = {}
    for r, row in enumerate(rows):
        if r == 0:
            row.sort(key=lambda n: (_KIND_ORDER.get(_kind_of(g, n), 4), order[n]))
            row[:] = _hubs_in_the_middle(g, row)
        else:
            def centre(n: str) -> float:
                ups = [col[p] for p in nx.all_neighbors(g.graph, n) if p in col]
                return sum(ups) / len(ups) if ups else math.inf
            row.sort(key=lambda n: (centre(n), order[n]))
        for i, n in enumerate(row):
            col[n] = i - (len(row) - 1) / 2
    return rows


def _hubs_in_the_middle(g: CausalSceneGraph, row: list[str]) -> list[str]:
    """``row`` reordered so its most connected node is in the middle and the others alternate
    around it by degree (a table with seven things on it: the table in the middle, so its
    edges are short); a row of three or fewer keeps its order."""
    if len(row) <= 3:
        return row
    by_degree = sorted(row, key=lambda n: -g.graph.degree(n))
    out: list[str] = []
    for i, n in enumerate(by_degree):
        out.insert(len(out) if i % 2 else 0, n) if i else out.append(n)
    return out


def _positions(g: CausalSceneGraph) -> dict[str, tuple[float, float]]:
    """Plot coordinates (y up): row ``r`` at ``y = -r * ROW_GAP``, each row centred on
    ``x = 0`` with its nodes one column apart; in a row of more than :data:`STAGGER_FROM`
    nodes every other one sits a little lower, so neighbouring labels never meet.  Every node
    gets its own spot."""
    if not len(g.graph):
        return {}
    rows = _rows(g, _depths(g))
    return {n: ((i - (len(row) - 1) / 2) * COL_GAP,
                -r * ROW_GAP - (STAGGER if len(row) > STAGGER_FROM and i % 2 else 0.0))
            for r, row in enumerate(rows) for i, n in enumerate(row)}


def drawn_unit_px(pos: dict[str, tuple[float, float]]) -> float:
    """Pixels per unit the figure is drawn at in the Scene tab's panel (:data:`PANEL_PX`
    wide): :data:`UNIT_PX`, less for a graph too wide for the panel."""
    xs = [x for x, _ in pos.values()] or [0.0]
    span = max(xs) - min(xs) + COL_GAP + 0.6
    return min(UNIT_PX, (PANEL_PX - 20) / span)


def label_lines(g: CausalSceneGraph, n: str) -> list[str]:
    """A node's label: its id, then what it is (noun, effect type or kind), and "(implicit)"
    for a node the prompt left unsaid; each line at most :data:`LABEL_CHARS` characters."""
    d = g.graph.nodes[n]
    attrs = d.get("attrs") if isinstance(d.get("attrs"), dict) else {}
    what = attrs.get("noun") or attrs.get("type") or attrs.get("shape") or d.get("kind") or ""
    lines = [str(n)]
    if str(what) and str(what) != str(n):
        lines.append(str(what))
    if not d.get("explicit", True):
        lines.append("(implicit)")
    return [s if len(s) <= LABEL_CHARS else s[:LABEL_CHARS - 1] + "…" for s in lines]


def label_boxes(g: CausalSceneGraph, pos: dict[str, tuple[float, float]] | None = None,
                unit_px: float = UNIT_PX) -> dict[str, tuple[float, float, float, float]]:
    """Each node's marker and label as a box (x0, y0, x1, y1) in data units, the label under
    the marker, at ``unit_px`` pixels per unit: what the test of "no overlaps" measures."""
    pos = _positions(g) if pos is None else pos
    out = {}
    for n, (x, y) in pos.items():
        lines = label_lines(g, n)
        w = max(MARKER_PX, CHAR_PX * max(len(s) for s in lines)) / unit_px
        top = y + MARKER_PX / 2 / unit_px
        bottom = y - (MARKER_PX / 2 + LINE_PX * len(lines) + 4) / unit_px
        out[n] = (x - w / 2, bottom, x + w / 2, top)
    return out


def _edge_path(p0: tuple[float, float], p1: tuple[float, float], k: int = 0
               ) -> tuple[list[float], list[float], tuple[float, float]]:
    """The edge's line and where its label goes: a straight segment to the next row, a curve
    bent sideways past the rows it skips (so it misses their nodes), an arc over its row for an
    edge within one."""
    (x0, y0), (x1, y1) = p0, p1
    span = abs(y0 - y1) / ROW_GAP
    if span < 0.5:                       # within a row (a staggered one too)
        lift = min(0.5, 0.25 + 0.1 * abs(x1 - x0)) + 0.16 * k
        top = -math.floor(-max(y0, y1) / ROW_GAP + 1e-9) * ROW_GAP     # over the whole row
        cx, cy = (x0 + x1) / 2, 2 * (top + lift) - (y0 + y1) / 2     # its top: top + lift
    elif span < 1.5:
        if not k:
            return [x0, x1], [y0, y1], (x0 + 0.5 * (x1 - x0), y0 + 0.5 * (y1 - y0))
        cx, cy = (x0 + x1) / 2 + 0.25 * k, (y0 + y1) / 2
    else:
        side = 1.0 if x0 >= x1 else -1.0
        cx = (x0 + x1) / 2 + side * (0.55 * COL_GAP * (span - 0.5) + 0.2 * k)
        cy = (y0 + y1) / 2
    ts = [i / 16 for i in range(17)]
    xs = [(1 - t) ** 2 * x0 + 2 * t * (1 - t) * cx + t * t * x1 for t in ts]
    ys = [(1 - t) ** 2 * y0 + 2 * t * (1 - t) * cy + t * t * y1 for t in ts]
    return xs, ys, (xs[8], ys[8])


#: two edge labels closer than this (in x and in y) would overlap
LABEL_CLEAR_X, LABEL_CLEAR_Y = 0.35, 0.12


class _Placed:
    """The edge labels placed so far, bucketed in cells of the clearance's size, so "is this
    spot clear?" looks at nine cells, not every label (which made a big graph quadratic)."""

    def __init__(self) -> None:
        self.cells: dict[tuple[int, int], list[tuple[float, float]]] = {}

    @staticmethod
    def _cell(p: tuple[float, float]) -> tuple[int, int]:
        return math.floor(p[0] / LABEL_CLEAR_X), math.floor(p[1] / LABEL_CLEAR_Y)

    def clear(self, p: tuple[float, float]) -> bool:
        cx, cy = self._cell(p)
        return all(abs(p[0] - a) > LABEL_CLEAR_X or abs(p[1] - b) > LABEL_CLEAR_Y
                   for i in (-1, 0, 1) for j in (-1, 0, 1)
                   for a, b in self.cells.get((cx + i, cy + j), ()))

    def append(self, p: tuple[float, float]) -> None:
        self.cells.setdefault(self._cell(p), []).append(p)


def _label_spot(xs: list[float], ys: list[float], spot: tuple[float, float],
                placed: _Placed) -> tuple[float, float]:
    """Where an edge's label goes: ``spot`` (its middle), or the first point further along
    the edge that is clear of the labels already placed (two edges crossing at their middles
    would write one label over the other); the spot taken is added to ``placed``."""
    clear = placed.clear
    if len(xs) == 2:
        ts = (0.5, 0.32, 0.68, 0.22, 0.78)
        options = [(xs[0] + t * (xs[1] - xs[0]), ys[0] + t * (ys[1] - ys[0])) for t in ts]
    else:
        n = len(xs) - 1
        options = [spot] + [(xs[round(t * n)], ys[round(t * n)]) for t in (0.32, 0.68)]
    best = next((p for p in options if clear(p)), options[0])
    placed.append(best)
    return best


def _add_edges(fig: Any, g: CausalSceneGraph, pos: dict[str, tuple[float, float]],
               causal: bool, seen: dict[frozenset, int], placed: _Placed,
               notes: list[dict[str, Any]]) -> None:
    """One line trace for the causal (or the other) edges, arrows on causal ones, and the
    relation written on every edge, no label over another (arrows and labels go to
    ``notes``: the figure's annotations, set at once)."""
    import plotly.graph_objects as go

    xs: list[float | None] = []
    ys: list[float | None] = []
    text: list[str | None] = []
    for u, v, rel in g.graph.edges(data="relation"):
        if _is_causal(rel) != causal or u == v:
            continue
        pair = frozenset((u, v))
        seen[pair] = seen.get(pair, -1) + 1
        ex, ey, (lx, ly) = _edge_path(pos[u], pos[v], seen[pair])
        lx, ly = _label_spot(ex, ey, (lx, ly), placed)
        xs += ex + [None]
        ys += ey + [None]
        text += [f"{u} —{rel}→ {v}"] * len(ex) + [None]
        colour = CAUSAL_EDGE_COLOUR if causal else SPATIAL_EDGE_COLOUR
        # every edge has a head: "lamp above obj0" must not read both ways
        notes.append(dict(x=ex[-1], y=ey[-1], ax=ex[-2], ay=ey[-2], xref="x", yref="y",
                          axref="x", ayref="y", showarrow=True, arrowhead=3,
                          arrowsize=1.2 if causal else 1.0, arrowwidth=2 if causal else 1.5,
                          arrowcolor=colour, standoff=13, text=""))
        notes.append(dict(x=lx, y=ly, text=str(rel), showarrow=False, xref="x", yref="y",
                          font=dict(size=10, color=colour), bgcolor="rgba(255,255,255,0.85)"))
    fig.add_trace(go.Scatter(
        x=xs, y=ys, mode="lines", hoverinfo="text", text=text,
        name="causal edges" if causal else "spatial edges",
        line=dict(color=CAUSAL_EDGE_COLOUR if causal else SPATIAL_EDGE_COLOUR,
                  width=2.5 if causal else 1.5, dash="solid" if causal else "dash")))


def _hover(g: CausalSceneGraph, n: str, implicit: bool, depths: dict[str, Any]) -> str:
    d = g.graph.nodes[n]
    attrs = d.get("attrs") or {}
    attr_text = ", ".join(f"{k}={v}" for k, v in attrs.items()) \
        if isinstance(attrs, dict) else str(attrs)
    return (f"<b>{n}</b>{' (implicit)' if implicit else ''}<br>"
            f"kind: {d.get('kind')}<br>attributes: {attr_text or '-'}<br>"
            f"hop depth: {depths.get(n, '?')}")


def _add_nodes(fig: Any, g: CausalSceneGraph, pos: dict[str, tuple[float, float]],
               implicit: bool, depths: dict[str, Any], notes: list[dict[str, Any]]) -> None:
    """One marker trace for the stated (or the implicit) nodes; implicit ones hollow, with a
    dotted ring; their labels go to ``notes``."""
    import plotly.graph_objects as go

    ns = [n for n, d in g.graph.nodes(data=True) if (not d.get("explicit", True)) == implicit]
    colours = [KIND_COLOURS.get(_kind_of(g, n), "#000000") for n in ns]
    for n in ns:         # labels on a white ground, so an edge under one never hides it
        text = "<br>".join(label_lines(g, n))
        notes.append(dict(x=pos[n][0], y=pos[n][1], xref="x", yref="y", showarrow=False,
                          text=f"<i>{text}</i>" if implicit else text, yanchor="top",
                          yshift=-MARKER_PX / 2, font=dict(size=11, color="#222222"),
                          bgcolor="rgba(255,255,255,0.9)", borderpad=1))
    # the legend's entry is its own (empty) trace in one neutral colour: a trace of many
    # colours would show the last node's colour in the legend
    fig.add_trace(go.Scatter(
        x=[], y=[], mode="markers", hoverinfo="skip", name=LEGEND_NAMES[implicit],
        marker=dict(size=MARKER_PX - 8, symbol="circle-open" if implicit else "circle",
                    color=LEGEND_COLOUR, line=dict(width=2 if implicit else 1,
                                                   color=LEGEND_COLOUR))))
    fig.add_trace(go.Scatter(
        x=[pos[n][0] for n in ns], y=[pos[n][1] for n in ns], mode="markers",
        name="implicit nodes" if implicit else "nodes", customdata=ns, showlegend=False,
        text=[f"{n} (implicit)" if implicit else n for n in ns],
        hovertext=[_hover(g, n, implicit, depths) for n in ns], hoverinfo="text",
        marker=dict(size=MARKER_PX - 4, symbol="circle-open" if implicit else "circle",
                    color=colours,
                    line=dict(width=3 if implicit else 1,
                              color=colours if implicit else "#333333"))))
    if implicit and ns:
        xs: list[float | None] = []
        ys: list[float | None] = []
        for n in ns:
            x, y = pos[n]
            ts = [2 * math.pi * i / 24 for i in range(25)]
            xs += [x + RING * math.cos(t) for t in ts] + [None]
            ys += [y + RING * math.sin(t) for t in ts] + [None]
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", hoverinfo="skip", showlegend=False,
                                 line=dict(color="#555555", width=1.5, dash="dot")))


def figure(g: CausalSceneGraph) -> Any:
    """A Plotly figure of ``g`` in layers (causes above effects): causal edges solid red with
    arrows, other edges dashed grey, each with its relation; implicit nodes hollow and ringed,
    labelled "(implicit)"; hover gives kind, attributes, hop depth.

    Works on graphs that do not validate (an edit in progress): hop depth is then ``?``.
    """
    import plotly.graph_objects as go

    pos = _positions(g)
    try:
        depths: dict[str, Any] = g.hop_depths()
    except (nx.NetworkXException, KeyError, TypeError, ValueError):
        depths = {}
    fig = go.Figure()
    seen: dict[frozenset, int] = {}
    placed, notes = _Placed(), []   # notes: every annotation, set at once (plotly's
    for causal in (True, False):    # add_annotation re-checks all earlier ones: quadratic)
        _add_edges(fig, g, pos, causal, seen, placed, notes)
    for implicit in (False, True):
        _add_nodes(fig, g, pos, implicit, depths, notes)
    boxes = label_boxes(g, pos, drawn_unit_px(pos)).values()
    x0 = min((b[0] for b in boxes), default=-1) - 0.3
    x1 = max((b[2] for b in boxes), default=1) + 0.3
    y0 = min((b[1] for b in boxes), default=-1) - 0.1
    y1 = max((b[3] for b in boxes), default=1) + 0.8      # room for arcs over the top row
    fig.update_layout(
        annotations=notes, showlegend=True, margin=dict(l=10, r=10, t=40, b=10), plot_bgcolor="white",
        title=f"Causal scene graph ({g.category}): causes above effects",
        height=int(max(300, (y1 - y0) * UNIT_PX + 90)),
        legend=dict(orientation="h", yanchor="top", y=-0.02, x=0),
        xaxis=dict(visible=False, range=[x0, x1]),
        yaxis=dict(visible=False, range=[y0, y1], scaleanchor="x"))
    return fig
