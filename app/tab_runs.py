"""Runs tab: every Intervene and LINA run, saved in the runs folder; browse, reload, export a ZIP
that reproduces a run, import a spec JSON or run ZIP, and re-run a saved spec."""
from __future__ import annotations

import json
import gradio as gr
import numpy as np

from . import state
from .context import MODEL_QUEUE, Ctx
from .runstore import RunError
from .widgets import DISPLAY, diff_heatmap, error, guard, upscale

#: the image a re-run of the saved spec should reproduce, by run kind
TARGET_IMAGE = {"intervene": "intervened", "lina": "lina"}


def build(ctx: Ctx) -> None:
    store = ctx.store
    gr.Markdown(f"Runs are saved in `{store.root}` (set with `--runs-dir`): `spec.json`, "
                f"`record.json` (model, seed, timings, verdicts) and the images as PNG.")
    with gr.Row():
        ids = store.ids()
        run_id = gr.Dropdown(ids, value=ids[0] if ids else None, label="run id", scale=4,
                             allow_custom_value=True)
        refresh = gr.Button("Refresh", scale=1)
        load = gr.Button("Load", scale=1, variant="primary")
    md = gr.Markdown(elem_id="runs-md")
    images = gr.Gallery(label="images (model resolution, upscaled)", columns=4, height=300,
                        format="png", object_fit="contain", fit_columns=False)
    with gr.Row():
        spec = gr.Code(language="json", label="spec.json", lines=12, max_lines=20,
                       interactive=False, buttons=["copy"])
        record = gr.JSON(label="record.json", open=False)
    with gr.Row():
        export = gr.Button("Export ZIP")
        zip_out = gr.File(label="run ZIP (spec + record + images)", interactive=False)
        upload = gr.File(label="import a spec JSON or run ZIP", file_types=[".json", ".zip"],
                         file_count="single", type="filepath")
    with gr.Row():
        rerun = gr.Button("Re-run the saved spec with the current model")
        rerun_img = gr.Image(label="re-run", format="png", height=DISPLAY, interactive=False)
        rerun_heat = gr.Image(label="difference to the saved image", format="png",
                              height=DISPLAY, interactive=False)
    rerun_md = gr.Markdown()

    def refresh_ids(current):
        ids = store.ids()
        return gr.update(choices=ids, value=current if current in ids else
                         (ids[0] if ids else None))

    def show(rid):
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

    def do_export(rid):
        if not rid:
            raise error("run id: pick a run to export")
        return str(store.export_zip(rid))

    def do_import(path):
        if not path:
            raise error("import: choose a .json spec or a run .zip")
        new = store.import_file(path)
        ids = store.ids()
        return (gr.update(choices=ids, value=new), *show(new))

    def do_rerun(rid, model_key, progress=gr.Progress()):
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

    refresh.click(refresh_ids, [run_id], [run_id], api_name="runs_list")
    load.click(guard(show), [run_id], [images, spec, record, md], api_name="runs_load")
    run_id.input(guard(show), [run_id], [images, spec, record, md], api_visibility="private")
    export.click(guard(do_export), [run_id], [zip_out], api_name="runs_export")
    upload.upload(guard(do_import), [upload], [run_id, images, spec, record, md],
                  api_name="runs_import")
    rerun.click(guard(do_rerun), [run_id, ctx.model_key], [rerun_img, rerun_heat, rerun_md],
                api_name="runs_rerun", **MODEL_QUEUE)
    ctx.parts["runs_id"] = run_id
    ctx.parts["runs_refresh"] = refresh_ids


__all__ = ["build", "RunError"]
