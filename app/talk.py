"""The talk view and the first screen: what a speaker and a first-time visitor see.

* :func:`section`: the LINA comparison large and centred (ground truth, baseline, LINA at 512 px
  or more each on a 1920 px screen, a drag slider between baseline and LINA, the verdicts one
  line each, the reason in one sentence, the loop's tries); filled from the LINA tab's own
  outputs (:func:`from_pair`), so every run, preset, refusal or prediction that changes them
  changes it too.
* :func:`wire_switch`: one switch, and the URL parameter ``?talk=1`` (a bookmark), that turn the
  talk view on: the header, the tab's intro and its less-used inputs hidden, the details folded,
  the page as wide as the screen.
* :func:`short_name`: presets named in a few words; their measured rates stay in a hover title
  and an info line (:func:`preset_info`, :func:`preset_titles_js`).
* :data:`GLOSSARY`: the project's terms in plain words, where they appear.
"""
from __future__ import annotations

import json
import re
from typing import Any

import gradio as gr
import numpy as np
import pandas as pd

from .widgets import upscale

#: the talk view's picture size (px; ToyWorld's 32 px images x 16, nearest neighbour)
TALK_SIZE = 512
#: the URL parameter that opens the talk view (``?talk=1``; ``?talk=0`` closes it)
QUERY = "talk"
ON = {"1", "true", "yes", "on"}

GLOSSARY = """\
| term | what it means here |
|---|---|
| **baseline** | the model's own picture for the prompt, with no help |
| **LINA** | the same run (same seed, same starting noise) with one intervention LINA picks, or none |
| **intervention** | a change made while the picture is drawn: to the text the model reads, to the picture in progress, or to the step schedule |
| **scene graph** | the prompt as objects, surfaces and effects, and how they relate (Scene tab) |
| **implicit effect** | something the prompt does not say but physics implies: a reflection in a mirror, a shadow, a tilted balance |
| **c+ (causal completion)** | the prompt with its implied effects written out ("... and its reflection in the mirror"), read by the model for a window of early steps |
| **structure donor** | a familiar version of the scene (an unusual object or material swapped for one the model knows, the causes of the effect kept), read early so the layout comes out right, then the real prompt |
| **texture donor** | the same idea late in the run: the real prompt first, a donor for the last steps |
| **window** | the denoising steps an intervention acts in, e.g. steps 0-10 of 25 |
| **guidance mask** | the region (from the run's own picture) where latent guidance is applied |
| **reallocated schedule** | more of the steps spent at high noise, where the layout is decided |
| **early check, check step** | a small learned model that looks at the run's preview at one step (6 of 25) and estimates whether the picture will come out right; when it doubts, LINA tries up to two interventions and keeps the best-rated one (the loop's **tries**) |
| **verifier** | a program that reads the finished picture and answers questions (is there a reflection? is the balance tilted the right way?): **physics** and **texture** are right or WRONG |
| **joint success** | physics and texture both right |
| **dev-ood, test-ood** | held-out combinations the model never trained on: dev-ood to choose and fit, test-ood only to report |
| **seed, steps** | the starting noise, and the number of denoising steps |
"""

#: a few words per preset, by the words of its prompt (a preset's prompt may be reworded:
#: "a ice cube" -> "an ice cube"); the first entry whose words are all in the prompt names it
_NAMES: list[tuple[tuple[str, ...], str]] = [
    (("stone", "ice", "balance"), "Balance: stone vs ice"),
    (("cork", "metal", "balance"), "Balance: cork vs metal"),
    (("stone", "ball", "water"), "Buoyancy: stone ball"),
    (("wood", "ball", "water"), "Buoyancy: wood ball"),
    (("purple", "cone", "green", "ball"), "Roles: cone on ball"),
    (("wide", "jar", "soil"), "Fill: wide jar of soil"),
    (("cone", "water", "sand"), "Place: cone by water"),
    (("mirror",), "Mirror: ball on mirror"),
    (("lit",), "Shadow: lit cone"),
    (("larger",), "Scale: cube vs ball"),
]
_STOP = {"a", "an", "the", "and", "of", "on", "in", "to", "than", "with", "more", "top"}


def short_name(label: str, prompt: str) -> str:
    """A preset in a few words ("Balance: stone vs ice"). An unmeasured example keeps its
    label (already short: "mirror (example, not measured)"); a prompt not in the table is named
    by its first content words."""
    if "not measured" in label:
        return label
    words = set(re.findall(r"[a-z]+", prompt.lower()))
    for need, name in _NAMES:
        if set(need) <= words:
            return name
    content = [w for w in re.findall(r"[a-z]+", prompt.lower()) if w not in _STOP]
    return " ".join(content[:4]).capitalize() or label[:30]


def preset_info(presets: list[tuple[str, str, int]]) -> str:
    """The info line under the presets: each short name, its prompt and seed, and what was
    measured (the preset's full label)."""
    lines = [f"- **{short_name(label, prompt)}**: _{prompt}_ (seed {seed}). {label}"
             for label, prompt, seed in presets]
    return "\n".join(lines)


def preset_titles_js(elem_id: str, titles: list[str]) -> str:
    """JavaScript (for ``demo.load(js=...)``) that gives each preset button of ``elem_id`` its
    hover title (the measured rates), now and whenever the buttons are drawn again."""
    return f"""() => {{
  const titles = {json.dumps(titles)};
  const apply = () => document.querySelectorAll('#{elem_id} button.gallery-item').forEach(
      (b, i) => {{ if (titles[i] && b.title !== titles[i]) b.title = titles[i]; }});
  apply();
  new MutationObserver(apply).observe(document.body, {{childList: true, subtree: true}});
}}"""


# --------------------------------------------------------------------------- the talk view

def _frame_rows(table: Any) -> list[list[str]]:
    """A verifier table's rows, from what the Dataframe gives an event (a DataFrame, or the
    frontend's ``{"data": ...}``)."""
    if isinstance(table, pd.DataFrame):
        return [[str(c) for c in r] for r in table.values.tolist()]
    if isinstance(table, dict):
        return [[str(c) for c in r] for r in table.get("data") or []]
    return []


def verdict_line(who: str, table: Any) -> str:
    """One line per run: physics and texture right or WRONG, and the questions it failed."""
    rows = _frame_rows(table)
    if not rows:
        return ""
    top = {r[0]: r[1] for r in rows if len(r) > 1}
    if "verifier" in top:
        detail = next((r[2] for r in rows if r[0] == "verifier" and len(r) > 2), "")
        return f"**{who}:** no verdict ({detail or top['verifier']})"
    failed = [r[0].split(": ", 1)[1] for r in rows
              if len(r) > 1 and ": " in r[0] and r[1] == "no"]
    parts = [f"physics {'✓ right' if top.get('physics') == 'ok' else '✗ WRONG'}",
             f"texture {'✓ right' if top.get('texture') == 'ok' else '✗ WRONG'}"]
    says = f"; fails: {', '.join(failed)}" if failed else ""
    return f"**{who}:** {', '.join(parts)}{says}"


def _pct(p: float) -> str:
    p = 100 * float(p)
    return "<1%" if 0 < p < 0.5 else ">99%" if 99.5 <= p < 100 else f"{p:.0f}%"


def _what(name: str, iv: dict[str, Any]) -> str:
    """An intervention in a few plain words."""
    from lina_core.candidates import OPS
    op = OPS.get(iv.get("op", ""))
    w = iv.get("window")
    steps = f" for steps {w[0]}-{w[1]}" if w else ""
    return (op.in_words(iv, steps) if op is not None else None) or f"`{name}`{steps}"


def reason_sentence(choice: dict[str, Any]) -> str:
    """Why LINA's picture is what it is, in one sentence."""
    why = choice.get("why") or {}
    name = choice.get("candidate", "?")
    iv = why.get("intervention") or {}
    loop = why.get("loop")
    if loop:
        k = why.get("check_step")
        base = (f"At step {k} the early check rated the baseline's run "
                f"{_pct(loop['base_p'][0])} likely to come out right")
        tries = loop.get("tries") or []
        if not tries:
            return f"{base}, so LINA left it alone (LINA's picture is the baseline's)."
        kept = loop.get("kept", name)
        tried = " and ".join(f"`{t['name']}`" for t in tries)
        if kept == "none":
            end = "none passed, so LINA kept the baseline"
        elif any(t.get("passed") for t in tries):
            end = f"LINA kept `{kept}`, {_what(kept, iv)}, which passed"
        else:
            end = f"none passed, and LINA kept the best rated, `{kept}`: {_what(kept, iv)}"
        return f"{base}; LINA tried {tried}; {end}."
    source = why.get("source", "")
    if iv.get("op") == "none":
        return f"LINA chose no intervention ({source}): its picture is the baseline's."
    return f"LINA chose `{name}` ({source}): {_what(name, iv)}."


def tries_lines(choice: dict[str, Any]) -> str:
    """The loop's tries, one line each (empty when the loop did not run)."""
    why = choice.get("why") or {}
    loop = why.get("loop")
    if not loop:
        return ""
    lines = [f"- baseline: checked at step {why.get('check_step')}, "
             f"{_pct(loop['base_p'][0])} likely right"
             + (" (kept)" if loop.get("kept") == "none" else "")]
    for i, t in enumerate(loop.get("tries") or [], 1):
        passed = "passed" if t.get("passed") else "did not pass"
        kept = " (kept: LINA's picture)" if t["name"] == loop.get("kept") else ""
        lines.append(f"- try {i}: `{t['name']}`, checked at step {t.get('checked_at', '?')}, "
                     f"{_pct(t['p'][0])} likely right, {passed}{kept}")
    return (f"**The loop's tries** (the early check, threshold {_pct(loop['threshold'])}):\n"
            + "\n".join(lines))


def _big(img: Any) -> np.ndarray | None:
    return None if img is None else upscale(img, TALK_SIZE)


#: the talk view's outputs, in the order :func:`from_pair` answers them
TALK_OUTPUTS = ("title", "truth", "base", "lina", "slider", "verdicts", "reason", "tries")


def from_pair(base: Any, lina: Any, truth: Any, vb: Any, vl: Any, why: Any, spec: Any
              ) -> dict[str, Any]:
    """The talk view of the LINA tab's outputs (all empty when the tab's are: a refusal, a
    prediction, a preset that failed)."""
    if base is None or lina is None:
        return {"title": "", "truth": None, "base": None, "lina": None, "slider": None,
                "verdicts": "", "reason": "", "tries": ""}
    try:
        choice = json.loads(why) if isinstance(why, str) and why.strip() else {}
        run = json.loads(spec) if isinstance(spec, str) and spec.strip() else {}
    except ValueError:
        choice, run = {}, {}
    title = (f"### _{run.get('prompt', '')}_ \u2003 seed {run.get('seed', '?')}, "
             f"{run.get('steps', '?')} steps" if run else "")
    b, li = _big(base), _big(lina)
    name = choice.get("candidate", "?")
    verdicts = "  \n".join(x for x in (verdict_line("Baseline", vb),
                                       verdict_line(f"LINA (`{name}`)", vl)) if x)
    return {"title": title, "truth": _big(truth), "base": b, "lina": li, "slider": (b, li),
            "verdicts": verdicts, "reason": reason_sentence(choice) if choice else "",
            "tries": tries_lines(choice)}


def section() -> tuple[gr.Column, dict[str, Any]]:
    """The talk view's components (hidden until the switch turns it on)."""
    t: dict[str, Any] = {}
    with gr.Column(visible=False, elem_id="talk-view") as col:
        t["title"] = gr.Markdown(elem_id="talk-title")
        with gr.Row(equal_height=True, elem_id="talk-images"):
            for key, label in (("truth", "ground truth (rendered)"),
                               ("base", "baseline"), ("lina", "LINA")):
                t[key] = gr.Image(label=label, format="png", height=TALK_SIZE + 8,
                                  interactive=False, min_width=TALK_SIZE // 2,
                                  elem_id=f"talk-{'baseline' if key == 'base' else key}",
                                  buttons=["fullscreen"])
        with gr.Row(elem_id="talk-lower"):
            t["slider"] = gr.ImageSlider(label="drag: baseline (left) | LINA (right)",
                                         format="png", height=TALK_SIZE + 8,
                                         max_height=TALK_SIZE + 8, interactive=False,
                                         min_width=TALK_SIZE // 2, elem_id="talk-slider")
            with gr.Column(min_width=300):
                t["verdicts"] = gr.Markdown(elem_id="talk-verdicts")
                t["reason"] = gr.Markdown(elem_id="talk-reason")
                t["tries"] = gr.Markdown(elem_id="talk-tries")
    return col, t


def wire_outputs(sources: dict[str, Any], t: dict[str, Any]) -> None:
    """Fill the talk view from the LINA tab's outputs on screen whenever its run line or its
    ground truth changes (every run, cached preset, refusal and prediction writes both).

    The page applies an event's outputs in order and fires a ``change`` as each one is applied,
    so the run line's change sees every output but the ground truth (applied after it) as it
    is now, and the ground truth's sees the ground truth.  So each fills only what it has seen:
    the run line's everything but the ground truth, the ground truth's only that.  The two
    answers may reach the server in either order (two requests; a busy server once applied the
    run line's stale, empty ground truth last), and whichever comes last leaves the view right.
    A run that keeps the scene (another seed) fires no ground-truth change and keeps its
    picture, which is the same scene's."""
    names = ("base_img", "lina_img", "truth", "vb", "vl", "why", "spec")
    rest = [k for k in TALK_OUTPUTS if k != "truth"]

    def fill_rest(*values: Any) -> list[Any]:
        answer = from_pair(*values)
        return [answer[k] for k in rest]

    def fill_truth(*values: Any) -> Any:
        return from_pair(*values)["truth"]

    for trigger, fn, outs in (("md", fill_rest, [t[k] for k in rest]),
                              ("truth", fill_truth, [t["truth"]])):
        sources[trigger].change(fn, [sources[k] for k in names], outs,
                                api_visibility="private", show_progress="hidden",
                                concurrency_id="talk-view", concurrency_limit=1)


def talk_on(request: gr.Request | None) -> Any:
    """The switch's value from the page's URL (``?talk=1``), or no change."""
    params = getattr(request, "query_params", None) or {}
    value = str(params.get(QUERY, "")).strip().lower()
    if not value:
        return gr.update()
    return value in ON


#: scrolls the page to the LINA tab's run button, so the comparison below it is in view
SCROLL_JS = ("() => { setTimeout(() => { const e = document.querySelector('#lina-run'); "
             "if (e) e.scrollIntoView({block: 'start', behavior: 'smooth'}); }, 300); }")

#: toggles the page-wide class the talk view's CSS hangs on
TOGGLE_JS = ("(on) => { document.body.classList.toggle('lina-talk', !!on); "
             "return on; }")


def wire_switch(demo: gr.Blocks, switch: gr.Checkbox, hide: list[Any], show: list[Any],
                fold: list[Any], tabs: Any, tab_id: str) -> None:
    """The switch (and ``?talk=1`` on load): the talk view on shows ``show``, hides ``hide``,
    folds the accordions ``fold`` and selects the tab ``tab_id``; off, the reverse."""
    outs = [*hide, *show, *fold, tabs]

    def apply(on: bool) -> list[Any]:
        on = bool(on)
        return ([gr.update(visible=not on) for _ in hide] + [gr.update(visible=on) for _ in show]
                + [gr.update(open=not on) for _ in fold]
                + [gr.Tabs(selected=tab_id) if on else gr.update()])

    switch.change(apply, [switch], outs, js=TOGGLE_JS, api_visibility="private",
                  show_progress="hidden", queue=False)
    demo.load(talk_on, None, [switch], api_visibility="private", show_progress="hidden",
              queue=False)


#: the page's CSS for the talk view and for narrow screens (added to the app's CSS)
CSS = """
.gradio-container { max-width: 1600px !important; margin-left: auto !important;
                    margin-right: auto !important; }
body.lina-talk .gradio-container { max-width: 100% !important; }
body.lina-talk #model-picker, body.lina-talk #model-status { display: none; }
#talk-view img, #lina-truth img, #lina-baseline img, #lina-lina img, #lina-mask img,
#talk-slider img { image-rendering: pixelated; }
#talk-title h3 { text-align: center; margin: 0.2em 0; }
#talk-verdicts p, #talk-reason p { font-size: 1.2rem; line-height: 1.5; }
#start-here { font-size: 1.1rem; }
/* verifier tables (item | answer | detail): side by side while each gets 420 px, else one
   above the other, so "WRONG" and "answer" fit their column; their cells break between
   words, never inside one ("WR ON G") */
.block:has(th[title="answer"]) { min-width: min(420px, 100%) !important; }
table:has(th[title="answer"]) .cell-wrap, table:has(th[title="answer"]) span {
    word-break: normal !important; overflow-wrap: normal !important; }
"""
