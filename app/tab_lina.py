"""LINA tab: predicted intervention parameters (editable), baseline vs LINA side by side with the
verifier's verdict on each, and a small batch mode over a few seeds."""
from __future__ import annotations

import json
from typing import Any

import gradio as gr
import pandas as pd

from lina_core import csg
from lina_core.lina import RANGES
from lina_core.limits import MAX_SEED, MAX_STEPS, MIN_STEPS

from . import state
from .context import MODEL_QUEUE, Ctx
from .presets import DEFAULT_PROMPT, PRESETS
from .verdicts import verdict
from .widgets import (DEFAULT_STEPS, DISPLAY, UI_MAX_SEEDS, VERDICT_HEADERS, VERDICT_WIDTHS,
                      FieldNumber, diff_heatmap, error,
                      guard, number, parse_int_list, steps_slider, upscale, verdict_rows,
                      verdict_summary)

PARAM_LABELS = {"lambda_p": "lambda_p (prompt guidance)", "w_l": "w_l (latent guidance)",
                "k_frac": "k_frac (structure window, share of steps)",
                "rho": "rho (schedule: share of steps at high noise)"}


def _scene_for(prompt: Any, use_scene: bool, scene: dict[str, Any] | None
               ) -> tuple[str, dict[str, Any]]:
    if use_scene:
        if not scene or not scene.get("graph"):
            raise error("use Scene graph: the Scene tab has no graph yet")
        g = csg.CausalSceneGraph.from_dict(scene["graph"])
        text = prompt.strip() if isinstance(prompt, str) and prompt.strip() else csg.to_prompt(g)
        return text, g.to_dict()
    if not isinstance(prompt, str) or not prompt.strip():
        raise error("prompt: required; e.g. 'a large red ball on a small round mirror'")
    return prompt.strip(), csg.from_prompt(prompt).graph.to_dict()


def _params(lp: Any, wl: Any, kf: Any, rho: Any) -> dict[str, float]:
    vals = dict(zip(RANGES, (lp, wl, kf, rho)))
    return {k: number(k, v, *RANGES[k]) for k, v in vals.items()}


def predict(prompt: Any, use_scene: bool, scene: dict[str, Any] | None, model_key: str
            ) -> tuple:
    text, graph = _scene_for(prompt, use_scene, scene)
    params, why = state.predict_params(model_key or state.handle().default_key, text, graph)
    return (*[params[k] for k in RANGES], json.dumps(why, indent=2))


def pair(prompt: Any, use_scene: bool, scene: dict[str, Any] | None, seed: Any, steps: Any,
         use_predicted: bool, lp: Any, wl: Any, kf: Any, rho: Any, model_key: str, store,
         progress=gr.Progress()) -> tuple:
    key = model_key or state.handle().default_key
    text, graph = _scene_for(prompt, use_scene, scene)
    seed = number("seed", seed, 0, MAX_SEED, integer=True)
    steps = number("steps", steps, MIN_STEPS, MAX_STEPS, integer=True)
    progress(0.05, desc="parameters")
    if use_predicted:
        params, why = state.predict_params(key, text, graph)
    else:
        params, why = _params(lp, wl, kf, rho), {"source": "given in the fields"}
    progress(0.2, desc="baseline and LINA (same noise)")
    out = state.lina_pair(key, text, graph, seed, steps, params)
    progress(0.9, desc="verifying and saving")
    vb, vl = verdict(out["baseline"], graph), verdict(out["lina"], graph)
    heat, heat_text = diff_heatmap(out["baseline"], out["lina"])
    t = out["timings"]
    run_id = store.save("lina", out["spec"], {
        "model": key, "model_label": state.handle().label(key), "seed": seed, "prompt": text,
        "params": out["params"], "params_source": why.get("source"), "why": why,
        "timings": t, "verdicts": {"baseline": vb, "lina": vl},
        "engine_records": {"baseline": out["baseline_record"], "lina": out["lina_record"]}},
        {"baseline": out["baseline"], "lina": out["lina"]})
    md = (f"**Run** `{run_id}` saved. Baseline {t['baseline_s']:.2f} s, LINA {t['lina_s']:.2f} s. "
          f"**Baseline:** {verdict_summary(vb)}. **LINA:** {verdict_summary(vl)}. "
          f"Parameters: {why.get('source', '')}. Difference: {heat_text}.")
    p = out["params"]
    why_all = dict(out.get("why") or {}, **why)
    return (upscale(out["baseline"]), upscale(out["lina"]),
            pd.DataFrame(verdict_rows(vb, graph), columns=VERDICT_HEADERS),
            pd.DataFrame(verdict_rows(vl, graph), columns=VERDICT_HEADERS), heat,
            *[p[k] for k in RANGES], json.dumps(why_all, indent=2, default=str),
            json.dumps(out["spec"], indent=2), md)


def batch(prompt: Any, use_scene: bool, scene: dict[str, Any] | None, seeds: Any, steps: Any,
          use_predicted: bool, lp: Any, wl: Any, kf: Any, rho: Any, model_key: str,
          progress=gr.Progress()) -> tuple:
    key = model_key or state.handle().default_key
    text, graph = _scene_for(prompt, use_scene, scene)
    seed_list = parse_int_list("seeds", seeds, 0, MAX_SEED, UI_MAX_SEEDS)
    steps = number("steps", steps, MIN_STEPS, MAX_STEPS, integer=True)
    if use_predicted:
        params, why = state.predict_params(key, text, graph)
    else:
        params, why = _params(lp, wl, kf, rho), {"source": "given in the fields"}
    base_g, lina_g, counts = [], [], {"baseline": 0, "lina": 0}
    for i, s in enumerate(seed_list):
        progress(i / len(seed_list), desc=f"seed {s} ({i + 1}/{len(seed_list)})")
        out = state.lina_pair(key, text, graph, s, steps, params)
        vb, vl = verdict(out["baseline"], graph), verdict(out["lina"], graph)
        counts["baseline"] += bool(vb.get("physics_ok"))
        counts["lina"] += bool(vl.get("physics_ok"))
        base_g.append((upscale(out["baseline"], 160), f"seed {s}: {verdict_summary(vb)}"))
        lina_g.append((upscale(out["lina"], 160), f"seed {s}: {verdict_summary(vl)}"))
    n = len(seed_list)
    md = (f"Physics right: baseline {counts['baseline']}/{n}, LINA {counts['lina']}/{n} "
          f"(parameters: {why.get('source', '')}).")
    return base_g, lina_g, md


def build(ctx: Ctx) -> None:
    store = ctx.store
    gr.Markdown("**LINA** (as this project defines it): guide the prompt embedding towards its "
                "causal completion c+ and the latents towards eps(x, c+) in the first, "
                "high-noise steps, with a reallocated schedule; the parameters are predicted per "
                "prompt. Baseline and LINA start from the same noise.")
    with gr.Row():
        prompt = gr.Textbox(DEFAULT_PROMPT, label="prompt", scale=4, elem_id="lina-prompt")
        use_scene = gr.Checkbox(False, label="use the Scene tab's graph", scale=1)
    presets_box = gr.Column()      # filled at the end, once the outputs exist (for caching)
    with gr.Row():
        seed = FieldNumber(0, label="seed", precision=0, minimum=0, maximum=MAX_SEED,
                           field="seed")
        steps = steps_slider()
        use_pred = gr.Checkbox(True, label="use predicted parameters")
    with gr.Row():
        fields = [FieldNumber(0.0, label=PARAM_LABELS[k], minimum=lo, maximum=hi, step=0.05,
                              field=k) for k, (lo, hi) in RANGES.items()]
        predict_btn = gr.Button("Predict parameters")
    run = gr.Button("Run baseline vs LINA", variant="primary", elem_id="lina-run")
    md = gr.Markdown(elem_id="lina-md")
    with gr.Row():
        base_img = gr.Image(label="baseline", format="png", height=DISPLAY, interactive=False,
                            elem_id="lina-baseline")
        lina_img = gr.Image(label="LINA", format="png", height=DISPLAY, interactive=False,
                            elem_id="lina-lina")
        heat = gr.Image(label="difference heat map", format="png", height=DISPLAY,
                        interactive=False)
    with gr.Row():
        vb = gr.Dataframe(headers=VERDICT_HEADERS, label="verifier: baseline", wrap=True,
                          interactive=False, column_widths=VERDICT_WIDTHS)
        vl = gr.Dataframe(headers=VERDICT_HEADERS, label="verifier: LINA", wrap=True,
                          interactive=False, column_widths=VERDICT_WIDTHS)
    with gr.Accordion("why these parameters, and the spec that ran", open=False):
        with gr.Row():
            why = gr.Code(language="json", label="features and source", lines=8,
                          interactive=False)
            spec = gr.Code(language="json", label="LINA spec", lines=8, interactive=False,
                           buttons=["copy", "download"])
    with gr.Accordion("batch: a few seeds", open=False):
        with gr.Row():
            seeds = gr.Textbox("0, 1, 2, 3", label=f"seeds (at most {UI_MAX_SEEDS})")
            run_batch = gr.Button("Run batch")
        batch_md = gr.Markdown()
        with gr.Row():
            base_gal = gr.Gallery(label="baseline", columns=4, height=220, format="png",
                                  object_fit="contain", fit_columns=False)
            lina_gal = gr.Gallery(label="LINA", columns=4, height=220, format="png",
                                  object_fit="contain", fit_columns=False)

    pair_outs = [base_img, lina_img, vb, vl, heat, *fields, why, spec, md]

    def run_pair(prompt, use_scene, scene, seed, steps, use_pred, lp, wl, kf, rho, model_key,
                 progress=gr.Progress()):
        return pair(prompt, use_scene, scene, seed, steps, use_pred, lp, wl, kf, rho, model_key,
                    store, progress)

    run.click(guard(run_pair), [prompt, use_scene, ctx.scene, seed, steps, use_pred, *fields,
                                ctx.model_key], pair_outs, api_name="lina", **MODEL_QUEUE)
    predict_btn.click(guard(predict), [prompt, use_scene, ctx.scene, ctx.model_key],
                      [*fields, why], api_name="lina_predict", **MODEL_QUEUE)
    run_batch.click(guard(batch), [prompt, use_scene, ctx.scene, seeds, steps, use_pred,
                                   *fields, ctx.model_key], [base_gal, lina_gal, batch_md],
                    api_name="lina_batch", **MODEL_QUEUE)

    # talk presets: clicking one fills the prompt and seed; with caching on (the app's
    # default) the baseline/LINA pair is computed once per model and then served from the cache
    with presets_box:
        if ctx.cache_presets:
            def preset(prompt, seed):
                return run_pair(prompt, False, None, seed, DEFAULT_STEPS, True, 0, 0, 0, 0,
                                None, progress=_NoProgress())
            gr.Examples([[p[1], p[2]] for p in PRESETS], inputs=[prompt, seed],
                        outputs=pair_outs, fn=guard(preset), cache_examples=True,
                        cache_mode="lazy", label="talk presets (default model, "
                        f"{DEFAULT_STEPS} steps, predicted parameters; cached after first use)",
                        example_labels=[p[0] for p in PRESETS], elem_id="lina-presets")
        else:
            gr.Examples([[p[1], p[2]] for p in PRESETS], inputs=[prompt, seed],
                        label="talk presets", example_labels=[p[0] for p in PRESETS],
                        elem_id="lina-presets")


class _NoProgress:
    def __call__(self, *a, **k):
        return None
