"""Probe tab: run one of the PAP-style diagnostic probes on a few prompts per category, with a
progress bar; show its Plotly figure (accuracy with 95% Wilson intervals) and its rows.

Beside the live run, the measured figures of the three insights on the shipped model, loaded
from ``docs/probes/`` (each made by the command its caption names), never computed at page load,
so a speaker can show the real curve, then poke at it with a small live run of their own prompts:
insight 1 by hop depth (``docs/probes/multihop``, ``docs/probes/multihop_floating``), insight 2
(``docs/probes/separation``), 3(a) the settling curve (``docs/probes/settling``, n = 200 runs
per category), 3(b) the switch probe (``docs/probes/switch``, 200 scenes per category) and 3(c)
attention settling (``docs/probes/attention_settling``)."""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Callable

import gradio as gr
import numpy as np
import pandas as pd

from lina_core.limits import MAX_SEED, MAX_STEPS, MIN_STEPS
from lina_core.insights.probes import PROBES

from . import state
from .context import MODEL_QUEUE, Ctx
from .widgets import (PROBE_BUDGET, UI_MAX_KS, UI_MAX_PROBE_N, UI_MAX_PROBE_SEEDS, FieldDropdown,
                      FieldSlider, check_budget, error, guard, number, on_status,
                      parse_int_list, run_status, steps_slider, stop_button, stops, table)

SPLITS = ("train", "test-id", "test-ood")
DESCRIPTIONS = {
    "multihop": "physics accuracy with implicit vs explicit captions, by category and hop depth",
    "disentangle": "swap a texture word or a physics word at the embedding level; which "
                   "verifier answers follow the swap (plus linear probes on token embeddings)",
    "timing": "switch the conditioning c -> c+ (and back) at step k: when is structure fixed?",
    "inpaint": "regenerate the implicit effect's region from step k with c+",
}
#: the probes that run once per switch step k
KS_PROBES = ("timing", "inpaint")
#: where the measured figures are (``insights.figures.MEASURED`` names each one's folder)
PROBES_DIR = Path(__file__).resolve().parents[1] / "docs" / "probes"


def figure(key: str, folder: Path | None = None) -> tuple[np.ndarray | None, str]:
    """A measured figure (``insights.figures.MEASURED[key]``: ``<stem>.png``, from ``folder``
    or its shipped one) and its caption from its JSON; without both files (or with a JSON not
    of its command), no image and a caption naming the command that makes it."""
    from PIL import Image
    from lina_core.insights.figures import MEASURED
    sub, stem, command = MEASURED[key]
    folder = PROBES_DIR / sub if folder is None else Path(folder)
    caption = CAPTIONS[key][1]
    try:
        res = json.loads((folder / f"{stem}.json").read_text())
        with Image.open(folder / f"{stem}.png") as im:
            img = np.asarray(im.convert("RGB"))
        return img, caption(res)
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        return None, (f"_The measured curve is not here ({folder}/{stem}.png and {stem}.json); "
                      f"make it with `{command}`._")


def _settling_caption(res: dict[str, Any]) -> str:
    from lina_core.insights.settling import at
    pts = {(k, f): at(res, k, f) for k in (4, 8) for f in ("physics", "texture")}
    per = sorted({v["physics"]["agree"][0]["n"] for g, v in res["scopes"]["pooled"].items()
                  if g != "all"})
    n_cat = str(per[0]) if len(per) == 1 else f"{per[0]}-{per[-1]}"
    head = "; ".join(f"k={k}: physics {100 * pts[k, 'physics']['acc']:.0f}%, texture "
                     f"{100 * pts[k, 'texture']['acc']:.0f}%" for k in (4, 8))
    return (f"**Measured (insight 3a):** the verifier's verdict on the step-k preview agrees "
            f"with its verdict on the final image ({head}). {res['n_runs']['pooled']} baseline "
            f"runs of the shipped model over {', '.join(res['pooled_over'])} (n = {n_cat} per "
            f"category); bands are 95% Wilson intervals. Made by `{res['command']}`")


def _half(res: dict[str, Any], factor: str) -> str:
    """When half the switch's effect is gone, or that it never was before the last switch."""
    from lina_core.insights.switching import half_k
    k = half_k(res, factor)
    if k < res["steps"]:
        return f", half the effect gone by k = {k}"
    last = max(x for x in res["ks"] if x < res["steps"])
    return f", more than half the effect left at k = {last}"


def _switch_caption(res: dict[str, Any]) -> str:
    """Command, n, the pooled follow rates at k = 0, 4, 8 and no switch, and the step from
    which less than half the switch's effect is left."""
    g = res["groups"]["all"]
    pts = {f: {p["k"]: p for p in g[f]["follow"]} for f in ("physics", "texture")}
    head = "; ".join(f"{f} (n = {g[f]['n']}): " + ", ".join(
        f"k={k} {100 * pts[f][k]['acc']:.0f}%" for k in (0, 4, 8, res["steps"]))
        + _half(res, f) for f in ("physics", "texture"))
    return (f"**Measured (insight 3b):** the prompt is switched to a counterfactual c' at step "
            f"k; share of final images the verifier passes against c' ({head}; k = "
            f"{res['steps']} is no switch). {res['n_scenes']} scenes of "
            f"{', '.join(res['splits'])}; bands are 95% Wilson intervals. Made by "
            f"`{res['command']}`")


def _attention_caption(res: dict[str, Any]) -> str:
    g = res["groups"]["all"]
    head = ", ".join(f"step {k}: {100 * g['settled'][k]['acc']:.0f}%" for k in (2, 4, 8)
                     if k < res["steps"])
    return (f"**Measured (insight 3c):** share of the prompt's nodes whose attention mask "
            f"already overlaps its last step's (IoU >= {res['settled_at']}): {head}; {g['n']} "
            f"nodes of {res['n_scenes']} baseline runs; bands are 95% intervals. Made by "
            f"`{res['command']}`")


def _side_by_side_caption(res: dict[str, Any]) -> str:
    fixed = "; ".join(f"{name}: " + (f"k = {p['k']}" if p else "not by the last step measured")
                      for name, p in res["fixed_by"].items())
    return (f"**Insight 3 three ways:** the first step at which each share reaches "
            f"{res['fixed_at']} ({fixed}). What the preview shows settles early; what a switched "
            f"prompt or the attention can still change does not. Made by `{res['command']}`")


def _pct(p: dict[str, Any]) -> str:
    return f"{100 * p['acc']:.0f}% [{100 * p['lo']:.0f}, {100 * p['hi']:.0f}]"


def _multihop_caption(res: dict[str, Any]) -> str:
    """Per split and hop: implicit and explicit pass rates with n (images)."""
    def unread(c: dict[str, Any]) -> str:
        k = c.get("undetermined", {}).get("implicit", 0)
        return f", {k} more not readable" if k else ""
    cells = "; ".join(f"{c['split']} hop {c['hop']}: implicit {_pct(c['implicit'])}, explicit "
                      f"{_pct(c['explicit'])} (n = {c['implicit']['n']}{unread(c)})"
                      for c in res["cells"] if c["implicit"]["n"])
    return (f"**Measured (insight 1):** physics passes by hop depth (0: a stated relation, 1: an "
            f"effect of stated facts, 2: refraction of a floating object), implicit vs explicit "
            f"caption, from the same noise: {cells}. {res['n_scenes']} scenes; 95% Wilson "
            f"intervals. Made by `{res['command']}`")


def _separation_caption(res: dict[str, Any]) -> str:
    cells = "; ".join(f"{c['factor']} ({c['what']}) by {c['move']}: follows "
                      f"{_pct(c['follows'])}, keeps the other factor {_pct(c['keeps_other'])}"
                      for c in res["cells"])
    return (f"**Measured (insight 2):** one factor moved in the prompt embedding of "
            f"{res['n_scenes']} shadow scenes ({', '.join(res['splits'])}): {cells}. 95% Wilson "
            f"intervals. Made by `{res['command']}`")


#: each measured figure's label and caption (from its JSON), by its key in
#: ``insights.figures.MEASURED``
CAPTIONS: dict[str, tuple[str, Callable[[dict[str, Any]], str]]] = {
    "multihop": ("insight 1 by hop depth", _multihop_caption),
    "multihop_floating": ("insight 1, the second hop (refraction)", _multihop_caption),
    "separation": ("insight 2 in the embedding", _separation_caption),
    "insight3": ("insight 3 three ways", _side_by_side_caption),
    "settling": ("3(a) settling curve", _settling_caption),
    "switch": ("3(b) switch probe", _switch_caption),
    "attention_settling": ("3(c) attention settling", _attention_caption),
}


def _measured(ctx: Ctx) -> None:
    """The measured figures, in ``insights.figures.MEASURED``'s order (insight 1, insight 2,
    insight 3 side by side, then 3(a)-(c)), each hidden (its caption says why) when absent."""
    from lina_core.insights.figures import MEASURED
    for key in MEASURED:
        label = CAPTIONS[key][0]
        img, caption = figure(key)
        ctx.parts[f"probe_{key}"] = gr.Image(
            img, label=f"measured: {label} (shipped model)", interactive=False,
            visible=img is not None, elem_id=f"probe-{key.replace('_', '-')}")
        gr.Markdown(caption, elem_id=f"probe-{key.replace('_', '-')}-caption")


def _reporter(progress: Any) -> Callable[[float, str], None]:
    """The library's ``progress(fraction, message)`` as gradio's progress bar (clamped)."""
    def report(frac: float, msg: str) -> None:
        progress(min(max(float(frac), 0.0), 1.0), desc=msg)
    return report


def run_probe(name: Any, split: Any, n: Any, seeds: Any, ks: Any, steps: Any, model_key: str,
              progress=gr.Progress()) -> tuple:
    if name not in PROBES:
        raise error(f"probe: {name!r} is not one of {list(PROBES)}")
    if split not in SPLITS:
        raise error(f"split: {split!r} is not one of {list(SPLITS)}")
    n = number("prompts per category", n, 1, UI_MAX_PROBE_N, integer=True)
    steps = number("steps", steps, MIN_STEPS, MAX_STEPS, integer=True)
    seed_list = parse_int_list("seeds", seeds, 0, MAX_SEED, UI_MAX_PROBE_SEEDS)
    k_list = parse_int_list("ks", ks, 0, steps, UI_MAX_KS)
    work = {"prompts per category": n, "seeds": len(seed_list), "steps": steps}
    if name in KS_PROBES:
        work["ks"] = len(k_list)
    check_budget("probe work", work, PROBE_BUDGET, "PROBE_BUDGET")
    progress(0.0, desc=f"{name}: starting")
    t0 = time.perf_counter()
    res = state.probe(model_key or state.handle().default_key, name, split, n, seed_list,
                      k_list, steps, _reporter(progress))
    wall = time.perf_counter() - t0
    headers, values = table(res.rows)
    meta = {k: v for k, v in res.meta.items() if k != "raw"}
    md = (f"**{name}** on {split}: {n} prompt(s) per category, seeds {seed_list}"
          + (f", ks {k_list}" if name in KS_PROBES else "")
          + f", {steps} steps; {len(res.rows)} rows in {wall:.1f} s. "
          + "Error bars are 95% Wilson intervals.")
    if "linear_probe" in meta:
        lp = meta["linear_probe"]
        md += "\n\n**Linear probes** (held-out accuracy): " + "; ".join(
            f"{k}: {v['acc']:.2f} (chance {v['chance']:.2f})" for k, v in lp.items())
    return res.figure(), pd.DataFrame(values, columns=headers), md


#: the prompt the "your prompt" run starts with (a ToyWorld scene the verifier judges)
YOUR_PROMPT = "a small red cube on the floor, lit from the left"


def run_prompt_settling(prompt: Any, seeds: Any, steps: Any, model_key: str,
                        progress=gr.Progress()) -> tuple:
    """The settling curve of the user's own prompt: one baseline per seed, every preview
    judged; the measured curve (3a) stays beside it for comparison."""
    from lina_core.limits import check_text
    from lina_core.insights.settling import prompt_figure
    prompt = check_text("your prompt", prompt).strip()
    if not prompt:
        raise error("your prompt: empty; type a ToyWorld scene, e.g. " + repr(YOUR_PROMPT))
    steps = number("steps", steps, MIN_STEPS, MAX_STEPS, integer=True)
    seed_list = parse_int_list("seeds", seeds, 0, MAX_SEED, UI_MAX_PROBE_SEEDS)
    check_budget("settling work", {"seeds": len(seed_list), "steps": steps}, PROBE_BUDGET,
                 "PROBE_BUDGET")
    progress(0.0, desc="your prompt: starting")
    res = state.prompt_settling(model_key or state.handle().default_key, prompt, seed_list,
                                steps, _reporter(progress))
    first = {f: next((p["k"] for p in res["curves"][f][:-1]
                      if all(q["acc"] == 1.0 for q in res["curves"][f][p["k"]:-1])), None)
             for f in ("physics", "texture")}
    def since(f: str) -> str:
        return f"from step {first[f]} on" if first[f] is not None else "only at the end"
    md = (f"**Your prompt** ({len(seed_list)} seed(s), {steps} steps): the preview's verdict "
          f"matches the final one {since('physics')} for physics and {since('texture')} for "
          f"texture; final images pass physics "
          f"{100 * res['final_ok']['physics']['acc']:.0f}% and texture "
          f"{100 * res['final_ok']['texture']['acc']:.0f}%. With {len(seed_list)} seed(s) the "
          f"intervals are wide: compare with the measured curve (n = 200 per category).")
    return prompt_figure(res), md


#: the rows table before a run (an empty table would show gradio's default headers "1 2 3")
EMPTY_ROWS = pd.DataFrame(columns=["the probe's rows appear here after a run"])


def build(ctx: Ctx) -> None:
    gr.Markdown("PAP-style probes on ToyWorld prompts. Keep runs small here (a few prompts per "
                "category): prompts per category x seeds x ks (timing, inpaint) x steps is at "
                f"most {PROBE_BUDGET} (PROBE_BUDGET); the CLI (`python -m lina_core probe`) runs "
                "the full versions.")
    with gr.Row():
        name = FieldDropdown(list(PROBES), value="timing", label="probe", field="probe")
        split = FieldDropdown(list(SPLITS), value="test-ood", label="split", field="split")
        n = FieldSlider(1, UI_MAX_PROBE_N, value=1, step=1, label="prompts per category",
                        field="prompts per category")
    desc = gr.Markdown(f"_{DESCRIPTIONS['timing']}_")
    with gr.Row():
        seeds = gr.Textbox("0", label=f"seeds (comma-separated, at most {UI_MAX_PROBE_SEEDS})",
                           elem_id="probe-seeds")
        ks = gr.Textbox("0, 5, 10, 15", label="ks: switch steps (timing, inpaint)")
        steps = steps_slider(15)
    with gr.Row():
        run = gr.Button("Run probe", variant="primary", elem_id="probe-run")
        stop = stop_button("probe-stop")
    status = run_status("probe-status")
    md = gr.Markdown(elem_id="probe-md")
    with gr.Row():
        with gr.Column():
            _measured(ctx)
        with gr.Column():
            plot = gr.Plot(label="live probe (small n)")
            # beside the measured curves: the settling curve (3a) of the user's own prompt
            gr.Markdown("**Your prompt's settling curve** (insight 3a, live): a baseline per "
                        "seed, each step's preview judged against the final image's verdict; "
                        "compare it with the measured curve on the left.")
            with gr.Row():
                mine = gr.Textbox(YOUR_PROMPT, label="your prompt (a ToyWorld scene)",
                                  elem_id="probe-my-prompt", scale=3)
                my_seeds = gr.Textbox("0, 1", label=f"seeds (at most {UI_MAX_PROBE_SEEDS})",
                                      elem_id="probe-my-seeds", scale=1)
            my_run = gr.Button("Run my settling curve", elem_id="probe-my-run")
            my_status = run_status("probe-my-status")
            my_md = gr.Markdown(elem_id="probe-my-md")
            my_plot = gr.Plot(label="your prompt (small n)")
    rows = gr.Dataframe(EMPTY_ROWS, label="rows", interactive=False, wrap=True,
                        elem_id="probe-rows")
    name.change(lambda v: f"_{DESCRIPTIONS.get(v, '')}_", [name], [desc],
                api_visibility="private", show_progress="hidden")
    ev = run.click(guard(run_probe), [name, split, n, seeds, ks, steps, ctx.model_key],
                   [plot, rows, md], api_name="probe", show_progress_on=[status], **MODEL_QUEUE)
    # a refused or failed probe empties the last one's plot, rows and summary (one screen)
    ev2 = my_run.click(guard(run_prompt_settling), [mine, my_seeds, steps, ctx.model_key],
                       [my_plot, my_md], api_name="prompt_settling", show_progress_on=[my_status],
                       **MODEL_QUEUE)
    # the stop button stops either run (a refused or failed one empties its outputs)
    stops(stop, on_status(ev, status, clear={plot: None, rows: EMPTY_ROWS, md: ""}),
          on_status(ev2, my_status, clear={my_plot: None, my_md: ""}))
