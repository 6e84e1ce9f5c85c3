"""The scene-graph figure is legible: a layered layout (causes above effects), every node on
its own spot, no two node labels overlapping, every edge labelled with its relation, implicit
nodes drawn differently; on every ToyWorld category and on an open-world graph."""
from __future__ import annotations

import itertools

import pytest

from lina_core import csg
from lina_core.csg import CausalSceneGraph
from lina_core.csg.plot import _positions, drawn_unit_px, label_boxes

#: one prompt per ToyWorld category
PROMPTS = {"reflection": "a large red ball on a small round mirror",
           "shadow": "a green cone on the floor, lit from the left",
           "buoyancy": "a wooden ball in water",
           "balance": "a metal cube and a wooden cube on a balance",
           "scale": "a red ball larger than a blue cube"}


def open_graph() -> CausalSceneGraph:
    """An open-world scene built by hand (the parser's contract: entity and effect nodes),
    with a two-hop effect, an effect with two causes and a spatial edge."""
    g = CausalSceneGraph("open")
    g.add_node("cat", "entity", noun="cat", color="black")
    g.add_node("sofa", "entity", noun="sofa", material="leather")
    g.add_node("lamp", "entity", noun="lamp")
    g.add_node("shadow", "effect", explicit=False, type="shadow")
    g.add_node("dent", "effect", explicit=False, type="indentation")
    g.add_node("glint", "effect", explicit=False, type="reflection")
    g.add_edge("cat", "sofa", "on")
    g.add_node("sofa_shadow", "effect", explicit=False, type="shadow")
    g.add_edge("sofa", "sofa_shadow", "casts")
    g.add_edge("lamp", "sofa_shadow", "casts")
    g.add_edge("cat", "shadow", "casts")
    g.add_edge("lamp", "shadow", "casts")
    g.add_edge("cat", "dent", "causes")
    g.add_edge("dent", "glint", "causes")
    return g


def graphs() -> dict[str, CausalSceneGraph]:
    out = {cat: csg.from_prompt(p).graph for cat, p in PROMPTS.items()}
    out["open (by hand)"] = open_graph()
    g = CausalSceneGraph("open")        # the open world's rules: two shadows whose edges cross
    g.add_node("cat", "entity", noun="cat", color="black")
    g.add_node("sofa", "entity", noun="sofa", material="leather")
    g.add_node("lamp", "entity", noun="lamp")
    g.add_edge("cat", "sofa", "on")
    csg.add_implicit_effects(g)
    out["open (derived)"] = g.validate()
    wide = CausalSceneGraph("open")     # a crowded row: seven things on a table
    wide.add_node("table", "entity", noun="table")
    for i, noun in enumerate(["teapot", "cup", "saucer", "spoon", "candle", "napkin", "vase"]):
        wide.add_node(f"{noun}_{i}", "entity", noun=noun)
        wide.add_edge(f"{noun}_{i}", "table", "on")
    out["open (wide)"] = wide
    return out


def _overlap(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


@pytest.mark.parametrize("name", list(graphs()))
def test_layout_is_layered_distinct_and_labels_do_not_overlap(name):
    g = graphs()[name]
    assert name.startswith("open") or g.category == name
    pos = _positions(g)
    assert set(pos) == set(g.graph.nodes)
    assert len(set(pos.values())) == len(pos), f"two nodes share a spot: {pos}"
    for u, v in g.graph.edges:              # causes above effects
        if g.node(v)["kind"] == "effect":
            assert pos[u][1] > pos[v][1], (u, v, pos)
    boxes = label_boxes(g, pos, drawn_unit_px(pos))      # at the size the panel draws it
    for (a, ba), (b, bb) in itertools.combinations(boxes.items(), 2):
        assert not _overlap(ba, bb), f"labels of {a} and {b} overlap: {ba} {bb}"


@pytest.mark.parametrize("name", list(graphs()))
def test_figure_labels_edges_and_marks_implicit_nodes(name):
    g = graphs()[name]
    fig = csg.figure(g)
    texts = [a.text for a in fig.layout.annotations]
    for _, _, rel in g.graph.edges(data="relation"):
        assert rel in texts, f"edge relation {rel!r} is not written on the figure"
    implicit = set(g.implicit_nodes())
    traces = {t.name: t for t in fig.data if t.name}
    stated = traces["nodes"]
    assert set(stated.customdata) == set(g.graph.nodes) - implicit
    if implicit:
        hollow = traces["implicit nodes"]
        assert set(hollow.customdata) == implicit and hollow.marker.symbol == "circle-open"
        assert sum("(implicit)" in t for t in texts) == len(implicit)


@pytest.mark.parametrize("name", list(graphs()))
def test_edge_labels_do_not_overlap(name):
    fig = csg.figure(graphs()[name])
    rels = {rel for _, _, rel in graphs()[name].graph.edges(data="relation")}
    spots = [(a.x, a.y) for a in fig.layout.annotations if a.text in rels and not a.showarrow]
    for (x0, y0), (x1, y1) in itertools.combinations(spots, 2):
        assert abs(x0 - x1) > 0.3 or abs(y0 - y1) > 0.1, spots


def test_figure_draws_a_graph_that_does_not_validate():
    g = open_graph()
    g.add_edge("glint", "dent", "causes")        # a cycle: the layout still works
    g.add_node("ghost", "bogus")
    pos = _positions(g)
    assert len(set(pos.values())) == len(pos)
    assert csg.figure(g) is not None
    assert csg.figure(CausalSceneGraph("open")) is not None     # empty
