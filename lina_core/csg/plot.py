"""A Plotly figure of a scene graph, for the app's scene tab.

Causal edges are solid red with arrows, spatial edges dashed grey, implicit nodes open markers: the
figure shows at a glance what the prompt left unsaid.  It must draw graphs that do not validate
(an edit in progress), so it reads node data defensively.
"""
from __future__ import annotations

from typing import Any

import networkx as nx

from .graph import CausalSceneGraph, _finite
from .vocabulary import CAUSAL_RELATIONS

CAUSAL_EDGE_COLOUR = "#d62728"
SPATIAL_EDGE_COLOUR = "#8c8c8c"
KIND_COLOURS = {"object": "#1f77b4", "surface": "#7f7f7f", "light": "#e6b800",
                "effect": "#d62728", "entity": "#2ca02c"}


def _positions(g: CausalSceneGraph) -> dict[str, tuple[float, float]]:
    """Plot coordinates (y up): layout box centres when every node has one, else a seeded
    spring layout.  Nodes that land on the same spot (an effect sharing its object's box) are
    fanned out a little so each stays visible and clickable."""
    boxes = {n: d.get("box") for n, d in g.graph.nodes(data=True)}
    if boxes and all(isinstance(b, (list, tuple)) and len(b) == 4 and all(_finite(v) for v in b)
                     for b in boxes.values()):
        pos = {n: ((b[0] + b[2]) / 2, 1.0 - (b[1] + b[3]) / 2) for n, b in boxes.items()}
    else:
        raw = nx.spring_layout(g.graph.to_undirected(), seed=0) if len(g.graph) else {}
        pos = {n: (float(p[0]), float(p[1])) for n, p in raw.items()}
    taken: list[tuple[float, float]] = []
    out: dict[str, tuple[float, float]] = {}
    for n in sorted(pos):
        x, y = pos[n]
        k = 0
        while any(abs(x - a) < 0.03 and abs(y - b) < 0.03 for a, b in taken):
            k += 1
            x, y = pos[n][0] + 0.06 * k, pos[n][1] - 0.06 * k
        taken.append((x, y))
        out[n] = (x, y)
    return out


def _add_edges(fig: Any, g: CausalSceneGraph, pos: dict[str, tuple[float, float]],
               causal: bool) -> None:
    """One line trace for the causal (or the spatial) edges; arrows on causal ones."""
    import plotly.graph_objects as go

    xs: list[float | None] = []
    ys: list[float | None] = []
    text: list[str | None] = []
    for u, v, rel in g.graph.edges(data="relation"):
        if (rel in CAUSAL_RELATIONS) != causal:
            continue
        (x0, y0), (x1, y1) = pos[u], pos[v]
        xs += [x0, (x0 + x1) / 2, x1, None]
        ys += [y0, (y0 + y1) / 2, y1, None]
        text += [f"{u} —{rel}→ {v}"] * 3 + [None]
        if causal:
            fig.add_annotation(x=x1, y=y1, ax=x0, ay=y0, xref="x", yref="y", axref="x",
                               ayref="y", showarrow=True, arrowhead=3, arrowsize=1.2,
                               arrowwidth=2, arrowcolor=CAUSAL_EDGE_COLOUR, standoff=12,
                               text="")
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
               implicit: bool, depths: dict[str, Any]) -> None:
    """One marker trace for the stated (or the implicit) nodes."""
    import plotly.graph_objects as go

    ns = [n for n, d in g.graph.nodes(data=True) if (not d.get("explicit", True)) == implicit]
    hover = [_hover(g, n, implicit, depths) for n in ns]
    labels = [f"{n} (implicit)" if implicit else n for n in ns]
    fig.add_trace(go.Scatter(
        x=[pos[n][0] for n in ns], y=[pos[n][1] for n in ns], mode="markers+text",
        name="implicit nodes" if implicit else "nodes", text=labels,
        textposition="bottom center", hovertext=hover, hoverinfo="text",
        customdata=ns,
        marker=dict(size=22, symbol="circle-open" if implicit else "circle",
                    color=[KIND_COLOURS.get(g.graph.nodes[n].get("kind"), "#000000")
                           for n in ns],
                    line=dict(width=3 if implicit else 1, color="#333333"))))


def figure(g: CausalSceneGraph) -> Any:
    """A Plotly figure of ``g``: causal edges solid red with arrows, spatial edges dashed grey,
    implicit nodes open markers labelled "(implicit)"; hover gives kind, attributes, hop depth.

    Works on graphs that do not validate (an edit in progress): hop depth is then ``?``.
    """
    import plotly.graph_objects as go

    pos = _positions(g)
    try:
        depths: dict[str, Any] = g.hop_depths()
    except (nx.NetworkXException, KeyError, TypeError, ValueError):
        depths = {}
    fig = go.Figure()
    for causal in (True, False):
        _add_edges(fig, g, pos, causal)
    for implicit in (False, True):
        _add_nodes(fig, g, pos, implicit, depths)
    fig.update_layout(
        showlegend=True, margin=dict(l=10, r=10, t=30, b=10), plot_bgcolor="white",
        title=f"Causal scene graph ({g.category})",
        xaxis=dict(visible=False), yaxis=dict(visible=False, scaleanchor="x"))
    return fig
