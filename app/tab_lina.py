"""LINA tab: LINA chooses one named intervention of the family (or you pick one), baseline vs LINA
side by side with the verifier's verdict on each, why that intervention (its donor, window and
guidance mask), both runs' per-step predicted clean images, and a small batch mode over a few
seeds with the same choice."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr
import pandas as pd

from lina_core import csg
from lina_core.limits import MAX_SEED, MAX_STEPS, MIN_STEPS
from lina_core.pipelines.registry import ModelUnavailable

from . import editor, state, talk
from .context import MODEL_QUEUE, Ctx
from .preset_cache import TabScreen, talk_presets
from .presets import DEFAULT_PROMPT, lina_presets
from .verdicts import verdict
from .widgets import (DEFAULT_STEPS, DISPLAY, PREDICTED, UI_MAX_SEEDS, VERDICT_HEADERS,
                      VERDICT_WIDTHS, FieldCheckbox, FieldNumber, box_outline, check_candidate,
                      choice_markdown, diff_heatmap, error, guard, intervention_dropdown, keyed,
                      number, on_status, parse_int_list, run_status, steps_slider, stop_button,
                      stops, ui_json, upscale, verdict_rows, verdict_summary)


def _scene_for(prompt: Any, use_scene: bool, scene: dict[str, Any] | None
               ) -> tuple[str, dict[str, Any]]:
    if use_scene:
        if not scene or not scene.get("graph"):
            raise error("use Scene graph: the Scene tab has no graph yet")
        g = csg.CausalSceneGraph.from_dict(scene["graph"])
        if isinstance(prompt, str) and prompt.strip():
            csg.check_prompt(prompt)
        text = prompt.strip() if isinstance(prompt, str) and prompt.strip() else csg.to_prompt(g)
        return text, g.to_dict()
    if not isinstance(prompt, str) or not prompt.strip():
        raise error("prompt: required; e.g. 'a large red ball on a small round mirror'")
    return prompt.strip(), csg.from_prompt(prompt).graph.to_dict()


@dataclass
class Request:
    """What a LINA-tab button sends, by the names its API gives them (``scene`` and
    ``model_key`` are the session's state); checked before any model work."""
    prompt: Any = DEFAULT_PROMPT
    use_scene: bool = False
    scene: dict[str, Any] | None = None
    seed: Any = 0
    seeds: Any = "0"
    steps: Any = DEFAULT_STEPS
    candidate: Any = PREDICTED
    model_key: str | None = None

    def checked(self, seeds: str | None = None) -> "Checked":
        """The request checked in the order the UI shows the fields: the prompt (or the Scene
        graph), then ``seeds`` ("seed": one; "seeds": the batch's list), steps, candidate."""
        key = self.model_key or state.handle().default_key
        text, graph = _scene_for(self.prompt, self.use_scene, self.scene)
        seed_list = ([number("seed", self.seed, 0, MAX_SEED, integer=True)] if seeds == "seed"
                     else parse_int_list("seeds", self.seeds, 0, MAX_SEED, UI_MAX_SEEDS)
                     if seeds == "seeds" else [])
        steps = number("steps", self.steps, MIN_STEPS, MAX_STEPS, integer=True)
        return Checked(key, text, graph, seed_list, steps, check_candidate(self.candidate, graph))


@dataclass
class Checked:
    key: str                      # the model
    text: str                     # the prompt
    graph: dict[str, Any]
    seeds: list[int]
    steps: int
    candidate: str | None         # None: LINA chooses


def predict(r: Request) -> dict[str, str]:
    """The "Predict intervention" button: the choice (LINA's, or the one picked) and why."""
    c = r.checked()
    choice = state.predict_choice(c.key, c.text, c.graph, c.candidate, c.steps)
    return {"explain": choice_markdown(choice, steps=c.steps),
            "why": ui_json(choice)}


def blank_pair(md: str = "") -> dict[str, Any]:
    """Every output of a pair, empty (``md`` says why): what a refused run, and a prediction
    that runs nothing, leave on screen, so no picture of an earlier run stays."""
    empty = pd.DataFrame(columns=VERDICT_HEADERS)
    return {k: None for k in PAIR_OUTPUTS} | {"vb": empty, "vl": empty, "explain": "",
                                              "why": "", "spec": "", "md": md}


def predicted_only(prompt: Any) -> dict[str, Any]:
    """After "Predict intervention": the pair's pictures, tables and spec emptied (they were
    of an earlier run) and the run line saying nothing ran; the choice is shown below."""
    text = prompt.strip() if isinstance(prompt, str) else ""
    md = (f"**Predicted, not run:** LINA's choice for _{text}_ is explained below; press "
          f"\"Run baseline vs LINA\" to see its pictures.")
    return {k: v for k, v in blank_pair(md).items() if k not in ("explain", "why")}


def pair(r: Request, store, progress=gr.Progress()) -> dict[str, Any]:
    """Run baseline vs LINA; every input is checked before any model work."""
    c = r.checked("seed")
    key, text, graph, seed, steps = c.key, c.text, c.graph, c.seeds[0], c.steps
    progress(0.05, desc="choosing the intervention; baseline and LINA (same noise)")
    out = state.lina_pair(key, text, graph, seed, steps, c.candidate)
    progress(0.9, desc="verifying and saving")
    choice = out["choice"]
    run_mask = out["lina_record"].get("run_mask")
    vb, vl = verdict(out["baseline"], graph, key), verdict(out["lina"], graph, key)
    heat, heat_text = diff_heatmap(out["baseline"], out["lina"])
    t = out["timings"]
    run_id = store.save("lina", out["spec"], {
        "model": key, "model_label": state.handle().label(key), "seed": seed, "prompt": text,
        "steps": steps, "candidate": out["candidate"], "choice": choice,
        "intervention_source": choice["why"].get("source"), "run_mask": run_mask,
        "timings": t, "verdicts": {"baseline": vb, "lina": vl},
        "engine_records": {"baseline": out["baseline_record"], "lina": out["lina_record"]}},
        {"baseline": out["baseline"], "lina": out["lina"]})
    pv = out["previews"]
    shown = (f"Per-step previews: steps {', '.join(map(str, pv['steps']))} (top baseline, "
             f"bottom LINA)." if pv["image"] is not None else
             "This model gives no per-step previews (its latents are not pixels).")
    md = (f"**Run** `{run_id}` saved (_{text}_, seed {seed}, {steps} steps). Choice "
          f"{t['choose_s']:.2f} s, baseline "
          f"{t['baseline_s']:.2f} s, LINA {t['lina_s']:.2f} s. "
          f"**Baseline:** {verdict_summary(vb)}. **LINA** (`{out['candidate']}`): "
          f"{verdict_summary(vl)}. Difference: {heat_text}. {shown}")
    return {"base_img": upscale(out["baseline"]), "lina_img": upscale(out["lina"]),
            "mask_img": box_outline(out["lina"], run_mask["box"]) if run_mask else None,
            "vb": pd.DataFrame(verdict_rows(vb, graph), columns=VERDICT_HEADERS),
            "vl": pd.DataFrame(verdict_rows(vl, graph), columns=VERDICT_HEADERS),
            "heat": heat, "previews": pv["image"],
            "explain": choice_markdown(choice, run_mask, steps),
            "why": ui_json(choice), "spec": ui_json(out["spec"]), "md": md,
            "truth": editor.ground_truth(graph, DISPLAY),
            "tries": [(upscale(im, 160), cap) for im, cap in out["loop_runs"]] or None}


def batch(r: Request, progress=gr.Progress()) -> dict[str, Any]:
    """A few seeds with one choice: made once (LINA's, or the one picked), run for each seed."""
    c = r.checked("seeds")
    key, text, graph, seed_list, steps, cand = c.key, c.text, c.graph, c.seeds, c.steps, \
        c.candidate
    progress(0.0, desc="choosing the intervention")
    choice = state.predict_choice(key, text, graph, cand, steps)
    name = choice["candidate"]
    base_g, lina_g, counts = [], [], {"baseline": 0, "lina": 0}
    for i, s in enumerate(seed_list):
        progress(i / len(seed_list), desc=f"seed {s} ({i + 1}/{len(seed_list)})")
        out = state.lina_pair(key, text, graph, s, steps, name)
        vb, vl = verdict(out["baseline"], graph, key), verdict(out["lina"], graph, key)
        counts["baseline"] += bool(vb.get("physics_ok"))
        counts["lina"] += bool(vl.get("physics_ok"))
        base_g.append((upscale(out["baseline"], 160), f"seed {s}: {verdict_summary(vb)}"))
        lina_g.append((upscale(out["lina"], 160), f"seed {s}: {verdict_summary(vl)}"))
    n = len(seed_list)
    md = (f"Physics right: baseline {counts['baseline']}/{n}, LINA {counts['lina']}/{n}, every "
          f"seed with the intervention `{name}` ({choice['why'].get('source', '')}).")
    return {"base_gal": base_g, "lina_gal": lina_g, "batch_md": md}


INTRO = ("**Baseline vs LINA.** The baseline is the model's own picture for the prompt; LINA "
         "is the same run, from the same noise, with one intervention that LINA picks (or "
         "none). A verifier then says whether each picture got the physics and the texture "
         "right. With the model's early check (ToyWorld stills), LINA looks at the run's own "
         "preview at step 6 of 25: a run the check expects to come out right is left alone; "
         "otherwise LINA tries up to two interventions and keeps the best rated. Pick a preset "
         "to start, or pick an intervention by hand to compare. The words are explained under "
         "\"What the words mean\" at the top of the page.")
#: the order of the ``/lina`` outputs (the API answers them in this order; the ground truth,
#: added later, is last so earlier clients' indices still hold)
PAIR_OUTPUTS = ("base_img", "lina_img", "mask_img", "vb", "vl", "heat", "previews", "explain",
                "why", "spec", "md", "truth", "tries")


def _inputs() -> dict[str, Any]:
    """The prompt, the seed, steps and intervention, and the buttons (``presets`` is the
    column the talk presets go in, once the outputs exist)."""
    i: dict[str, Any] = {}
    with gr.Row():
        i["prompt"] = gr.Textbox(DEFAULT_PROMPT, label="prompt", scale=4, elem_id="lina-prompt")
        i["use_scene"] = FieldCheckbox(False, label="use the Scene tab's graph", scale=1,
                                       field="use Scene graph")
    i["presets"] = gr.Column()
    with gr.Row(equal_height=True, elem_id="lina-advanced") as i["advanced"]:
        i["seed"] = FieldNumber(0, label="seed", precision=0, minimum=0, maximum=MAX_SEED,
                                field="seed")
        i["steps"] = steps_slider()
        i["candidate"] = intervention_dropdown(
            elem_id="lina-candidate", min_width=220,
            info="c+: the prompt with its implied effects; donor: a familiar scene first")
        i["predict"] = gr.Button("Predict intervention", elem_id="lina-predict")
    with gr.Row():
        i["run"] = gr.Button("Run baseline vs LINA", variant="primary", elem_id="lina-run")
        i["stop"] = stop_button("lina-stop")
    i["status"] = run_status("lina-status")
    return i


def _images(o: dict[str, Any]) -> None:
    """The five images of a pair, into ``o``: the ground truth, baseline, LINA, its guidance
    mask and the difference."""
    with gr.Row():
        o["truth"] = gr.Image(label="ground truth", format="png", height=DISPLAY,
                              interactive=False, elem_id="lina-truth")
        o["base_img"] = gr.Image(label="baseline", format="png", height=DISPLAY,
                                 interactive=False, elem_id="lina-baseline")
        o["lina_img"] = gr.Image(label="LINA", format="png", height=DISPLAY,
                                 interactive=False, elem_id="lina-lina")
        o["mask_img"] = gr.Image(label="LINA's guidance mask",
                                 format="png", height=DISPLAY, interactive=False,
                                 elem_id="lina-mask", visible=False)
        o["heat"] = gr.Image(label="difference", format="png", height=DISPLAY,
                             interactive=False)


def _outputs() -> dict[str, Any]:
    """A pair's outputs, by the names :func:`pair` answers with."""
    o: dict[str, Any] = {"md": gr.Markdown(elem_id="lina-md")}
    _images(o)
    o["explain"] = gr.Markdown(elem_id="lina-why")
    o["tries"] = gr.Gallery(label="LINA's loop: the preview its check read at the check step, "
                            "and the final picture, of each run it made", columns=4, height=220,
                            format="png", object_fit="contain", visible=False,
                            elem_id="lina-tries")
    o["previews"] = gr.Image(label="predicted clean image at each step: baseline (top), LINA "
                             "(bottom)", format="png", interactive=False,
                             elem_id="lina-previews")
    with gr.Row():
        o["vb"] = gr.Dataframe(headers=VERDICT_HEADERS, label="verifier: baseline", wrap=True,
                               interactive=False, column_widths=VERDICT_WIDTHS,
                               elem_id="lina-vb")
        o["vl"] = gr.Dataframe(headers=VERDICT_HEADERS, label="verifier: LINA", wrap=True,
                               interactive=False, column_widths=VERDICT_WIDTHS,
                               elem_id="lina-vl")
    with gr.Accordion("the choice in full, and the spec that ran", open=False):
        with gr.Row():
            o["why"] = gr.Code(language="json", label="choice: candidate, why, features",
                               lines=8, interactive=False)
            o["spec"] = gr.Code(language="json", label="LINA spec", lines=8,
                                interactive=False, buttons=["copy", "download"],
                                elem_id="lina-spec")
    return o


def _batch_section() -> dict[str, Any]:
    """The batch accordion: its seeds, button and outputs."""
    b: dict[str, Any] = {}
    with gr.Accordion("batch: a few seeds", open=False) as b["accordion"]:
        with gr.Row():
            b["seeds"] = gr.Textbox("0, 1, 2, 3", label=f"seeds (at most {UI_MAX_SEEDS})",
                                    elem_id="lina-seeds")
            b["run"] = gr.Button("Run batch", elem_id="lina-batch-run")
            b["stop"] = stop_button("lina-batch-stop")
        b["status"] = run_status("lina-batch-status")
        b["batch_md"] = gr.Markdown()
        with gr.Row():
            b["base_gal"] = gr.Gallery(label="baseline", columns=4, height=220, format="png",
                                       object_fit="contain", fit_columns=False)
            b["lina_gal"] = gr.Gallery(label="LINA", columns=4, height=220, format="png",
                                       object_fit="contain", fit_columns=False)
    return b


def _wire(ctx: Ctx, i: dict[str, Any], o: dict[str, Any], b: dict[str, Any]) -> Any:
    """The three buttons; returns the pair's handler (the cached presets call it too)."""
    store, outs = ctx.store, {k: o[k] for k in PAIR_OUTPUTS}
    state_in = {"scene": ctx.scene, "model_key": ctx.model_key}

    def run_pair(progress=gr.Progress(), **request):
        return pair(Request(**request), store, progress)

    def run_predict(**request):
        return predict(Request(**request))

    def run_batch(progress=gr.Progress(), **request):
        return batch(Request(**request), progress)

    def named(*names: str) -> dict[str, Any]:
        return {n: i[n] if n in i else b[n] for n in names} | state_in

    at, bt = dict(show_progress_on=[i["status"]]), dict(show_progress_on=[b["status"]])
    clear = {outs[k]: v for k, v in blank_pair().items()}
    ev_pair = on_status(i["run"].click(guard(keyed(run_pair, outs)), None, list(outs.values()),
                                       inputs_kwargs=named("prompt", "use_scene", "seed", "steps",
                                                           "candidate"),
                                       api_name="lina", **at, **MODEL_QUEUE), i["status"], clear)
    why = {"explain": o["explain"], "why": o["why"]}
    ev_predict = on_status(i["predict"].click(
        guard(keyed(run_predict, why)), None, list(why.values()),
        inputs_kwargs=named("prompt", "use_scene", "candidate", "steps"),
        api_name="lina_predict", **at, **MODEL_QUEUE), i["status"], clear)
    rest = {k: v for k, v in outs.items() if k not in why}   # the /lina_predict API keeps 2
    ev_predict.success(keyed(predicted_only, rest), [i["prompt"]], list(rest.values()),
                       api_visibility="private", show_progress="hidden")
    gal = {k: b[k] for k in ("base_gal", "lina_gal", "batch_md")}
    ev_batch = on_status(b["run"].click(guard(keyed(run_batch, gal)), None, list(gal.values()),
                                        inputs_kwargs=named("prompt", "use_scene", "seeds",
                                                            "steps", "candidate"),
                                        api_name="lina_batch", **bt, **MODEL_QUEUE), b["status"],
                         {b["base_gal"]: [], b["lina_gal"]: [], b["batch_md"]: ""})
    stops(i["stop"], ev_pair)
    stops(b["stop"], ev_batch)
    return run_pair


def _known_categories(ctx: Ctx) -> tuple[str, ...]:
    """The categories the session's default model knows (v2 presets only for a model that
    knows them); none when it cannot be loaded here (the app still builds)."""
    try:
        return ctx.handle.categories()
    except ModelUnavailable:
        return ()


def _presets(ctx: Ctx, i: dict[str, Any], outs: dict[str, Any], run_pair: Any
             ) -> tuple[gr.Examples, list[tuple[str, str, int]], list[dict[str, Any]]]:
    """The talk presets: clicking one fills the prompt and seed; with caching on (the app's
    default) the baseline/LINA pair, with LINA's own choice, is computed once per model and
    then served from the app's preset cache (:mod:`app.preset_cache`).  Each is named in a few
    words (:func:`app.talk.short_name`); what was measured on it is in its hover title and in
    the fold under the presets.  Returns the examples, the presets and their requests."""
    presets = lina_presets(_known_categories(ctx))
    requests = [dict(prompt=p, use_scene=False, scene=None, seed=s, steps=DEFAULT_STEPS,
                     candidate=PREDICTED, model_key=None) for _, p, s in presets]
    cache = ctx.preset_cache()
    label = ("talk presets" if cache is None else "talk presets (default model, "
             f"{DEFAULT_STEPS} steps, LINA's predicted choice; cached after first use)")
    # the row fills every input the preset runs with, so the inputs on screen are the run's
    rows = [[r["prompt"], r["seed"], r["steps"], r["candidate"]] for r in requests]
    ex = talk_presets(cache, "lina", rows, requests, run_pair,
                      [i["prompt"], i["seed"], i["steps"], i["candidate"]],
                      TabScreen(outs, i["status"], blank_pair()), visible_columns=[0, 1],
                      label=label, example_labels=[talk.short_name(p[0], p[1])
                                                   for p in presets],
                      elem_id="lina-presets")
    with gr.Accordion("what each preset shows (measured rates)", open=False,
                      elem_id="lina-preset-info"):
        gr.Markdown(talk.preset_info(presets))
    return ex, presets, requests


def start_index(presets: list[tuple[str, str, int]]) -> int:
    """The preset "Start here" runs: the first one the loop repairs, else the first."""
    return next((n for n, (label, _, _) in enumerate(presets) if "loop repairs" in label), 0)


def _wire_start(ctx: Ctx, i: dict[str, Any], outs: dict[str, Any], ex: gr.Examples,
                presets: list[tuple[str, str, int]], requests: list[dict[str, Any]],
                run_pair: Any) -> None:
    """"Start here" (the first screen's button, when there is one): the LINA tab, its inputs
    filled with a preset and that preset run (from the preset cache when there is one)."""
    start, tabs = ctx.parts.get("start_here"), ctx.parts.get("tabs")
    if start is None or not requests:
        return
    n = start_index(presets)
    r = requests[n]
    fields = {i[k]: r[k] for k in ("prompt", "seed", "steps", "candidate")}
    targets = [*fields] + ([tabs] if tabs is not None else [])

    def fill() -> dict[Any, Any]:
        return fields | ({tabs: gr.Tabs(selected="lina")} if tabs is not None else {})

    answer = getattr(ex, "answer", None)

    def run(progress=gr.Progress()) -> dict[str, Any]:
        if answer is not None:
            return answer(n, progress)
        return run_pair(progress=progress, **r)

    filled = start.click(fill, None, targets, api_visibility="private",
                         show_progress="hidden", queue=False)
    filled.then(None, None, None, js=talk.SCROLL_JS)
    event = filled.then(guard(keyed(run, outs)), None, list(outs.values()),
                        show_progress_on=[i["status"]], api_visibility="private",
                        **MODEL_QUEUE)
    on_status(event, i["status"], {outs[k]: v for k, v in blank_pair().items()})


def _hide_empty(component: Any) -> None:
    """An output that only some runs fill (the guidance mask: most interventions have none;
    the loop's runs: only when LINA checked the run) shows only when filled: an empty
    placeholder would take a fifth of the row."""
    component.change(lambda v: gr.update(visible=bool(v)), [component], [component],
                     preprocess=False, api_visibility="private", show_progress="hidden",
                     queue=False)


def build(ctx: Ctx) -> None:
    intro = gr.Markdown(INTRO, elem_id="lina-intro")
    i = _inputs()
    talk_view, t = talk.section()
    with gr.Accordion("the run in detail: verdicts, difference, per-step previews, why",
                      open=True, elem_id="lina-details") as details:
        o = _outputs()
        with gr.Accordion("What the words mean", open=False):
            gr.Markdown(talk.GLOSSARY)
    b = _batch_section()
    run_pair = _wire(ctx, i, o, b)
    _hide_empty(o["mask_img"])
    _hide_empty(o["tries"])
    outs = {k: o[k] for k in PAIR_OUTPUTS}
    with i["presets"]:
        ex, presets, requests = _presets(ctx, i, outs, run_pair)
        ctx.parts["lina_presets"] = ex
    talk.wire_outputs(outs, t)
    _wire_start(ctx, i, outs, ex, presets, requests, run_pair)
    # what the talk view switch (app.build) hides, shows and folds on this tab
    ctx.parts["talk"] = {"hide": [intro, i["advanced"], b["accordion"]], "show": [talk_view],
                         "fold": [details],
                         "titles": talk.preset_titles_js("lina-presets", [
                             p[0] for p in presets])}
