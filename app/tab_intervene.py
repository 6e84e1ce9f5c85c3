"""Intervene tab: build an intervention spec from controls (or paste one), run it against its
baseline with the same seed (the baseline trajectory is cached and reused), and compare: image
slider, difference heat map, per-step previews with a scrubber, the schedule plot, verdicts."""
from __future__ import annotations

import json
from typing import Any

import gradio as gr
import pandas as pd

from lina_core import csg
from lina_core.interventions import EDIT_TYPES, InterventionSpec
from lina_core.limits import MAX_GUIDANCE, MAX_SEED, MAX_STEPS, MAX_STRENGTH, MIN_STEPS
from lina_core.schedules import STRUCTURE_SPLIT, Schedule
from lina_core.schedules import figure as schedule_figure

from . import state
from .context import MODEL_QUEUE, Ctx
from .presets import DEFAULT_PROMPT, PRESETS
from .verdicts import verdict
from .widgets import (DISPLAY, VERDICT_HEADERS, VERDICT_WIDTHS, FieldNumber, FieldSlider,
                      diff_heatmap, error,
                      guard, number, side_by_side, steps_slider, upscale, verdict_rows,
                      verdict_summary)

NO_EDIT = "none"
NO_MASK = "(none: whole image)"


def _graph_for(prompt: str, scene: dict[str, Any] | None) -> dict[str, Any] | None:
    """The scene tab's graph when the prompt is the scene's, else the prompt's own parse."""
    if scene and prompt.strip() == scene.get("prompt"):
        return scene["graph"]
    try:
        return csg.from_prompt(prompt).graph.to_dict()
    except csg.GraphError:
        return None


def completion(prompt: Any, scene: dict[str, Any] | None) -> str:
    if not isinstance(prompt, str) or not prompt.strip():
        raise error("prompt: required")
    g = _graph_for(prompt, scene)
    if g is None:
        raise error("prompt: not a ToyWorld scene, so it has no causal completion; type a "
                    "target prompt yourself")
    return csg.to_prompt(csg.CausalSceneGraph.from_dict(g), explicit=True)


def mask_choices(prompt: Any, scene: dict[str, Any] | None):
    g = _graph_for(prompt, scene) if isinstance(prompt, str) and prompt.strip() else None
    nodes = [n["id"] for n in g["nodes"]] if g else []
    return gr.update(choices=[NO_MASK] + nodes, value=NO_MASK)


def build_spec(prompt: Any, seed: Any, steps: Any, guidance: Any, edit_type: Any,
               target: Any, words: Any, d_from: Any, d_to: Any, strength: Any, start: Any,
               end: Any, lg_weight: Any, mask_node: Any, schedule: Any, rho: Any,
               scene: dict[str, Any] | None = None) -> dict[str, Any]:
    """Controls -> a validated spec dict; every error names its field."""
    if not isinstance(prompt, str) or not prompt.strip():
        raise error("prompt: required, a non-empty string")
    prompt = prompt.strip()
    seed = number("seed", seed, 0, MAX_SEED, integer=True)
    steps = number("steps", steps, MIN_STEPS, MAX_STEPS, integer=True)
    guidance = number("guidance_scale", guidance, 0.0, MAX_GUIDANCE)
    strength = number("strength", strength, -MAX_STRENGTH, MAX_STRENGTH)
    lg_weight = number("latent guidance weight", lg_weight, -MAX_STRENGTH, MAX_STRENGTH)
    rho = number("rho", rho, 0.0, 1.0)
    start = number("window start", start, 0, MAX_STEPS - 1, integer=True)
    end = number("window end", end, 1, MAX_STEPS, integer=True)
    if end <= start:
        raise error(f"window end: {end} must be greater than window start ({start})")
    if end > steps:
        raise error(f"window end: {end} is beyond the last step; allowed up to steps ({steps})")
    if edit_type not in (NO_EDIT,) + EDIT_TYPES:
        raise error(f"edit type: {edit_type!r} is not one of {[NO_EDIT, *EDIT_TYPES]}")
    if schedule not in ("uniform", "reallocated"):
        raise error(f"schedule: {schedule!r} is not one of ['uniform', 'reallocated']")
    target = (target or "").strip() if isinstance(target, str) else ""
    graph = _graph_for(prompt, scene)
    edits = []
    if edit_type != NO_EDIT:
        word_list, pairs = [], []
        for w in (words or "").split(",") if isinstance(words, str) else []:
            w = w.strip()
            if not w:
                continue
            if edit_type == "swap_tokens":
                if ":" not in w:
                    raise error(f"words: {w!r}: swap_tokens needs source:target pairs, "
                                f"e.g. left:right")
                a, b = (s.strip() for s in w.split(":", 1))
                pairs.append([a, b])
            else:
                word_list.append(w)
        edits.append({"type": edit_type, "start": start, "end": end, "strength": strength,
                      "target_prompt": target, "direction_from": (d_from or "").strip(),
                      "direction_to": (d_to or "").strip(), "words": word_list,
                      "pairs": pairs})
    lg = None
    if lg_weight != 0:
        if not target:
            raise error("target prompt: latent guidance needs a target prompt (press 'fill c+')")
        node = "" if mask_node in (None, "", NO_MASK) else str(mask_node)
        if node and (graph is None or node not in {n["id"] for n in graph["nodes"]}):
            raise error(f"mask node: {node!r} is not a node of this prompt's scene graph")
        lg = {"target_prompt": target, "weight": lg_weight, "start": start, "end": end,
              "mask_node": node}
    d = {"prompt": prompt, "steps": steps, "guidance_scale": guidance, "seed": seed,
         "edits": edits, "latent_guidance": lg,
         "schedule": {"kind": schedule, "rho": rho, "split": STRUCTURE_SPLIT},
         "graph": graph}
    return InterventionSpec.from_dict(d).to_dict()


def _schedule_plot(out: dict[str, Any]):
    scheds = {name: Schedule.from_dict(s) for name, s in out["schedules"].items()}
    return schedule_figure(scheds, out["num_train_timesteps"])


def _run(spec: dict[str, Any], model_key: str, store, progress) -> tuple:
    progress(0.05, desc="baseline (cached when possible) and intervened run")
    key = model_key or state.handle().default_key
    out = state.intervene(key, spec)
    progress(0.85, desc="verifying and saving")
    graph = spec.get("graph")
    vb, vi = verdict(out["baseline"], graph), verdict(out["intervened"], graph)
    heat, heat_text = diff_heatmap(out["baseline"], out["intervened"])
    n = len(out["previews"])
    gallery = [(upscale(p, 128), f"step {i}") for i, p in enumerate(out["previews"])]
    t = out["timings"]
    run_id = store.save("intervene", out["spec"], {
        "model": key, "model_label": state.handle().label(key), "seed": spec["seed"],
        "prompt": spec["prompt"], "baseline_spec": out["baseline_spec"], "timings": t,
        "verdicts": {"baseline": vb, "intervened": vi},
        "engine_records": {"baseline": out["baseline_record"], "intervened": out["record"]}},
        {"baseline": out["baseline"], "intervened": out["intervened"]})
    base_text = "from cache" if t["baseline_cached"] else f"{t['baseline_s']:.2f} s"
    md = (f"**Run** `{run_id}` saved. Baseline {base_text}; "
          f"intervened {t['intervened_s']:.2f} s (started at step {t['started_at_step']}). "
          f"**Baseline:** {verdict_summary(vb)}. **Intervened:** {verdict_summary(vi)}. "
          f"Difference: {heat_text}.")
    previews = {"baseline": out["baseline_previews"], "intervened": out["previews"]}
    last = max(n - 1, 0)
    return ((upscale(out["baseline"]), upscale(out["intervened"])), heat, gallery,
            gr.update(maximum=last, value=last), scrub(last, previews), previews,
            _schedule_plot(out), json.dumps(out["spec"], indent=2),
            pd.DataFrame(verdict_rows(vb, graph), columns=VERDICT_HEADERS),
            pd.DataFrame(verdict_rows(vi, graph), columns=VERDICT_HEADERS), md)


def scrub(i: Any, previews: dict[str, Any] | None):
    """Baseline | intervened predicted clean image at step ``i``."""
    if not previews or not previews.get("intervened"):
        return None
    pv, bpv = previews["intervened"], previews.get("baseline") or []
    try:
        i = int(i)
    except (TypeError, ValueError):
        i = len(pv) - 1
    i = min(max(i, 0), len(pv) - 1)
    return side_by_side(bpv[i], pv[i]) if i < len(bpv) else upscale(pv[i])


def build(ctx: Ctx) -> None:
    store = ctx.store
    gr.Markdown("Change the prompt embedding or the latents in a window of denoising steps, "
                "or reallocate the schedule; the baseline (same seed, no intervention, uniform "
                "schedule) is cached, and the intervened run starts from its latents at the "
                "first changed step.")
    with gr.Row():
        prompt = gr.Textbox(DEFAULT_PROMPT, label="prompt", scale=4, elem_id="iv-prompt")
        from_scene = gr.Button("use Scene prompt", scale=1)
    presets_box = gr.Column()      # filled below, once the outputs exist
    with gr.Row():
        seed = FieldNumber(0, label="seed", precision=0, minimum=0, maximum=MAX_SEED,
                           field="seed")
        steps = steps_slider()
        guidance = FieldSlider(0, MAX_GUIDANCE, value=3.0, step=0.5, label="guidance scale",
                               field="guidance_scale")
    with gr.Row():
        edit_type = gr.Dropdown([NO_EDIT, *EDIT_TYPES], value="interpolate", label="edit type")
        strength = FieldSlider(-MAX_STRENGTH, MAX_STRENGTH, value=1.0, step=0.05,
                               label="strength", field="strength")
    with gr.Row():
        target = gr.Textbox(completion(DEFAULT_PROMPT, None), label="target prompt (c+ for "
                            "interpolate / replace / latent guidance)", scale=4)
        fill = gr.Button("fill c+", scale=1)
    with gr.Accordion("words and directions (scale_tokens, swap_tokens, add_direction)",
                      open=False):
        words = gr.Textbox("", label="words (scale_tokens: a, b; swap_tokens: src:dst, ...)")
        with gr.Row():
            d_from = gr.Textbox("", label="direction from (add_direction)")
            d_to = gr.Textbox("", label="direction to (add_direction)")
    with gr.Row():
        start = FieldSlider(0, MAX_STEPS - 1, value=0, step=1, label="window start",
                            field="window start")
        end = FieldSlider(1, MAX_STEPS, value=10, step=1, label="window end (exclusive)",
                          field="window end")
    with gr.Row():
        lg_weight = FieldSlider(-MAX_STRENGTH, MAX_STRENGTH, value=0.0, step=0.05,
                                label="latent guidance weight (0 = off)",
                                field="latent guidance weight")
        g0 = _graph_for(DEFAULT_PROMPT, None)
        mask = gr.Dropdown([NO_MASK] + [n["id"] for n in g0["nodes"]], value=NO_MASK,
                           label="latent guidance mask node")
    with gr.Row():
        schedule = gr.Radio(["uniform", "reallocated"], value="uniform", label="schedule")
        rho = FieldSlider(0, 1, value=0.4, step=0.05, label="rho (share of steps in the "
                          "high-noise phase)", field="rho")
    run = gr.Button("Run baseline and intervened", variant="primary", elem_id="iv-run")
    md = gr.Markdown()
    with gr.Row():
        # no fixed height: with one, ImageSlider 6.31 misaligns its two images
        slider = gr.ImageSlider(label="baseline | intervened", format="png",
                                max_height=DISPLAY + 64, elem_id="iv-slider")
        heat = gr.Image(label="difference heat map", format="png", height=DISPLAY,
                        interactive=False, elem_id="iv-heat")
    with gr.Row():
        with gr.Column(scale=3):
            gallery = gr.Gallery(label="per-step predicted clean image (intervened)",
                                 columns=10, height=220, format="png", object_fit="contain",
                                 fit_columns=False)
        with gr.Column(scale=2):
            step = gr.Slider(0, 24, value=24, step=1, label="step scrubber")
            step_img = gr.Image(label="baseline | intervened at this step", format="png",
                                interactive=False)
    sched_plot = gr.Plot(label="schedule: requested vs used")
    with gr.Row():
        vb = gr.Dataframe(headers=VERDICT_HEADERS, label="verifier: baseline", wrap=True,
                          interactive=False, column_widths=VERDICT_WIDTHS)
        vi = gr.Dataframe(headers=VERDICT_HEADERS, label="verifier: intervened", wrap=True,
                          interactive=False, column_widths=VERDICT_WIDTHS)
    with gr.Row():
        spec_out = gr.Code(language="json", label="spec that ran (copy it)", lines=10,
                           max_lines=24, interactive=False, buttons=["copy", "download"])
        with gr.Column():
            spec_in = gr.Code(language="json", label="paste a spec JSON", lines=10,
                              max_lines=24, interactive=True, elem_id="iv-spec-in")
            with gr.Row():
                run_json = gr.Button("Run pasted spec")
                load_json = gr.Button("Load into controls")
    previews = gr.State({})

    controls = [prompt, seed, steps, guidance, edit_type, target, words, d_from, d_to, strength,
                start, end, lg_weight, mask, schedule, rho]
    outs = [slider, heat, gallery, step, step_img, previews, sched_plot, spec_out, vb, vi, md]

    def run_controls(prompt, seed, steps, guidance, edit_type, target, words, d_from, d_to,
                     strength, start, end, lg_weight, mask_node, schedule, rho, scene,
                     model_key, progress=gr.Progress()):
        spec = build_spec(prompt, seed, steps, guidance, edit_type, target, words, d_from, d_to,
                          strength, start, end, lg_weight, mask_node, schedule, rho, scene=scene)
        return _run(spec, model_key, store, progress)

    def run_pasted(text, model_key, progress=gr.Progress()):
        if not isinstance(text, str) or not text.strip():
            raise error("spec JSON: empty; paste a spec (e.g. from 'spec that ran')")
        spec = InterventionSpec.from_json(text).to_dict()
        return _run(spec, model_key, store, progress)

    def load_controls(text):
        if not isinstance(text, str) or not text.strip():
            raise error("spec JSON: empty")
        s = InterventionSpec.from_json(text)
        if len(s.edits) > 1 or s.inpaint is not None:
            gr.Warning("spec JSON: the controls show the first edit only (and no inpainting); "
                       "use 'Run pasted spec' to run all of it")
        e = s.edits[0] if s.edits else None
        lg = s.latent_guidance
        win = (e.start, e.end) if e else ((lg.start, lg.end) if lg else (0, 10))
        tgt = e.target_prompt if e else (lg.target_prompt if lg else "")
        return (s.prompt, s.seed, s.steps, s.guidance_scale, e.type if e else NO_EDIT, tgt,
                ", ".join(e.words if e else []) or ", ".join(":".join(p) for p in
                                                             (e.pairs if e else [])),
                e.direction_from if e else "", e.direction_to if e else "",
                e.strength if e else 1.0, win[0], win[1], lg.weight if lg else 0.0,
                (lg.mask_node or NO_MASK) if lg else NO_MASK, s.schedule.kind, s.schedule.rho)

    run.click(guard(run_controls), controls + [ctx.scene, ctx.model_key], outs,
              api_name="intervene", **MODEL_QUEUE)
    run_json.click(guard(run_pasted), [spec_in, ctx.model_key], outs,
                   api_name="intervene_json", **MODEL_QUEUE)
    load_json.click(guard(load_controls), [spec_in], controls, api_name="load_spec")
    step.change(scrub, [step, previews], [step_img], api_visibility="private",
                show_progress="hidden", trigger_mode="always_last")
    fill.click(guard(completion), [prompt, ctx.scene], [target], api_name="completion")
    prompt.blur(guard(mask_choices), [prompt, ctx.scene], [mask],
                api_visibility="private",
                show_progress="hidden")

    def use_scene(scene):
        p = (scene or {}).get("prompt", DEFAULT_PROMPT)
        return p, completion(p, scene), mask_choices(p, scene)
    from_scene.click(guard(use_scene), [ctx.scene], [prompt, target, mask],
                     api_visibility="private")

    def use_prompt(p):
        return completion(p, None), mask_choices(p, None)
    with presets_box:
        gr.Examples([[p[1]] for p in PRESETS], inputs=[prompt], outputs=[target, mask],
                    fn=guard(use_prompt), run_on_click=True, cache_examples=False,
                    label="talk presets", example_labels=[p[0] for p in PRESETS])
    ctx.parts["iv_spec_in"] = spec_in
