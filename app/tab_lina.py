"""LINA tab: LINA chooses one named intervention of the family (or you pick one), baseline vs LINA
side by side with the verifier's verdict on each, why that intervention (its donor, window and
guidance mask), both runs' per-step predicted clean images, and a small batch mode over a few
seeds with the same choice."""
from __future__ import annotations

import json
from typing import Any

import gradio as gr
import pandas as pd

from lina_core import csg
from lina_core.limits import MAX_SEED, MAX_STEPS, MIN_STEPS

from . import state
from .context import MODEL_QUEUE, Ctx
from .presets import DEFAULT_PROMPT, LINA_PRESETS
from .verdicts import verdict
from .widgets import (DEFAULT_STEPS, DISPLAY, PREDICTED, UI_MAX_SEEDS, VERDICT_HEADERS,
                      VERDICT_WIDTHS, FieldNumber, box_outline, check_candidate, choice_markdown,
                      diff_heatmap, error, guard, intervention_dropdown, number,
                      parse_int_list, steps_slider, upscale, verdict_rows, verdict_summary)


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


def predict(prompt: Any, use_scene: bool, scene: dict[str, Any] | None, candidate: Any,
            steps: Any, model_key: str) -> tuple[str, str]:
    """The "Predict intervention" button: the choice (LINA's, or the one picked) and why."""
    key = model_key or state.handle().default_key
    text, graph = _scene_for(prompt, use_scene, scene)
    steps = number("steps", steps, MIN_STEPS, MAX_STEPS, integer=True)
    cand = check_candidate(candidate, graph)
    choice = state.predict_choice(key, text, graph, cand, steps)
    return choice_markdown(choice, steps=steps), json.dumps(choice, indent=2, default=str)


def pair(prompt: Any, use_scene: bool, scene: dict[str, Any] | None, seed: Any, steps: Any,
         candidate: Any, model_key: str, store, progress=gr.Progress()) -> tuple:
    """Run baseline vs LINA; every input is checked before any model work."""
    key = model_key or state.handle().default_key
    text, graph = _scene_for(prompt, use_scene, scene)
    seed = number("seed", seed, 0, MAX_SEED, integer=True)
    steps = number("steps", steps, MIN_STEPS, MAX_STEPS, integer=True)
    cand = check_candidate(candidate, graph)
    progress(0.05, desc="choosing the intervention; baseline and LINA (same noise)")
    out = state.lina_pair(key, text, graph, seed, steps, cand)
    progress(0.9, desc="verifying and saving")
    choice = out["choice"]
    why = choice["why"]
    run_mask = out["lina_record"].get("run_mask")
    vb, vl = verdict(out["baseline"], graph), verdict(out["lina"], graph)
    heat, heat_text = diff_heatmap(out["baseline"], out["lina"])
    t = out["timings"]
    run_id = store.save("lina", out["spec"], {
        "model": key, "model_label": state.handle().label(key), "seed": seed, "prompt": text,
        "steps": steps, "candidate": out["candidate"], "choice": choice,
        "intervention_source": why.get("source"), "run_mask": run_mask,
        "timings": t, "verdicts": {"baseline": vb, "lina": vl},
        "engine_records": {"baseline": out["baseline_record"], "lina": out["lina_record"]}},
        {"baseline": out["baseline"], "lina": out["lina"]})
    pv = out["previews"]
    shown = (f"Per-step previews: steps {', '.join(map(str, pv['steps']))} (top baseline, "
             f"bottom LINA)." if pv["image"] is not None else
             "This model gives no per-step previews (its latents are not pixels).")
    md = (f"**Run** `{run_id}` saved. Choice {t['choose_s']:.2f} s, baseline "
          f"{t['baseline_s']:.2f} s, LINA {t['lina_s']:.2f} s. "
          f"**Baseline:** {verdict_summary(vb)}. **LINA** (`{out['candidate']}`): "
          f"{verdict_summary(vl)}. Difference: {heat_text}. {shown}")
    return (upscale(out["baseline"]), upscale(out["lina"]),
            box_outline(out["lina"], run_mask["box"]) if run_mask else None,
            pd.DataFrame(verdict_rows(vb, graph), columns=VERDICT_HEADERS),
            pd.DataFrame(verdict_rows(vl, graph), columns=VERDICT_HEADERS), heat,
            pv["image"], choice_markdown(choice, run_mask, steps),
            json.dumps(choice, indent=2, default=str), json.dumps(out["spec"], indent=2), md)


def batch(prompt: Any, use_scene: bool, scene: dict[str, Any] | None, seeds: Any, steps: Any,
          candidate: Any, model_key: str, progress=gr.Progress()) -> tuple:
    """A few seeds with one choice: made once (LINA's, or the one picked), run for each seed."""
    key = model_key or state.handle().default_key
    text, graph = _scene_for(prompt, use_scene, scene)
    seed_list = parse_int_list("seeds", seeds, 0, MAX_SEED, UI_MAX_SEEDS)
    steps = number("steps", steps, MIN_STEPS, MAX_STEPS, integer=True)
    cand = check_candidate(candidate, graph)
    progress(0.0, desc="choosing the intervention")
    choice = state.predict_choice(key, text, graph, cand, steps)
    name = choice["candidate"]
    base_g, lina_g, counts = [], [], {"baseline": 0, "lina": 0}
    for i, s in enumerate(seed_list):
        progress(i / len(seed_list), desc=f"seed {s} ({i + 1}/{len(seed_list)})")
        out = state.lina_pair(key, text, graph, s, steps, name)
        vb, vl = verdict(out["baseline"], graph), verdict(out["lina"], graph)
        counts["baseline"] += bool(vb.get("physics_ok"))
        counts["lina"] += bool(vl.get("physics_ok"))
        base_g.append((upscale(out["baseline"], 160), f"seed {s}: {verdict_summary(vb)}"))
        lina_g.append((upscale(out["lina"], 160), f"seed {s}: {verdict_summary(vl)}"))
    n = len(seed_list)
    md = (f"Physics right: baseline {counts['baseline']}/{n}, LINA {counts['lina']}/{n}, every "
          f"seed with the intervention `{name}` ({choice['why'].get('source', '')}).")
    return base_g, lina_g, md


def build(ctx: Ctx) -> None:
    store = ctx.store
    gr.Markdown("**LINA** (as this project defines it): for each prompt, a learned predictor "
                "chooses one intervention of a named family (none; the causal completion c+ "
                "for a window of early steps; a structure donor, the same scene with the novel "
                "attributes swapped for familiar ones and the effect's causal parents kept; "
                "latent guidance masked to the effect's region as the run drew it; the "
                "reallocated schedule), or none at all. Pick one by hand to compare. Baseline "
                "and LINA start from the same noise.")
    with gr.Row():
        prompt = gr.Textbox(DEFAULT_PROMPT, label="prompt", scale=4, elem_id="lina-prompt")
        use_scene = gr.Checkbox(False, label="use the Scene tab's graph", scale=1)
    presets_box = gr.Column()      # filled at the end, once the outputs exist (for caching)
    with gr.Row(equal_height=True):
        seed = FieldNumber(0, label="seed", precision=0, minimum=0, maximum=MAX_SEED,
                           field="seed")
        steps = steps_slider()
        candidate = intervention_dropdown(elem_id="lina-candidate")
        predict_btn = gr.Button("Predict intervention", elem_id="lina-predict")
    run = gr.Button("Run baseline vs LINA", variant="primary", elem_id="lina-run")
    md = gr.Markdown(elem_id="lina-md")
    with gr.Row():
        base_img = gr.Image(label="baseline", format="png", height=DISPLAY, interactive=False,
                            elem_id="lina-baseline")
        lina_img = gr.Image(label="LINA", format="png", height=DISPLAY, interactive=False,
                            elem_id="lina-lina")
        mask_img = gr.Image(label="LINA, with the region its guidance was masked to",
                            format="png", height=DISPLAY, interactive=False,
                            elem_id="lina-mask")
        heat = gr.Image(label="difference heat map", format="png", height=DISPLAY,
                        interactive=False)
    explain = gr.Markdown(elem_id="lina-why")
    previews = gr.Image(label="predicted clean image at each step: baseline (top), LINA "
                        "(bottom)", format="png", interactive=False, elem_id="lina-previews")
    with gr.Row():
        vb = gr.Dataframe(headers=VERDICT_HEADERS, label="verifier: baseline", wrap=True,
                          interactive=False, column_widths=VERDICT_WIDTHS)
        vl = gr.Dataframe(headers=VERDICT_HEADERS, label="verifier: LINA", wrap=True,
                          interactive=False, column_widths=VERDICT_WIDTHS)
    with gr.Accordion("the choice in full, and the spec that ran", open=False):
        with gr.Row():
            why = gr.Code(language="json", label="choice: candidate, why, features", lines=8,
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

    pair_outs = [base_img, lina_img, mask_img, vb, vl, heat, previews, explain, why, spec, md]

    def run_pair(prompt, use_scene, scene, seed, steps, candidate, model_key,
                 progress=gr.Progress()):
        return pair(prompt, use_scene, scene, seed, steps, candidate, model_key, store,
                    progress)

    run.click(guard(run_pair), [prompt, use_scene, ctx.scene, seed, steps, candidate,
                                ctx.model_key], pair_outs, api_name="lina", **MODEL_QUEUE)
    predict_btn.click(guard(predict), [prompt, use_scene, ctx.scene, candidate, steps,
                                       ctx.model_key], [explain, why], api_name="lina_predict",
                      **MODEL_QUEUE)
    run_batch.click(guard(batch), [prompt, use_scene, ctx.scene, seeds, steps, candidate,
                                   ctx.model_key], [base_gal, lina_gal, batch_md],
                    api_name="lina_batch", **MODEL_QUEUE)

    # talk presets: clicking one fills the prompt and seed; with caching on (the app's
    # default) the baseline/LINA pair, with LINA's own choice, is computed once per model and
    # then served from the cache
    with presets_box:
        if ctx.cache_presets:
            def preset(prompt, seed):
                return run_pair(prompt, False, None, seed, DEFAULT_STEPS, PREDICTED, None,
                                progress=_NoProgress())
            ctx.parts["lina_presets"] = gr.Examples(
                [[p[1], p[2]] for p in LINA_PRESETS], inputs=[prompt, seed], outputs=pair_outs,
                fn=guard(preset), cache_examples=True, cache_mode="lazy",
                label="talk presets (default model, "
                f"{DEFAULT_STEPS} steps, LINA's predicted choice; cached after first use)",
                example_labels=[p[0] for p in LINA_PRESETS], elem_id="lina-presets")
        else:
            ctx.parts["lina_presets"] = gr.Examples(
                [[p[1], p[2]] for p in LINA_PRESETS], inputs=[prompt, seed], label="talk presets",
                example_labels=[p[0] for p in LINA_PRESETS], elem_id="lina-presets")


class _NoProgress:
    def __call__(self, *a, **k):
        return None
