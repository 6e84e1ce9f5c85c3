"""Scene tab: prompt <-> causal scene graph, kept in sync; tables and JSON editing; the graph
plot; the ToyWorld ground-truth render with its masks; and the model's sample, judged per node."""
from __future__ import annotations

import json
from typing import Any

import gradio as gr
import pandas as pd

from lina_core import csg
from lina_core.csg import CATEGORIES, CausalSceneGraph
from lina_core.interventions import InterventionSpec
from lina_core.limits import MAX_SEED, MAX_STEPS, MIN_STEPS
from lina_core.toyworld.render import render

from . import state
from .context import MODEL_QUEUE, Ctx
from .presets import DEFAULT_PROMPT, PRESETS
from .verdicts import verdict
from .widgets import (DISPLAY, VERDICT_HEADERS, VERDICT_WIDTHS, FieldNumber, error, guard,
                      keyed, mask_overlay, number, steps_slider, upscale, verdict_rows,
                      verdict_summary)

NODE_HEADERS = ["id", "kind", "explicit", "attrs", "box"]
EDGE_HEADERS = ["source", "target", "relation"]


# --------------------------------------------------------------------------- graph <-> views


def initial_scene(prompt: str = DEFAULT_PROMPT) -> dict[str, Any]:
    r = csg.from_prompt(prompt)
    return {"prompt": prompt, "graph": r.graph.to_dict(), "unknown": r.unknown_words}


def _attrs_text(attrs: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in (attrs or {}).items())


def _box_text(box: Any) -> str:
    return "" if box is None else ", ".join(f"{float(v):.3f}" for v in box)


def node_rows(graph: dict[str, Any]) -> pd.DataFrame:
    return pd.DataFrame([[n["id"], n["kind"], bool(n.get("explicit", True)),
                          _attrs_text(n.get("attrs")), _box_text(n.get("box"))]
                         for n in graph["nodes"]], columns=NODE_HEADERS)


def edge_rows(graph: dict[str, Any]) -> pd.DataFrame:
    return pd.DataFrame([[e["source"], e["target"], e["relation"]] for e in graph["edges"]],
                        columns=EDGE_HEADERS)


def graph_figure(g: CausalSceneGraph):
    fig = getattr(csg, "figure", None)
    if fig is None:  # pragma: no cover - the plot arrived with csg.figure
        return None
    return fig(g)


def render_views(g: CausalSceneGraph) -> tuple[Any, list[tuple[Any, str]]]:
    r = render(g, DISPLAY)
    gallery = [(mask_overlay(r.image, m), f"{n}{'' if g.node(n)['explicit'] else ' (implicit)'}")
               for n, m in r.masks.items() if n in g.graph]
    return r.image, gallery


def info_text(scene: dict[str, Any]) -> str:
    g = CausalSceneGraph.from_dict(scene["graph"])
    implicit = g.implicit_nodes()
    depths = g.hop_depths()
    parts = [f"**Category:** {g.category}. **Implicit (unstated) nodes:** "
             + (", ".join(f"`{n}` (hop {depths[n]})" for n in implicit) or "none")
             + f". **Causal completion c+:** _{csg.to_prompt(g, explicit=True)}_"]
    if scene.get("unknown"):
        parts.append("**Warning: words not understood (ignored):** "
                     + ", ".join(f"`{w}`" for w in scene["unknown"]))
    return "\n\n".join(parts)


#: the order of the scene's outputs (the ``/parse``, ``/apply_json``, ``/apply_tables`` API
#: answers); ``/generate`` answers these, then :data:`SAMPLE_OUTPUTS`
VIEWS = ("scene", "prompt", "code", "nodes", "edges", "category", "plot", "truth", "masks",
         "info")
SAMPLE_OUTPUTS = ("sample", "v_model", "v_truth", "gen_md")


def views(scene: dict[str, Any]) -> dict[str, Any]:
    """Everything the tab shows for a scene, by the names of :data:`VIEWS`."""
    g = CausalSceneGraph.from_dict(scene["graph"])
    img, masks = render_views(g)
    return {"scene": scene, "prompt": scene["prompt"],
            "code": json.dumps(scene["graph"], indent=2), "nodes": node_rows(scene["graph"]),
            "edges": edge_rows(scene["graph"]), "category": g.category,
            "plot": graph_figure(g), "truth": img, "masks": masks, "info": info_text(scene)}


# --------------------------------------------------------------------------- editing


def parse_prompt(prompt: Any) -> dict[str, Any]:
    if not isinstance(prompt, str) or not prompt.strip():
        raise error("prompt: required; write e.g. 'a red ball on a large round mirror'")
    r = csg.from_prompt(prompt)
    if r.unknown_words:
        gr.Warning("prompt: these words were not understood and are ignored: "
                   + ", ".join(r.unknown_words))
    return views({"prompt": prompt.strip(), "graph": r.graph.to_dict(),
                  "unknown": r.unknown_words})


def apply_json(text: Any) -> dict[str, Any]:
    """Validate the edited JSON; on error the text stays as the user left it."""
    if not isinstance(text, str) or not text.strip():
        raise error("graph JSON: empty; paste a scene graph object")
    g = CausalSceneGraph.from_json(text)
    return views({"prompt": csg.to_prompt(g), "graph": g.to_dict(), "unknown": []})


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float) and v != v:  # NaN from an empty pandas cell
        return ""
    return str(v).strip()


def _rows(value: Any, headers: list[str]) -> list[list[Any]]:
    if value is None:
        return []
    if isinstance(value, pd.DataFrame):
        return value.values.tolist()
    if isinstance(value, dict):
        return list(value.get("data") or [])
    return list(value)


def graph_from_tables(nodes: Any, edges: Any, category: Any) -> dict[str, Any]:
    """The tables -> a graph dict (not yet validated); errors name the table, row and column."""
    out_nodes, out_edges = [], []
    for i, row in enumerate(_rows(nodes, NODE_HEADERS), start=1):
        row = list(row) + [""] * (5 - len(row))
        nid, kind, explicit, attrs, box = row[:5]
        if all(_cell(c) == "" for c in (nid, kind, attrs, box)):
            continue
        where = f"nodes table row {i}"
        nid = _cell(nid)
        if not nid:
            raise error(f"{where}, id: required (a unique name such as obj0)")
        if isinstance(explicit, str):
            ex = explicit.strip().lower()
            if ex not in ("true", "false", "1", "0", "yes", "no", ""):
                raise error(f"{where}, explicit: {explicit!r} must be true or false")
            explicit = ex in ("true", "1", "yes", "")
        explicit = bool(explicit) if explicit is not None else True
        attr_dict: dict[str, str] = {}
        for part in filter(None, (p.strip() for p in _cell(attrs).split(","))):
            if "=" not in part:
                raise error(f"{where} ({nid}), attrs: {part!r} must be key=value pairs separated "
                            f"by commas, e.g. colour=red, shape=ball")
            k, v = (s.strip() for s in part.split("=", 1))
            attr_dict[k] = v
        box_val = None
        if _cell(box) and _cell(box).lower() not in ("none", "null"):
            try:
                box_val = [float(v) for v in _cell(box).replace(";", ",").split(",")]
            except ValueError:
                raise error(f"{where} ({nid}), box: {_cell(box)!r} must be four numbers "
                            f"x0, y0, x1, y1 in [0, 1] (or empty)") from None
            if len(box_val) != 4:
                raise error(f"{where} ({nid}), box: needs four numbers x0, y0, x1, y1; "
                            f"got {len(box_val)}")
        out_nodes.append({"id": nid, "kind": _cell(kind), "explicit": explicit, "box": box_val,
                          "attrs": attr_dict})
    for i, row in enumerate(_rows(edges, EDGE_HEADERS), start=1):
        row = list(row) + [""] * (3 - len(row))
        s, t, rel = (_cell(c) for c in row[:3])
        if not (s or t or rel):
            continue
        if not (s and t and rel):
            raise error(f"edges table row {i}: source, target and relation are all required")
        out_edges.append({"source": s, "target": t, "relation": rel})
    return {"schema_version": csg.SCHEMA_VERSION, "category": _cell(category),
            "nodes": out_nodes, "edges": out_edges}


def apply_tables(nodes: Any, edges: Any, category: Any, reinfer: bool
                 ) -> dict[str, Any]:
    data = graph_from_tables(nodes, edges, category)
    if reinfer:
        # drop inferred effects, infer them again from the edited facts, lay the scene out again
        data["nodes"] = [n for n in data["nodes"] if n["explicit"] or n["kind"] != "effect"]
        kept = {n["id"] for n in data["nodes"]}
        data["edges"] = [e for e in data["edges"] if e["source"] in kept and e["target"] in kept]
        for n in data["nodes"]:
            n["box"] = None
        g = CausalSceneGraph.from_dict(data)
        csg.add_implicit_effects(g)
        csg.layout(g)
        g.validate()
    else:
        g = CausalSceneGraph.from_dict(data)
    return views({"prompt": csg.to_prompt(g), "graph": g.to_dict(), "unknown": []})


def sync_scene(prompt: Any, scene: dict[str, Any]) -> dict[str, Any]:
    """The scene for ``prompt``: the current one if the prompt is unchanged, else re-parsed."""
    if isinstance(prompt, str) and prompt.strip() and prompt.strip() != scene.get("prompt"):
        r = csg.from_prompt(prompt)
        return {"prompt": prompt.strip(), "graph": r.graph.to_dict(), "unknown": r.unknown_words}
    return scene


def generate(prompt: Any, scene: dict[str, Any], seed: Any, steps: Any, model_key: str,
             progress=gr.Progress()) -> dict[str, Any]:
    scene = sync_scene(prompt, scene or initial_scene())
    seed = number("seed", seed, 0, MAX_SEED, integer=True)
    steps = number("steps", steps, MIN_STEPS, MAX_STEPS, integer=True)
    progress(0.1, desc="sampling")
    spec = InterventionSpec(prompt=scene["prompt"], steps=steps, seed=seed,
                            graph=scene["graph"]).validate()
    out = state.generate(model_key or state.handle().default_key, spec.to_dict())
    progress(0.9, desc="verifying")
    g = CausalSceneGraph.from_dict(scene["graph"])
    v_model = verdict(out["image"], g)
    v_truth = verdict(render(g, 64).image, g)
    summary = (f"**Model sample:** {verdict_summary(v_model)}. **Ground-truth render:** "
               f"{verdict_summary(v_truth)} (a check of the verifier). "
               f"Sampled in {out['timings'].get('total_s', 0):.2f} s.")
    rows = {k: pd.DataFrame(verdict_rows(v, scene["graph"]), columns=VERDICT_HEADERS)
            for k, v in (("v_model", v_model), ("v_truth", v_truth))}
    return {**views(scene), "sample": upscale(out["image"]), **rows, "gen_md": summary}


# --------------------------------------------------------------------------- layout


def build(ctx: Ctx) -> None:
    scene = ctx.scene
    init = initial_scene()
    g0 = CausalSceneGraph.from_dict(init["graph"])
    gr.Markdown("Write a prompt, or edit its **causal scene graph** (CSG). Implicit nodes are "
                "the effects the prompt leaves unsaid (a reflection, a shadow); they are what "
                "diffusion models miss.")
    with gr.Row():
        prompt = gr.Textbox(value=init["prompt"], label="prompt", scale=5,
                            elem_id="scene-prompt", submit_btn="Parse")
    presets_box = gr.Column()      # filled below, once the outputs exist
    info = gr.Markdown(info_text(init))
    with gr.Row():
        with gr.Column(scale=3):
            plot = gr.Plot(graph_figure(g0), label="scene graph (causal edges red, implicit "
                                                   "nodes open)")
        with gr.Column(scale=2):
            img0, masks0 = render_views(g0)
            truth = gr.Image(img0, label="ToyWorld ground truth", format="png", height=DISPLAY,
                             interactive=False)
    masks = gr.Gallery(masks0, label="node masks (ground truth)", columns=6, height=200,
                       format="png", allow_preview=True, fit_columns=False,
                       object_fit="contain")
    with gr.Accordion("edit the graph: tables", open=False):
        category = gr.Dropdown(list(CATEGORIES), value=g0.category, label="category")
        nodes = gr.Dataframe(node_rows(init["graph"]), headers=NODE_HEADERS,
                             datatype=["str", "str", "bool", "str", "str"], type="array",
                             interactive=True, label="nodes (attrs: key=value, ...; box: x0, y0, "
                             "x1, y1 in [0, 1])")
        edges = gr.Dataframe(edge_rows(init["graph"]), headers=EDGE_HEADERS, type="array",
                             interactive=True, label=f"edges (relations: "
                             f"{', '.join(csg.RELATIONS)})")
        with gr.Row():
            reinfer = gr.Checkbox(True, label="re-infer implicit effects and layout")
            apply_tab = gr.Button("Apply tables", variant="secondary")
    with gr.Accordion("edit the graph: JSON", open=False):
        code = gr.Code(json.dumps(init["graph"], indent=2), language="json", interactive=True,
                       label="graph JSON", lines=14, max_lines=30, elem_id="scene-json")
        apply_js = gr.Button("Apply JSON", variant="secondary")
    with gr.Row():
        seed = FieldNumber(0, label="seed", precision=0, minimum=0, maximum=MAX_SEED,
                           field="seed")
        steps = steps_slider()
        gen = gr.Button("Generate", variant="primary")
    gen_md = gr.Markdown()
    with gr.Row():
        sample = gr.Image(label="model sample", format="png", height=DISPLAY, interactive=False,
                          elem_id="scene-sample")
        with gr.Column():
            v_model = gr.Dataframe(headers=VERDICT_HEADERS, label="verifier: model sample",
                                   interactive=False, wrap=True, column_widths=VERDICT_WIDTHS)
            v_truth = gr.Dataframe(headers=VERDICT_HEADERS, label="verifier: ground truth",
                                   interactive=False, wrap=True, column_widths=VERDICT_WIDTHS)

    outs = dict(scene=scene, prompt=prompt, code=code, nodes=nodes, edges=edges,
                category=category, plot=plot, truth=truth, masks=masks, info=info)
    sampled = {**outs, "sample": sample, "v_model": v_model, "v_truth": v_truth,
               "gen_md": gen_md}
    assert tuple(sampled) == VIEWS + SAMPLE_OUTPUTS
    shown = list(outs.values())
    with presets_box:
        gr.Examples([[p[1]] for p in PRESETS], inputs=[prompt], outputs=shown,
                    fn=guard(keyed(parse_prompt, outs)), run_on_click=True,
                    cache_examples=False, label="talk presets",
                    example_labels=[p[0] for p in PRESETS])
    prompt.submit(guard(keyed(parse_prompt, outs)), [prompt], shown, api_name="parse")
    apply_js.click(guard(keyed(apply_json, outs)), [code], shown, api_name="apply_json")
    apply_tab.click(guard(keyed(apply_tables, outs)), [nodes, edges, category, reinfer], shown,
                    api_name="apply_tables")
    gen.click(guard(keyed(generate, sampled)), [prompt, scene, seed, steps, ctx.model_key],
              list(sampled.values()), api_name="generate", **MODEL_QUEUE)
    ctx.parts["scene_prompt"] = prompt
