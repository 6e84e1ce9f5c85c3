"""Parse + graph figure time at 1x, 2x and 4x of a prompt size, to show both stay near-linear.

``python -m lina_core bench-limits`` prints two tables: prompts up to the limits (4x is a graph
near :data:`lina_core.limits.MAX_GRAPH_NODES`), and, with the limits lifted in this process only,
prompts 8x to 32x bigger (what the limits would cost to raise).  Each row is the best of
``--repeat`` runs; the ratio column is the time over the 1x time (linear: 2 and 4).
"""
from __future__ import annotations

import argparse
import time
from typing import Any

from ..csg import figure, from_prompt
from ..csg import graph
from ..limits import MAX_GRAPH_NODES

#: a few sentences with relations and implicit effects (reflections, shadows, floating)
SENTENCES = ("a red ball on a mirror. ", "a wooden boat in a lake. ", "a cat next to a lamp. ",
             "a girl walking a dog on the beach. ")


def prompt_of(n: int) -> str:
    """``n`` sentences, cycling through :data:`SENTENCES`."""
    return "".join(SENTENCES[i % len(SENTENCES)] for i in range(n))


def best_time(text: str, repeat: int) -> tuple[float, float, int, int]:
    """(parse s, figure s, nodes, edges): the best of ``repeat`` runs."""
    parse_s = fig_s = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        g = from_prompt(text).graph
        t1 = time.perf_counter()
        figure(g)
        t2 = time.perf_counter()
        parse_s, fig_s = min(parse_s, t1 - t0), min(fig_s, t2 - t1)
    return parse_s, fig_s, len(g.graph), g.graph.number_of_edges()


def table(sizes: list[int], repeat: int) -> list[dict[str, Any]]:
    """One row per size: characters, nodes, edges, times and ratios to the first row."""
    rows = []
    for n in sizes:
        text = prompt_of(n)
        p, f, nodes, edges = best_time(text, repeat)
        rows.append(dict(chars=len(text), nodes=nodes, edges=edges, parse=p, figure=f))
    for r in rows:
        r["ratio"] = (r["parse"] + r["figure"]) / (rows[0]["parse"] + rows[0]["figure"])
    return rows


def show(title: str, rows: list[dict[str, Any]]) -> None:
    print(title)
    print(f"{'chars':>7} {'nodes':>6} {'edges':>6} {'parse s':>8} {'figure s':>9} {'ratio':>6}")
    for r in rows:
        print(f"{r['chars']:>7} {r['nodes']:>6} {r['edges']:>6} {r['parse']:>8.3f} "
              f"{r['figure']:>9.3f} {r['ratio']:>6.2f}")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m lina_core bench-limits", description=__doc__)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args(argv)
    per_sentence = len(from_prompt(prompt_of(4)).graph.graph) / 4
    base = max(1, int(MAX_GRAPH_NODES / 4 / per_sentence))   # 4x: a graph near the limit
    show("within the limits", table([base, 2 * base, 4 * base], a.repeat))
    graph.MAX_GRAPH_NODES = graph.MAX_GRAPH_EDGES = 10 ** 6   # lifted here only
    graph.MAX_PROMPT_CHARS = 10 ** 7                       # graph.check_prompt reads it
    show("limits lifted (8x, 16x, 32x)", table([8 * base, 16 * base, 32 * base], a.repeat))
