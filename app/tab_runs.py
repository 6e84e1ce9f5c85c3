"""Runs tab: every Intervene and LINA run, saved in the runs folder; browse, reload, export a ZIP
that reproduces a run, import a spec JSON or run ZIP, and re-run a saved spec."""
from __future__ import annotations

import json
from typing import Any

import gradio as gr
import numpy as np

from . import state
from .context import MODEL_QUEUE, Ctx
from .runstore import MAX_RUNS_PER_OWNER, RunError, RunStore
from .widgets import (DISPLAY, FieldDropdown, FieldFile, diff_heatmap, error, guard, on_status,
                      run_status, upscale)

#: the image a re-run of the saved spec should reproduce, by run kind
TARGET_IMAGE = {"intervene": "intervened", "lina": "lina"}


def _layout(store: RunStore) -> dict[str, Any]:
    """The tab's components, by name."""
    c: dict[str, Any] = {}
    with gr.Row():
        ids = store.ids()
        c["run_id"] = FieldDropdown(ids, value=ids[0] if ids else None, label="run id", scale=4,
                                    allow_custom_value=True, field="run id")
        c["refresh"] = gr.Button("Refresh", scale=1)
        c["load"] = gr.Button("Load", scale=1, variant="primary", elem_id="runs-load")
    c["status"] = run_status("runs-status")
    c["md"] = gr.Markdown(elem_id="runs-md")
    c["images"] = gr.Gallery(label="images (model resolution, upscaled)", columns=4,
                             height=300, format="png", object_fit="contain", fit_columns=False)
    with gr.Row():
        c["spec"] = gr.Code(language="json", label="spec.json", lines=12, max_lines=20,
                            interactive=False, buttons=["copy"])
        c["record"] = gr.JSON(label="record.json", open=False)
    with gr.Row():
        c["export"] = gr.Button("Export ZIP")
        c["zip_out"] = gr.File(label="run ZIP (spec + record + images)", interactive=False)
        c["upload"] = FieldFile(label="import a spec JSON or run ZIP",
                                file_types=[".json", ".zip"], file_count="single",
                                type="filepath", field="import")
    with gr.Row():
        c["rerun"] = gr.Button("Re-run the saved spec with the current model")
        c["rerun_img"] = gr.Image(label="re-run", format="png", height=DISPLAY,
                                  interactive=False)
        c["rerun_heat"] = gr.Image(label="difference to the saved image", format="png",
                                   height=DISPLAY, interactive=False)
    c["rerun_md"] = gr.Markdown()
    return c


def show(store: RunStore, rid: Any) -> tuple:
    """A saved run: (gallery, spec JSON, record, summary)."""
    if not rid:
        raise error("run id: pick a run from the list (none saved yet?)")
    r = store.load(rid)
    rec = r["record"]
    gallery = [(upscale(img), name) for name, img in r["images"].items()]
    t = rec.get("timings") or {}
    model = rec.get("model_label") or rec.get("model")
    text = (f"**{rid}**: {rec.get('kind', '?')} run, model {model}, "
            f"seed {rec.get('seed')}, prompt _{rec.get('prompt', '')}_"
            + (f", total {t['total_s']:.2f} s" if isinstance(t.get("total_s"), (int, float))
               else ""))
    return (gallery, json.dumps(r["spec"], indent=2) if r["spec"] else "", rec, text)


def rerun(store: RunStore, rid: Any, model_key: str | None, progress: Any) -> tuple:
    """Re-run a saved run's spec with the current model: (image, difference, summary)."""
    if not rid:
        raise error("run id: pick a run to re-run")
    r = store.load(rid)
    if not r["spec"]:
        raise error(f"run {rid}: has no spec.json to re-run")
    if (r["record"] or {}).get("kind") == "video":
        raise error(f"run {rid}: a video run; re-run it in the Video tab (same prompt, "
                    f"frames, steps and seed)")
    progress(0.1, desc="re-running the spec")
    out = state.generate(model_key or state.handle().default_key, r["spec"])
    img = out["image"]
    kind = (r["record"] or {}).get("kind")
    saved = r["images"].get(TARGET_IMAGE.get(kind, ""))
    if saved is None and r["images"]:
        saved = r["images"].get("intervened", r["images"].get("lina"))
    if saved is None or saved.shape != img.shape:
        return upscale(img), None, "Re-ran the spec (no saved image of this size to compare)."
    heat, text = diff_heatmap(saved, img)
    same = bool(np.array_equal(saved, img))
    return (upscale(img), heat,
            f"Re-ran in {out['timings'].get('total_s', 0):.2f} s: "
            + ("**identical** to the saved image." if same else f"differs: {text}."))


def build(ctx: Ctx) -> None:
    store = ctx.store
    private = (f"Your runs are private to this browser session (a reload starts a new one; "
               f"export a run to keep it), at most {MAX_RUNS_PER_OWNER}, the oldest dropped")
    shared = f"Runs are saved in `{store.root}` (set with `--runs-dir`)"
    where = private if store.private else shared
    gr.Markdown(f"{where}: `spec.json`, `record.json` (model, seed, timings, verdicts) and the "
                f"images as PNG.")
    c = _layout(store)
    run_id, shown = c["run_id"], [c["images"], c["spec"], c["record"], c["md"]]

    def refresh_ids(current):
        ids = store.ids()
        return gr.update(choices=ids, value=current if current in ids else
                         (ids[0] if ids else None))

    def load_run(rid):
        return show(store, rid)

    def do_export(rid):
        if not rid:
            raise error("run id: pick a run to export")
        return str(store.export_zip(rid))

    def do_import(path):
        if not path:
            raise error("import: choose a .json spec or a run .zip")
        new = store.import_file(path)
        return (gr.update(choices=store.ids(), value=new), *show(store, new))

    def do_rerun(rid, model_key, progress=gr.Progress()):
        return rerun(store, rid, model_key, progress)

    st = c["status"]
    at = dict(show_progress_on=[st])
    # a run that cannot be shown leaves nothing of the one before under its id (one screen)
    no_run = {c["images"]: None, c["spec"]: "", c["record"]: None, c["md"]: ""}
    no_rerun = {c["rerun_img"]: None, c["rerun_heat"]: None, c["rerun_md"]: ""}
    c["refresh"].click(refresh_ids, [run_id], [run_id], api_name="runs_list")
    on_status(c["load"].click(guard(load_run), [run_id], shown, api_name="runs_load", **at), st,
              clear=no_run)
    on_status(run_id.input(guard(load_run), [run_id], shown, api_visibility="private", **at), st,
              clear=no_run)
    on_status(c["export"].click(guard(do_export), [run_id], [c["zip_out"]],
                                api_name="runs_export", **at), st)
    on_status(c["upload"].upload(guard(do_import), [c["upload"]], [run_id, *shown],
                                 api_name="runs_import", **at), st)
    on_status(c["rerun"].click(guard(do_rerun), [run_id, ctx.model_key],
                               [c["rerun_img"], c["rerun_heat"], c["rerun_md"]],
                               api_name="runs_rerun", **at, **MODEL_QUEUE), st, clear=no_rerun)
    ctx.parts["runs_id"] = run_id
    ctx.parts["runs_refresh"] = refresh_ids


__all__ = ["build", "RunError"]
