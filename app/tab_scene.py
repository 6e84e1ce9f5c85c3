"""Scene tab: prompt <-> causal scene graph, kept in sync; tables and JSON editing; the graph
plot; the ToyWorld ground-truth render with its masks; and the model's sample, judged per node."""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Callable

import gradio as gr
import pandas as pd

from lina_core import csg
from lina_core.csg import TOYWORLD_CATEGORIES, CausalSceneGraph
from lina_core.interventions import InterventionSpec
from lina_core.limits import (MAX_GRAPH_EDGES, MAX_GRAPH_NODES, MAX_JSON_BYTES, MAX_PROMPT_CHARS,
                              MAX_SEED, MAX_STEPS, MIN_STEPS, check_count, check_text, snippet)
from lina_core.toyworld.render import render

from . import editor, state
from .context import MODEL_QUEUE, Ctx
from .presets import DEFAULT_PROMPT, PRESETS
from .verdicts import no_verifier, verdict
from .widgets import (DISPLAY, VERDICT_HEADERS, VERDICT_WIDTHS, FieldCheckbox, FieldDataframe,
                      FieldDropdown, FieldNumber, error, guard, keyed, mask_overlay, number,
                      steps_slider, ui_json, upscale, verdict_rows, verdict_summary)

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
    """The ToyWorld ground truth and its node masks; nothing for an open-world scene (there is
    no renderer of the open world)."""
    if not editor.is_toyworld(g):
        return None, []
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
    if not editor.is_toyworld(g):
        parts.append("An **open-world** scene: no ToyWorld ground truth and no verifier for "
                     "it; its causal completion c+ still drives the Intervene and LINA tabs.")
    if scene.get("unknown"):
        parts.append("**Warning: words not understood (ignored):** "
                     + ", ".join(f"`{w}`" for w in scene["unknown"]))
    return "\n\n".join(parts)


#: the order of the scene's outputs (the ``/parse``, ``/apply_json``, ``/apply_tables`` API
#: answers); ``/generate`` answers these, then :data:`SAMPLE_OUTPUTS`
VIEWS = ("scene", "prompt", "code", "nodes", "edges", "category", "plot", "truth", "masks",
         "info")
SAMPLE_OUTPUTS = ("attn", "sample", "v_model", "v_truth", "gen_md")


def views(scene: dict[str, Any]) -> dict[str, Any]:
    """Everything the tab shows for a scene, by the names of :data:`VIEWS`."""
    g = CausalSceneGraph.from_dict(scene["graph"])
    img, masks = render_views(g)
    return {"scene": scene, "prompt": scene["prompt"],
            "code": ui_json(scene["graph"]), "nodes": node_rows(scene["graph"]),
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
    if not isinstance(text, str):
        raise error(f"graph JSON: {snippet(text)} must be text; paste a scene graph object")
    if not text.strip():
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


def _check_table(field: str, rows: list[Any], max_rows: int) -> None:
    """A table's rows (each a list of cells) and its text, counted before it is read."""
    check_count(field, len(rows), max_rows, "rows", error=csg.GraphError)
    if not all(isinstance(r, (list, tuple)) for r in rows):
        raise error(f"{field}: every row must be a list of cells")
    chars = sum(len(str(c)) for r in rows for c in r)
    check_count(field, chars, MAX_JSON_BYTES, "characters", error=csg.GraphError)


def graph_from_tables(nodes: Any, edges: Any, category: Any) -> dict[str, Any]:
    """The tables -> a graph dict (not yet validated); errors name the table, row and column.
    Their sizes are checked first: rows against the graph's limits, all cells together
    against a graph JSON's."""
    node_list, edge_list = _rows(nodes, NODE_HEADERS), _rows(edges, EDGE_HEADERS)
    _check_table("nodes table", node_list, MAX_GRAPH_NODES)
    _check_table("edges table", edge_list, MAX_GRAPH_EDGES)
    out_nodes, out_edges = [], []
    for i, row in enumerate(node_list, start=1):
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
    for i, row in enumerate(edge_list, start=1):
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
    if reinfer:     # drop inferred effects, infer them again, lay a ToyWorld scene out again
        data = editor.rederive(data)
    g = CausalSceneGraph.from_dict(data)
    return views({"prompt": csg.to_prompt(g), "graph": g.to_dict(), "unknown": []})


# --------------------------------------------------------------------------- the editor

#: the editor's outputs after :data:`VIEWS`: its status line and the three node pickers
EDITOR_OUTPUTS = ("status", "node_id", "source", "target")
#: what the status line says after an edit that was refused (the toast says why)
REFUSED = ("**Not applied** (the message in the corner says why): the graph and every input "
           "are as they were.")


@dataclass
class EditForm:
    """What an editor button sends, by the names the ``/edit_*`` API gives them; ``code`` is
    the graph JSON box, the source of truth."""
    code: Any = ""
    node_id: Any = ""
    kind: Any = ""
    explicit: Any = True
    attrs: Any = ""
    source: Any = ""
    target: Any = ""
    relation: Any = ""


#: editor action -> (the edit, as a function of the graph and the form; what the status says)
EDITS: dict[str, tuple[Callable[[dict, EditForm], dict], str]] = {
    "add_node": (lambda g, f: editor.add_node(g, f.node_id, f.kind, bool(f.explicit), f.attrs),
                 "added node `{node_id}`"),
    "update_node": (lambda g, f: editor.update_node(g, f.node_id, f.kind, bool(f.explicit),
                                                    f.attrs), "updated node `{node_id}`"),
    "remove_node": (lambda g, f: editor.remove_node(g, f.node_id), "removed node `{node_id}`"),
    "mark_implicit": (lambda g, f: editor.set_explicit(g, f.node_id, False),
                      "marked `{node_id}` implicit (unstated)"),
    "mark_stated": (lambda g, f: editor.set_explicit(g, f.node_id, True),
                    "marked `{node_id}` stated"),
    "add_edge": (lambda g, f: editor.add_edge(g, f.source, f.target, f.relation),
                 "added edge `{source}` -{relation}-> `{target}`"),
    "remove_edge": (lambda g, f: editor.remove_edge(g, f.source, f.target),
                    "removed edge `{source}` -> `{target}`"),
    "rederive": (lambda g, f: editor.rederive(g), "re-derived the implicit effects"),
}


def pickers(graph: dict[str, Any], status: str = "", node: Any = None, source: Any = None,
            target: Any = None) -> dict[str, Any]:
    """The status line and the node pickers for ``graph``: each offers the graph's nodes, and
    keeps its pick only if that node is still there (a removed node is never offered)."""
    ids = [n["id"] for n in graph["nodes"]]
    return {"status": status,
            **{k: gr.update(choices=ids, value=v if v in ids else None)
               for k, v in (("node_id", node), ("source", source), ("target", target))}}


def edit(action: str, form: EditForm) -> dict[str, Any]:
    """One editor action on the graph in the JSON box: validated, then every view follows;
    a bad edit raises (naming its field) and changes nothing."""
    fn, says = EDITS[action]
    for name, value in vars(form).items():     # every text bounded before any parsing
        if name != "code" and isinstance(value, str):
            check_text(name.replace("_", " "), value, MAX_PROMPT_CHARS, error=csg.GraphError)
    new = fn(editor.load(form.code), form)
    g = CausalSceneGraph.from_dict(new)
    words = {k: str(v or "").strip() for k, v in vars(form).items() if k != "code"}
    status = f"Done: {says.format(**words)}. Implicit nodes: " \
             f"{', '.join(g.implicit_nodes()) or 'none'}."
    scene = {"prompt": csg.to_prompt(g), "graph": new, "unknown": []}
    return {**views(scene), **pickers(new, status, words["node_id"], words["source"],
                                      words["target"])}


def follow_graph(code: Any, node: Any, source: Any, target: Any) -> tuple[Any, ...]:
    """Whenever the graph JSON changes (any parse, edit or preset): the node pickers offer its
    nodes (a pick of a node no longer there is dropped), and the ground truth and its masks
    are shown for a ToyWorld scene only (the open world has no renderer)."""
    try:
        graph = editor.load(code)
    except csg.GraphError:
        return (gr.skip(),) * 5
    p = pickers(graph, node=node, source=source, target=target)
    toy = editor.is_toyworld(graph)
    return (p["node_id"], p["source"], p["target"], gr.update(visible=toy),
            gr.update(visible=toy))


def no_sample() -> dict[str, Any]:
    """The sample section, empty: after any change of the scene the sample, its verifier rows
    and attention maps were of the scene before (they could name a node no longer there)."""
    empty = pd.DataFrame(columns=VERDICT_HEADERS)
    return {"attn": None, "sample": None, "v_model": empty, "v_truth": empty, "gen_md": ""}


def refused_text(prompt: Any, scene: dict[str, Any] | None) -> dict[str, Any]:
    """After a refused Parse or Generate: when the prompt box no longer holds the scene's text,
    nothing of the last scene stays shown under it (graph, c+, ground truth, sample); the
    editor keeps that scene, and the status line names it."""
    last = (scene or {}).get("prompt", "")
    out = {"status": REFUSED, **no_sample()}
    if isinstance(prompt, str) and prompt.strip() != last:
        out.update(plot=None, info="", truth=None, masks=[], status=(
            "**Not applied** (the message in the corner says why): nothing is shown for this "
            f"text. The graph editor and the other tabs keep the last scene applied: _{last}_."))
    return out


def node_form(code: Any, node_id: Any) -> tuple[Any, Any, Any]:
    """Picking a node fills the form with its kind, explicit flag and attributes (a new id
    leaves the form as it is)."""
    try:
        f = editor.node_form(editor.load(code), node_id)
    except csg.GraphError:
        return gr.skip(), gr.skip(), gr.skip()
    return f["kind"], f["explicit"], f["attrs"]


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
    key = model_key or state.handle().default_key
    out = state.generate(key, spec.to_dict())
    progress(0.9, desc="verifying")
    g = CausalSceneGraph.from_dict(scene["graph"])
    v_model = verdict(out["image"], g, key)
    v_truth = verdict(render(g, 64).image, g) if editor.is_toyworld(g) else \
        no_verifier("no verifier and no ToyWorld ground truth for an open-world scene")
    summary = (f"**Model sample:** {verdict_summary(v_model)}. **Ground-truth render:** "
               f"{verdict_summary(v_truth)} (a check of the verifier). "
               f"Sampled in {out['timings'].get('total_s', 0):.2f} s.")
    rows = {k: pd.DataFrame(verdict_rows(v, scene["graph"]), columns=VERDICT_HEADERS)
            for k, v in (("v_model", v_model), ("v_truth", v_truth))}
    att = out.get("attention")
    return {**views(scene), "sample": upscale(out["image"]), **rows, "gen_md": summary,
            "attn": None if att is None else upscale(att, 2 * max(att.shape[:2]))}


# --------------------------------------------------------------------------- layout


def _views_section(init: dict[str, Any], g0: CausalSceneGraph) -> dict[str, Any]:
    """The prompt, the info line, the figure, the ground truth and its masks."""
    v: dict[str, Any] = {}
    with gr.Row():
        v["prompt"] = gr.Textbox(value=init["prompt"], label="prompt", scale=5,
                                 elem_id="scene-prompt", submit_btn="Parse")
    v["presets"] = gr.Column()      # filled once the outputs exist
    v["status"] = gr.Markdown("", elem_id="scene-status")
    v["info"] = gr.Markdown(info_text(init), elem_id="scene-info")
    with gr.Row():
        with gr.Column(scale=3):
            v["plot"] = gr.Plot(graph_figure(g0), elem_id="scene-plot",
                                label="scene graph: causes above effects (causal edges red, "
                                "implicit nodes hollow and ringed)")
        with gr.Column(scale=2):
            img0, masks0 = render_views(g0)
            v["truth"] = gr.Image(img0, label="ToyWorld ground truth", format="png",
                                  height=DISPLAY, interactive=False)
    v["masks"] = gr.Gallery(masks0, label="node masks (ground truth)", columns=6, height=200,
                            format="png", allow_preview=True, fit_columns=False,
                            object_fit="contain")
    return v


def _editor_section(init: dict[str, Any]) -> dict[str, Any]:
    """The node and edge forms and their buttons (values: :class:`EditForm`'s names)."""
    ids = [n["id"] for n in init["graph"]["nodes"]]
    kinds = list(dict.fromkeys([*csg.NODE_KINDS, "entity"]))
    e: dict[str, Any] = {}
    with gr.Accordion("edit the graph: nodes and edges", open=True, elem_id="scene-editor"):
        with gr.Row():
            e["node_id"] = FieldDropdown(ids, value=None, label="node id (pick one, or type a "
                                         "new one)", allow_custom_value=True, elem_id="ed-node",
                                         field="node id")
            e["kind"] = FieldDropdown(kinds, value="object", label="kind", field="kind",
                                      allow_custom_value=True, elem_id="ed-kind")
            e["explicit"] = FieldCheckbox(True, label="stated in the prompt (explicit)",
                                          field="explicit")
            e["attrs"] = gr.Textbox("", label="attrs (key=value, ...)", scale=2,
                                    elem_id="ed-attrs")
        with gr.Row():
            for action in ("add_node", "update_node", "remove_node", "mark_implicit",
                           "mark_stated"):
                e[action] = gr.Button(action.replace("_", " "), size="sm",
                                      elem_id=f"ed-{action}")
        with gr.Row():
            e["source"] = FieldDropdown(ids, value=None, label="edge source",
                                        allow_custom_value=True, field="edge source")
            e["target"] = FieldDropdown(ids, value=None, label="edge target",
                                        allow_custom_value=True, field="edge target")
            e["relation"] = FieldDropdown(list(csg.RELATIONS), value=None, label="relation",
                                          allow_custom_value=True, field="relation")
        with gr.Row():
            for action in ("add_edge", "remove_edge"):
                e[action] = gr.Button(action.replace("_", " "), size="sm",
                                      elem_id=f"ed-{action}")
            e["rederive"] = gr.Button("re-derive effects", size="sm", variant="secondary",
                                      elem_id="ed-rederive")
    return e


def _tables_section(init: dict[str, Any], g0: CausalSceneGraph) -> dict[str, Any]:
    """The tables and the JSON box, with their apply buttons."""
    t: dict[str, Any] = {}
    with gr.Accordion("edit the graph: tables", open=False):
        # every category the parser can produce (a v2 prompt parses with any model loaded)
        cats = list(dict.fromkeys([*TOYWORLD_CATEGORIES, editor.OPEN]))
        t["category"] = FieldDropdown(cats, value=g0.category, label="category",
                                      field="category")
        t["nodes"] = FieldDataframe(node_rows(init["graph"]), headers=NODE_HEADERS,
                                    datatype=["str", "str", "bool", "str", "str"], type="array",
                                    interactive=True, label=f"nodes (at most {MAX_GRAPH_NODES}; "
                                    "attrs: key=value, ...; box: x0, y0, x1, y1 in [0, 1])",
                                    field="nodes table", max_rows=MAX_GRAPH_NODES)
        t["edges"] = FieldDataframe(edge_rows(init["graph"]), headers=EDGE_HEADERS, type="array",
                                    interactive=True, label=f"edges (at most {MAX_GRAPH_EDGES}; "
                                    f"relations: {', '.join(csg.RELATIONS)})",
                                    field="edges table", max_rows=MAX_GRAPH_EDGES)
        with gr.Row():
            t["reinfer"] = FieldCheckbox(True, label="re-infer implicit effects and layout",
                                         field="re-infer")
            t["apply_tables"] = gr.Button("Apply tables", variant="secondary")
    with gr.Accordion("edit the graph: JSON (the source of truth)", open=False):
        t["code"] = gr.Code(ui_json(init["graph"]), language="json",
                            interactive=True, label="graph JSON", lines=14, max_lines=30,
                            elem_id="scene-json")
        t["apply_json"] = gr.Button("Apply JSON", variant="secondary")
    return t


def _sample_section() -> dict[str, Any]:
    """Seed, steps, the Generate button and the judged sample."""
    s: dict[str, Any] = {}
    with gr.Row():
        s["seed"] = FieldNumber(0, label="seed", precision=0, minimum=0, maximum=MAX_SEED,
                                field="seed")
        s["steps"] = steps_slider()
        s["gen"] = gr.Button("Generate", variant="primary")
    s["gen_md"] = gr.Markdown()
    with gr.Row():
        s["sample"] = gr.Image(label="model sample", format="png", height=DISPLAY,
                               interactive=False, elem_id="scene-sample")
        with gr.Column():
            s["v_model"] = gr.Dataframe(headers=VERDICT_HEADERS, label="verifier: model sample",
                                        interactive=False, wrap=True,
                                        column_widths=VERDICT_WIDTHS)
            s["v_truth"] = gr.Dataframe(headers=VERDICT_HEADERS, label="verifier: ground truth",
                                        interactive=False, wrap=True,
                                        column_widths=VERDICT_WIDTHS)
    s["attn"] = gr.Image(label="cross-attention per node, at 6 evenly spaced steps from the "
                               "first to the last", format="png", interactive=False,
                         elem_id="scene-attn")
    return s


def _guarded(event: Any, parts: dict[str, Any], refused: dict[str, Any] | None = None,
             says: bool = False) -> None:
    """After a scene change the status line is cleared (unless the event ``says`` what it did
    there) and the sample of the scene before is emptied; when it was refused the status line
    says so (``refused``: the parts :func:`refused_text` updates, for a refused text)."""
    status, quiet = parts["status"], dict(api_visibility="private", show_progress="hidden")
    after = no_sample() | ({} if says else {"status": ""})
    after = {parts[k]: v for k, v in after.items()}
    event.success(lambda: after, None, list(after), **quiet)
    if refused is None:
        event.failure(lambda: REFUSED, None, [status], **quiet)
    else:
        event.failure(keyed(refused_text, refused), [parts["prompt"], parts["scene"]],
                      list(refused.values()), **quiet)


def _presets(parts: dict[str, Any], parse: Any, refused: dict[str, Any]) -> None:
    """The talk presets: a click puts the preset's prompt in the box and parses it, as Parse
    does (the sample of the scene before is emptied)."""
    shown = [parts[k] for k in VIEWS]
    with parts["presets"]:
        ex = gr.Examples([[p[1]] for p in PRESETS], inputs=[parts["prompt"]],
                         cache_examples=False, label="talk presets",
                         example_labels=[p[0] for p in PRESETS], elem_id="scene-presets")
    ev = ex.load_input_event.then(parse, [parts["prompt"]], shown, api_visibility="private",
                                  show_progress_on=[parts["status"]])
    _guarded(ev, parts, refused)


def _wire(ctx: Ctx, parts: dict[str, Any]) -> None:
    """Every event of the tab.  Errors are shown on the status line only (``show_progress_on``),
    never on an input; a refused edit changes no output, so nothing the user typed is lost,
    and a refused text empties what was shown of the scene before (:func:`refused_text`)."""
    outs = {k: parts[k] for k in VIEWS}
    shown, status = list(outs.values()), parts["status"]
    pick = {k: parts[k] for k in EDITOR_OUTPUTS}
    quiet = dict(show_progress_on=[status])
    refused = {k: parts[k] for k in ("status", "plot", "info", "truth", "masks",
                                     *SAMPLE_OUTPUTS)}
    parse = guard(keyed(parse_prompt, outs))
    _presets(parts, parse, refused)
    code, truth = parts["code"], [parts["truth"], parts["masks"]]
    _guarded(parts["prompt"].submit(parse, [parts["prompt"]], shown, api_name="parse", **quiet),
             parts, refused)
    for ev in (parts["apply_json"].click(guard(keyed(apply_json, outs)), [code], shown,
                                         api_name="apply_json", **quiet),
               parts["apply_tables"].click(guard(keyed(apply_tables, outs)),
                                           [parts[k] for k in ("nodes", "edges", "category",
                                                               "reinfer")],
                                           shown, api_name="apply_tables", **quiet)):
        _guarded(ev, parts)
    edited = {**outs, **pick}
    fields = {k: parts[k] for k in EditForm.__dataclass_fields__}
    for action in EDITS:
        _guarded(parts[action].click(guard(keyed(functools.partial(_edit_handler, action),
                                                 edited)), None, list(edited.values()),
                                     inputs_kwargs=fields, api_name=f"edit_{action}", **quiet),
                 parts, says=True)
    parts["node_id"].input(node_form, [code, parts["node_id"]],
                           [parts["kind"], parts["explicit"], parts["attrs"]],
                           api_visibility="private", show_progress="hidden")
    _wire_generate(ctx, parts, refused)
    code.change(follow_graph, [code, *[*pick.values()][1:]], [*pick.values()][1:] + truth,
                api_visibility="private", show_progress="hidden")


def _wire_generate(ctx: Ctx, parts: dict[str, Any], refused: dict[str, Any]) -> None:
    """Generate: the scene (re-parsed if the prompt changed) and its sample, as one answer."""
    sampled = {k: parts[k] for k in VIEWS + SAMPLE_OUTPUTS}
    gen = parts["gen"].click(guard(keyed(generate, sampled)),
                             [parts["prompt"], ctx.scene, parts["seed"], parts["steps"],
                              ctx.model_key], list(sampled.values()), api_name="generate",
                             show_progress_on=[parts["sample"], parts["status"]], **MODEL_QUEUE)
    status = parts["status"]
    gen.success(lambda: "", None, [status], api_visibility="private", show_progress="hidden")
    gen.failure(keyed(refused_text, refused), [parts["prompt"], parts["scene"]],
                list(refused.values()), api_visibility="private", show_progress="hidden")


def _edit_handler(action: str, **form: Any) -> dict[str, Any]:
    return edit(action, EditForm(**form))


def build(ctx: Ctx) -> None:
    init = initial_scene()
    g0 = CausalSceneGraph.from_dict(init["graph"])
    gr.Markdown("Write a prompt, or edit its **causal scene graph** (CSG). Implicit nodes are "
                "the effects the prompt leaves unsaid (a reflection, a shadow); they are what "
                "diffusion models miss. Any prompt: ToyWorld sentences get a ground truth and "
                "a verifier, other (open-world) prompts a graph and its causal completion.")
    parts: dict[str, Any] = {"scene": ctx.scene, **_views_section(init, g0)}
    parts.update(_editor_section(init))
    parts.update(_tables_section(init, g0))
    parts.update(_sample_section())
    assert set(VIEWS + SAMPLE_OUTPUTS + EDITOR_OUTPUTS) <= set(parts)
    _wire(ctx, parts)
    ctx.parts["scene_prompt"] = parts["prompt"]
