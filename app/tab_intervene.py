"""Intervene tab: build an intervention spec from controls (or paste one), run it against its
baseline with the same seed (the baseline trajectory is cached and reused), and compare: image
slider, difference heat map, per-step previews with a scrubber, the schedule plot, verdicts."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import gradio as gr
import numpy as np
import pandas as pd

from lina_core import csg
from lina_core.edit_types import EDIT_KINDS
from lina_core.interventions import EDIT_TYPES, InterventionSpec
from lina_core.limits import (MAX_GUIDANCE, MAX_PROMPT_CHARS, MAX_SEED, MAX_STEPS, MAX_STRENGTH,
                              MIN_STEPS, check_text)
from lina_core.schedules import DEFAULT_RHO, STRUCTURE_SPLIT, Schedule, uniform_share
from lina_core.schedules import figure as schedule_figure

from . import state
from .context import MODEL_QUEUE, Ctx
from .presets import (INTERVENE_CHANGE, INTERVENE_EDIT, INTERVENE_PROMPT, INTERVENE_WINDOW,
                      PRESETS)
from .verdicts import verdict
from .widgets import (DEFAULT_STEPS, DISPLAY, VERDICT_HEADERS, VERDICT_WIDTHS, FieldDropdown,
                      FieldNumber, FieldRadio, FieldSlider, diff_heatmap, error, guard, keyed,
                      number, on_status, run_status, side_by_side, steps_slider, stop_button,
                      stops, ui_json, upscale, verdict_rows, verdict_summary)

NO_EDIT = "none"
NO_MASK = "(none: whole image)"
#: the comparison slider's label: which side is which
SLIDER_LABEL = "left: baseline (no intervention) | right: intervened - drag the handle"


def _graph_for(prompt: str, scene: dict[str, Any] | None) -> dict[str, Any] | None:
    """The scene tab's graph when the prompt is the scene's, else the prompt's own parse (a
    ToyWorld or an open-world graph: whatever ``csg.from_prompt`` makes of it); None when the
    parser refuses the prompt."""
    if scene and prompt.strip() == scene.get("prompt"):
        return scene["graph"]
    try:
        return csg.from_prompt(prompt).graph.to_dict()
    except csg.GraphError:
        return None


def completion(prompt: Any, scene: dict[str, Any] | None) -> str:
    if not isinstance(prompt, str) or not prompt.strip():
        raise error("prompt: required")
    csg.check_prompt(prompt)        # its length, before the parser reads a word of it
    g = _graph_for(prompt, scene)
    if g is None:
        raise error(f"prompt: {_why_no_graph(prompt)}; so it has no causal completion c+: type "
                    "a target prompt yourself")
    return csg.to_prompt(csg.CausalSceneGraph.from_dict(g), explicit=True)


def _why_no_graph(prompt: str) -> str:
    """The parser's own reason a prompt has no scene graph."""
    try:
        csg.from_prompt(prompt)
    except csg.GraphError as exc:
        return str(exc).removeprefix("prompt: ")
    return "no scene graph"


def mask_choices(prompt: Any, scene: dict[str, Any] | None):
    """The mask node dropdown: the nodes that have a box (an open-world scene has none: its
    guidance covers the whole image)."""
    g = _graph_for(prompt, scene) if isinstance(prompt, str) and prompt.strip() else None
    nodes = [n["id"] for n in g["nodes"] if n.get("box")] if g else []
    return gr.update(choices=[NO_MASK] + nodes, value=NO_MASK)


#: what the default controls do, as measured (:data:`app.presets.INTERVENE_CHANGE`)
DEFAULT_NOTE = (f"Default: a structure donor (the same scene with familiar materials) for steps "
                f"[{INTERVENE_WINDOW[0]}, {INTERVENE_WINDOW[1]}) on a dev-ood balance scene; it "
                f"changes the picture by {INTERVENE_CHANGE}.")


@dataclass
class Controls:
    """The Intervene tab's controls, by the names the ``/intervene`` API gives them (values as
    the UI or the API sent them: checked by :func:`build_spec`)."""
    prompt: Any = INTERVENE_PROMPT
    seed: Any = 0
    steps: Any = DEFAULT_STEPS
    guidance: Any = 3.0
    edit_type: Any = INTERVENE_EDIT
    target: Any = ""
    words: Any = ""
    d_from: Any = ""
    d_to: Any = ""
    strength: Any = 1.0
    start: Any = INTERVENE_WINDOW[0]
    end: Any = INTERVENE_WINDOW[1]
    lg_weight: Any = 0.0
    mask_node: Any = NO_MASK
    schedule: Any = "uniform"
    rho: Any = DEFAULT_RHO


def _numbers(c: Controls) -> dict[str, Any]:
    """The controls' numbers, each checked against its range, the window against the steps."""
    n = {"seed": number("seed", c.seed, 0, MAX_SEED, integer=True),
         "steps": number("steps", c.steps, MIN_STEPS, MAX_STEPS, integer=True),
         "guidance": number("guidance_scale", c.guidance, 0.0, MAX_GUIDANCE),
         "strength": number("strength", c.strength, -MAX_STRENGTH, MAX_STRENGTH),
         "lg_weight": number("latent guidance weight", c.lg_weight, -MAX_STRENGTH,
                             MAX_STRENGTH),
         "rho": number("rho", c.rho, 0.0, 1.0),
         "start": number("window start", c.start, 0, MAX_STEPS - 1, integer=True),
         "end": number("window end", c.end, 1, MAX_STEPS, integer=True)}
    if n["end"] <= n["start"]:
        raise error(f"window end: {n['end']} must be greater than window start ({n['start']})")
    if n["end"] > n["steps"]:
        raise error(f"window end: {n['end']} is beyond the last step; allowed up to steps "
                    f"({n['steps']})")
    return n


def _edit(c: Controls, n: dict[str, Any], target: str) -> dict[str, Any]:
    """The one prompt edit the controls describe (``swap_tokens`` words are src:dst pairs)."""
    word_list, pairs = [], []
    for w in c.words.split(",") if isinstance(c.words, str) else []:
        w = w.strip()
        if not w:
            continue
        if c.edit_type == "swap_tokens":
            if ":" not in w:
                raise error(f"words: {w!r}: swap_tokens needs source:target pairs, "
                            f"e.g. left:right")
            a, b = (s.strip() for s in w.split(":", 1))
            pairs.append([a, b])
        else:
            word_list.append(w)
    return {"type": c.edit_type, "start": n["start"], "end": n["end"],
            "strength": n["strength"], "target_prompt": target,
            "direction_from": (c.d_from or "").strip(), "direction_to": (c.d_to or "").strip(),
            "words": word_list, "pairs": pairs}


def _guidance(c: Controls, n: dict[str, Any], target: str, graph: dict[str, Any] | None
              ) -> dict[str, Any] | None:
    """The controls' latent guidance (None when its weight is 0)."""
    if n["lg_weight"] == 0:
        return None
    if not target:
        raise error("target prompt: latent guidance needs a target prompt (press 'fill c+')")
    node = "" if c.mask_node in (None, "", NO_MASK) else str(c.mask_node)
    nodes = {x["id"]: x for x in (graph or {}).get("nodes", [])}
    if node and node not in nodes:
        raise error(f"mask node: {node!r} is not a node of this prompt's scene graph")
    # an open-world node has no layout box: mask where the model attends to its words
    where = {"mask_from": "attention"} if node and nodes[node].get("box") is None else {}
    return {"target_prompt": target, "weight": n["lg_weight"], "start": n["start"],
            "end": n["end"], "mask_node": node, **where}


#: the Intervene tab's text controls, by the field names their refusals give
TEXT_FIELDS = {"prompt": "prompt", "target": "target prompt", "words": "words",
               "d_from": "direction from", "d_to": "direction to"}


def _check_texts(c: Controls) -> None:
    """Every text control at most MAX_PROMPT_CHARS characters, before any parsing."""
    for name, field in TEXT_FIELDS.items():
        value = getattr(c, name)
        if value not in (None, ""):
            check_text(field, value, MAX_PROMPT_CHARS, error=csg.GraphError)


def build_spec(c: Controls, scene: dict[str, Any] | None = None) -> dict[str, Any]:
    """Controls -> a validated spec dict; every error names its field."""
    if not isinstance(c.prompt, str) or not c.prompt.strip():
        raise error("prompt: required, a non-empty string")
    _check_texts(c)
    prompt = c.prompt.strip()
    n = _numbers(c)
    if c.edit_type not in (NO_EDIT,) + EDIT_TYPES:
        raise error(f"edit type: {c.edit_type!r} is not one of {[NO_EDIT, *EDIT_TYPES]}")
    if c.schedule not in ("uniform", "reallocated"):
        raise error(f"schedule: {c.schedule!r} is not one of ['uniform', 'reallocated']")
    target = c.target.strip() if isinstance(c.target, str) else ""
    graph = _graph_for(prompt, scene)
    d = {"prompt": prompt, "steps": n["steps"], "guidance_scale": n["guidance"],
         "seed": n["seed"], "edits": [] if c.edit_type == NO_EDIT else [_edit(c, n, target)],
         "latent_guidance": _guidance(c, n, target, graph),
         "schedule": {"kind": c.schedule, "rho": n["rho"], "split": STRUCTURE_SPLIT},
         "graph": graph}
    return InterventionSpec.from_dict(d).to_dict()


def controls_of(text: Any) -> Controls:
    """A pasted spec JSON -> the controls that show it (its first edit; warns about the rest)."""
    if not isinstance(text, str) or not text.strip():
        raise error("spec JSON: empty")
    s = InterventionSpec.from_json(text)
    if len(s.edits) > 1 or s.inpaint is not None:
        gr.Warning("spec JSON: the controls show the first edit only (and no inpainting); "
                   "use 'Run pasted spec' to run all of it")
    e = s.edits[0] if s.edits else None
    lg = s.latent_guidance
    win = (e.start, e.end) if e else ((lg.start, lg.end) if lg else (0, 10))
    words = (", ".join(e.words) or ", ".join(":".join(p) for p in e.pairs)) if e else ""
    return Controls(
        prompt=s.prompt, seed=s.seed, steps=s.steps, guidance=s.guidance_scale,
        edit_type=e.type if e else NO_EDIT,
        target=e.target_prompt if e else (lg.target_prompt if lg else ""), words=words,
        d_from=e.direction_from if e else "", d_to=e.direction_to if e else "",
        strength=e.strength if e else 1.0, start=win[0], end=win[1],
        lg_weight=lg.weight if lg else 0.0,
        mask_node=(lg.mask_node or NO_MASK) if lg else NO_MASK, schedule=s.schedule.kind,
        rho=s.schedule.rho)


def _schedule_plot(out: dict[str, Any]):
    scheds = {name: Schedule.from_dict(s) for name, s in out["schedules"].items()}
    return schedule_figure(scheds, out["num_train_timesteps"])


def _run(spec: dict[str, Any], model_key: str, store, progress) -> dict[str, Any]:
    """Run ``spec`` against its baseline, judge, save; the outputs by name (see :func:`build`)."""
    progress(0.05, desc="baseline (cached when possible) and intervened run")
    key = model_key or state.handle().default_key
    out = state.intervene(key, spec)
    progress(0.85, desc="verifying and saving")
    graph = spec.get("graph")
    vb, vi = verdict(out["baseline"], graph, key), verdict(out["intervened"], graph, key)
    heat, heat_text = diff_heatmap(out["baseline"], out["intervened"])
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
    win = window_of(out["spec"])
    previews = {"baseline": out["baseline_previews"], "intervened": out["previews"],
                "window": list(win) if win else None}
    last = max(len(out["previews"]) - 1, 0)
    return {"slider": (upscale(out["baseline"]), upscale(out["intervened"])), "heat": heat,
            "gallery": [(upscale(p, 128), step_caption(i, win))
                        for i, p in enumerate(out["previews"])],
            "step": gr.update(maximum=max(last, 1), value=last), "step_img": scrub(last, previews),
            "previews": previews, "sched_plot": _schedule_plot(out),
            "spec_out": ui_json(out["spec"]),
            "vb": pd.DataFrame(verdict_rows(vb, graph), columns=VERDICT_HEADERS),
            "vi": pd.DataFrame(verdict_rows(vi, graph), columns=VERDICT_HEADERS), "md": md,
            "attn": _attention_image(out.get("attention"))}


def _attention_image(att: dict[str, Any] | None) -> np.ndarray | None:
    """The baseline/intervened attention strips, 2x up (None: not recorded for this model)."""
    return None if not att else upscale(att["image"], 2 * max(att["image"].shape[:2]))


def window_of(spec: dict[str, Any]) -> tuple[int, int] | None:
    """The steps ``[start, end)`` the spec intervenes in (its edits' and latent guidance's
    windows together; inpainting from its start step on); None for a schedule alone or none."""
    wins = [(e["start"], e["end"]) for e in spec.get("edits") or []]
    lg = spec.get("latent_guidance")
    if lg:
        wins.append((lg["start"], lg["end"]))
    inp = spec.get("inpaint")
    if inp:
        wins.append((inp["start"], spec.get("steps", inp["start"] + 1)))
    if not wins:
        return None
    return int(min(w[0] for w in wins)), int(max(w[1] for w in wins))


def step_caption(i: int, window: Sequence[int] | None) -> str:
    """A per-step picture's caption: its step, with ``*`` inside the intervention window."""
    inside = window is not None and window[0] <= i < window[1]
    return f"step {i}{' *' if inside else ''}"


def _titled(img: np.ndarray, title: str, band: int = 16) -> np.ndarray:
    """``img`` under a white band with ``title`` written in it."""
    from PIL import Image, ImageDraw
    top = Image.new("RGB", (img.shape[1], band), "white")
    ImageDraw.Draw(top).text((4, 2), title, fill="black")
    return np.concatenate([np.asarray(top), img], axis=0)


def scrub(i: Any, previews: dict[str, Any] | None):
    """Baseline | intervened predicted clean image at step ``i``, under a line naming the step
    and whether it is inside the intervention window."""
    if not previews or not previews.get("intervened"):
        return None
    pv, bpv = previews["intervened"], previews.get("baseline") or []
    try:
        i = int(i)
    except (TypeError, ValueError):
        i = len(pv) - 1
    i = min(max(i, 0), len(pv) - 1)
    img = side_by_side(bpv[i], pv[i]) if i < len(bpv) else upscale(pv[i])
    win = previews.get("window")
    where = ("no window (schedule only)" if not win else
             f"{'inside' if win[0] <= i < win[1] else 'outside'} the intervention window "
             f"[{win[0]}, {win[1]})")
    head = f"step {i}: {where}" + ("; left baseline, right intervened" if i < len(bpv) else "")
    return _titled(img, head)


def _controls() -> dict[str, Any]:
    """The controls, keyed by :class:`Controls`' field names (the ``/intervene`` API's)."""
    c: dict[str, Any] = {}
    with gr.Row():
        c["seed"] = FieldNumber(0, label="seed", precision=0, minimum=0, maximum=MAX_SEED,
                                field="seed")
        c["steps"] = steps_slider()
        c["guidance"] = FieldSlider(0, MAX_GUIDANCE, value=3.0, step=0.5,
                                    label="guidance scale", field="guidance_scale")
    with gr.Row():
        # each kind says what it does (lina_core.edit_types: its summary)
        c["edit_type"] = FieldDropdown(
            [NO_EDIT] + [(f"{k}: {EDIT_KINDS[k].summary}", k) for k in EDIT_TYPES],
            value=INTERVENE_EDIT, label="edit type", field="edit type")
        c["strength"] = FieldSlider(-MAX_STRENGTH, MAX_STRENGTH, value=1.0, step=0.05,
                                    label="strength", field="strength")
    with gr.Row():
        c["target"] = gr.Textbox(completion(INTERVENE_PROMPT, None), label="target prompt (c+ "
                                 "for interpolate / replace / latent guidance)", scale=4,
                                 elem_id="iv-target")
        c["fill"] = gr.Button("fill c+", scale=1, elem_id="iv-fill")
    c["fill_status"] = gr.Markdown("", elem_id="iv-fill-status")
    with gr.Accordion("words and directions (scale_tokens, swap_tokens, add_direction)",
                      open=False):
        c["words"] = gr.Textbox("", label="words (scale_tokens: a, b; swap_tokens: src:dst, "
                                "...)")
        with gr.Row():
            c["d_from"] = gr.Textbox("", label="direction from (add_direction)")
            c["d_to"] = gr.Textbox("", label="direction to (add_direction)")
    with gr.Row():
        c["start"] = FieldSlider(0, MAX_STEPS - 1, value=INTERVENE_WINDOW[0], step=1, label="window start",
                                 field="window start")
        c["end"] = FieldSlider(1, MAX_STEPS, value=INTERVENE_WINDOW[1], step=1,
                               label="window end (exclusive)",
                               field="window end")
    _guidance_controls(c)
    return c


def _guidance_controls(c: dict[str, Any]) -> None:
    """Latent guidance and the schedule, into ``c``."""
    with gr.Row():
        c["lg_weight"] = FieldSlider(-MAX_STRENGTH, MAX_STRENGTH, value=0.0, step=0.05,
                                     label="latent guidance weight (0 = off)",
                                     field="latent guidance weight")
        g0 = _graph_for(INTERVENE_PROMPT, None)
        # typed values allowed: the choices follow the prompt, checked against its graph
        c["mask_node"] = FieldDropdown([NO_MASK] + [n["id"] for n in g0["nodes"]],
                                       value=NO_MASK, label="latent guidance mask node",
                                       allow_custom_value=True, field="mask node")
    with gr.Row():
        c["schedule"] = FieldRadio(["uniform", "reallocated"], value="uniform", label="schedule",
                                   field="schedule")
        c["rho"] = FieldSlider(0, 1, value=DEFAULT_RHO, step=0.05, label="rho (share of steps "
                               f"in the high-noise phase; {uniform_share():g} redraws the "
                               "uniform schedule)", field="rho")


def _outputs() -> dict[str, Any]:
    """The comparison's outputs, by the names :func:`_run` answers with."""
    o: dict[str, Any] = {"md": gr.Markdown()}
    with gr.Row():
        # no fixed height: with one, ImageSlider 6.31 misaligns its two images
        o["slider"] = gr.ImageSlider(label=SLIDER_LABEL, format="png",
                                     max_height=DISPLAY + 64, elem_id="iv-slider")
        o["heat"] = gr.Image(label="difference heat map, |baseline - intervened| (colour bar: 0 "
                             "to the largest difference, in grey levels 0-255)", format="png",
                             height=DISPLAY,
                             interactive=False, elem_id="iv-heat")
    with gr.Row():
        with gr.Column(scale=3):
            o["gallery"] = gr.Gallery(label="per-step predicted clean image (intervened; "
                                      "captions: step number, * inside the intervention "
                                      "window)",
                                      columns=10, height=220, format="png",
                                      object_fit="contain", fit_columns=False)
        with gr.Column(scale=2):
            o["step"] = gr.Slider(0, 24, value=24, step=1, label="step scrubber (the picture "
                                  "below names the step and marks the intervention window)")
            o["step_img"] = gr.Image(label="left: baseline | right: intervened, at this step",
                                     format="png", interactive=False)
    o["attn"] = gr.Image(label="cross-attention per node, at 6 evenly spaced steps from the "
                               "first to the last: baseline (top), intervened (bottom)",
                         format="png", interactive=False, elem_id="iv-attn")
    o["sched_plot"] = gr.Plot(label="schedule: requested vs used")
    with gr.Row():
        o["vb"] = gr.Dataframe(headers=VERDICT_HEADERS, label="verifier: baseline", wrap=True,
                               interactive=False, column_widths=VERDICT_WIDTHS)
        o["vi"] = gr.Dataframe(headers=VERDICT_HEADERS, label="verifier: intervened",
                               wrap=True, interactive=False, column_widths=VERDICT_WIDTHS)
    return o


def _spec_io(o: dict[str, Any]) -> dict[str, Any]:
    """The spec that ran (into ``o``) and the pasted-spec box with its two buttons."""
    with gr.Row():
        o["spec_out"] = gr.Code(language="json", label="spec that ran (copy it)", lines=10,
                                max_lines=24, interactive=False, buttons=["copy", "download"])
        with gr.Column():
            spec_in = gr.Code(language="json", label="paste a spec JSON", lines=10,
                              max_lines=24, interactive=True, elem_id="iv-spec-in")
            with gr.Row():
                run_json = gr.Button("Run pasted spec", elem_id="iv-run-json")
                load_json = gr.Button("Load into controls")
    o["previews"] = gr.State({})
    return {"spec_in": spec_in, "run_json": run_json, "load_json": load_json}


#: the order of the ``/intervene`` outputs (the API answers them in this order)
OUTPUTS = ("slider", "heat", "gallery", "step", "step_img", "previews", "sched_plot",
           "spec_out", "vb", "vi", "attn", "md")


def blank() -> dict[str, Any]:
    """The comparison's outputs, empty (the scrubber left as it is): what a refused run and a
    new preset leave, so no picture of an earlier run stays under other inputs."""
    empty = pd.DataFrame(columns=VERDICT_HEADERS)
    return {"slider": None, "heat": None, "gallery": [], "step_img": None, "previews": {},
            "sched_plot": None, "spec_out": "", "vb": empty, "vi": empty, "md": "",
            "attn": None}


def _wire_runs(ctx: Ctx, c: dict[str, Any], o: dict[str, Any], io: dict[str, Any]) -> None:
    """Run the controls or a pasted spec; load a pasted spec into the controls; scrub."""
    store = ctx.store
    outs = {k: o[k] for k in OUTPUTS}
    fields = {k: c[k] for k in Controls.__dataclass_fields__}

    def run_controls(scene, model_key, progress=gr.Progress(), **controls):
        return _run(build_spec(Controls(**controls), scene), model_key, store, progress)

    def run_pasted(text, model_key, progress=gr.Progress()):
        if not isinstance(text, str) or not text.strip():
            raise error("spec JSON: empty; paste a spec (e.g. from 'spec that ran')")
        return _run(InterventionSpec.from_json(text).to_dict(), model_key, store, progress)

    def load_controls(text):
        return vars(controls_of(text))

    shown = dict(show_progress_on=[c["status"]])
    clear = {o[k]: v for k, v in blank().items()}
    ev_run = on_status(c["run"].click(guard(keyed(run_controls, outs)), None, list(outs.values()),
                                      inputs_kwargs={**fields, "scene": ctx.scene,
                                                     "model_key": ctx.model_key},
                                      api_name="intervene", **shown, **MODEL_QUEUE), c["status"],
                       clear)
    ev_json = on_status(io["run_json"].click(guard(keyed(run_pasted, outs)),
                                             [io["spec_in"], ctx.model_key], list(outs.values()),
                                             api_name="intervene_json", **shown, **MODEL_QUEUE),
                        c["status"], clear)
    stops(c["stop"], ev_run, ev_json)
    on_status(io["load_json"].click(guard(keyed(load_controls, fields)), [io["spec_in"]],
                                    list(fields.values()), api_name="load_spec", **shown),
              c["status"])
    o["step"].change(scrub, [o["step"], o["previews"]], [o["step_img"]],
                     api_visibility="private", show_progress="hidden",
                     trigger_mode="always_last")


def _wire_prompt(ctx: Ctx, c: dict[str, Any], o: dict[str, Any], presets_box: gr.Column
                 ) -> None:
    """The prompt's completion c+, its mask nodes, the Scene prompt and the talk presets (a
    preset also empties the comparison, which was of another prompt)."""
    prompt, target, mask = c["prompt"], c["target"], c["mask_node"]
    quiet = dict(show_progress_on=[c["fill_status"]])
    c["fill"].click(guard(completion), [prompt, ctx.scene], [target], api_name="completion",
                    **quiet)
    prompt.blur(guard(mask_choices), [prompt, ctx.scene], [mask], api_visibility="private",
                show_progress="hidden")

    def use_scene(scene):
        p = (scene or {}).get("prompt", INTERVENE_PROMPT)
        return p, completion(p, scene), mask_choices(p, scene)
    c["from_scene"].click(guard(use_scene), [ctx.scene], [prompt, target, mask],
                          api_visibility="private", **quiet)

    def use_prompt(p):
        return completion(p, None), mask_choices(p, None)
    with presets_box:
        ex = gr.Examples([[p[1]] for p in PRESETS], inputs=[prompt], cache_examples=False,
                         label="talk presets", example_labels=[p[0] for p in PRESETS],
                         elem_id="iv-presets")
    cleared = {o[k]: v for k, v in blank().items()}
    ex.load_input_event.then(guard(use_prompt), [prompt], [target, mask],
                             api_visibility="private", **quiet).success(
        lambda: cleared, None, list(cleared), api_visibility="private", show_progress="hidden")


def build(ctx: Ctx) -> None:
    gr.Markdown("Change the prompt embedding or the latents in a window of denoising steps, "
                "or reallocate the schedule; the baseline (same seed, no intervention, uniform "
                "schedule) is cached, and the intervened run starts from its latents at the "
                "first changed step. " + DEFAULT_NOTE)
    with gr.Row():
        prompt = gr.Textbox(INTERVENE_PROMPT, label="prompt", scale=4, elem_id="iv-prompt")
        from_scene = gr.Button("use Scene prompt", scale=1)
    presets_box = gr.Column()      # filled below, once the outputs exist
    c = {"prompt": prompt, "from_scene": from_scene, **_controls()}
    with gr.Row():
        c["run"] = gr.Button("Run baseline and intervened", variant="primary", elem_id="iv-run")
        c["stop"] = stop_button("iv-stop")
    c["status"] = run_status("iv-status")
    o = _outputs()
    io = _spec_io(o)
    _wire_runs(ctx, c, o, io)
    _wire_prompt(ctx, c, o, presets_box)
    ctx.parts["iv_spec_in"] = io["spec_in"]
