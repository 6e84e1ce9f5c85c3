"""Video tab: baseline and LINA clips of the ToyWorld video model, from the same noise, played in
sync; a frame scrubber showing the same frame of both (and of the ground-truth render); the clip
verifier's per-frame and temporal verdicts; MP4 and GIF export of the side-by-side clip.

The video model is not the picker's image model: :class:`lina_core.service.VideoService` loads it once, on
first use. Everything here is display and files; the model call is :func:`app.state.lina_video`.
"""
from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np
import pandas as pd

from lina_core import csg, video_io
from lina_core.limits import (MAX_GUIDANCE, MAX_SEED, MAX_STEPS, MIN_STEPS, LimitError,
                              load_json, snippet)
from lina_core.service import VideoService
from lina_core.toyworld.render import CLIP_KINDS, render_clip
from lina_core.toyworld.video_data import MAX_CLIP_FRAMES, MIN_CLIP_FRAMES, to_strip

from . import state
from .context import MODEL_QUEUE, Ctx
from .preset_cache import TabScreen, talk_presets
from .presets import VIDEO_PRESET_NOTES, VIDEO_PRESET_SPLIT, VIDEO_PRESETS
from .runstore import RunStore
from .verdicts import verdict
from .widgets import (DEFAULT_STEPS, DISPLAY, PREDICTED, VIDEO_BUDGET, FieldImage, FieldNumber,
                      FieldSlider, check_budget, check_candidate, choice_markdown, error, guard,
                      intervention_dropdown, keyed, number, on_status, run_status, steps_slider,
                      stop_button, stops, ui_json, upscale)

FPS = 4                    #: playback rate of every clip file (ToyWorld clips are short)
FILE_SCALE = 8             #: 32 px frames -> 256 px in the files (nearest neighbour)
STRIP_SCALE, STRIP_GAP = 2, 2   #: the filmstrip's cell enlargement and white gap (pixels)
DEFAULT_FRAMES = MIN_CLIP_FRAMES
KEEP_WORK_DIRS = 16        #: recent runs whose temp files are kept (Gradio has its own copies)
DEFAULT_GUIDANCE = 3.0
ROWS = ("ground truth", "baseline", "LINA")      #: the filmstrip's rows, top to bottom
VIDEO_IDS = ("video-baseline", "video-lina")    #: elem_ids of the two players
FRAME_HEADERS = ["frame", "time (s)", "state", "baseline texture", "baseline physics",
                 "LINA texture", "LINA physics"]
TEMPORAL_HEADERS = ["clip", "question", "answer", "reason"]


# --------------------------------------------------------------------------- inputs


@dataclass
class VideoInputs:
    prompt: str
    graph: dict[str, Any]
    frames: int
    steps: int
    seed: int
    guidance: float
    candidate: str | None                # None: LINA chooses


def clip_graph(prompt: Any) -> tuple[str, dict[str, Any]]:
    """The prompt's scene graph, which must be of a clip kind (only those have a motion)."""
    if not isinstance(prompt, str) or not prompt.strip():
        raise error(f"prompt: required; e.g. {VIDEO_PRESETS[0][1]!r}")
    g = csg.from_prompt(prompt).graph                 # GraphError names the prompt
    if g.category not in CLIP_KINDS:
        raise error(f"prompt: its scene is a {g.category!r} scene (category), which has no "
                    f"clip; allowed categories: {', '.join(CLIP_KINDS)} (a ball falling onto "
                    f"a mirror, an object dropped into water, a light moving across the floor)")
    return prompt.strip(), g.to_dict()


def check_inputs(prompt: Any, frames: Any, steps: Any, seed: Any, guidance: Any,
                 candidate: Any = PREDICTED) -> VideoInputs:
    """All inputs checked before any model work; every error names its field and range (a
    candidate that does not apply to the scene names "candidate" and lists those that do)."""
    frames = number("frames", frames, MIN_CLIP_FRAMES, MAX_CLIP_FRAMES, integer=True)
    steps = number("steps", steps, MIN_STEPS, MAX_STEPS, integer=True)
    seed = number("seed", seed, 0, MAX_SEED, integer=True)
    guidance = number("guidance_scale", guidance, 0.0, MAX_GUIDANCE)
    check_budget("video work", {"frames": frames, "steps": steps}, VIDEO_BUDGET, "VIDEO_BUDGET")
    text, graph = clip_graph(prompt)
    return VideoInputs(text, graph, frames, steps, seed, guidance,
                       check_candidate(candidate, graph))


# --------------------------------------------------------------------------- one run


@dataclass
class ClipRun:
    """One Video-tab run: the three clips (F x H x W x 3 uint8), verdicts, files, and record."""
    inputs: VideoInputs
    truth: np.ndarray
    baseline: np.ndarray
    lina: np.ndarray
    verdicts: dict[str, dict[str, Any]]          # "truth", "baseline", "lina"
    files: dict[str, Path]                        # baseline / lina (players), mp4 / gif (export)
    run_id: str
    out: dict[str, Any] = field(default_factory=dict)   # state.lina_video's answer


def ground_truth(graph: dict[str, Any], frames: int, size: int) -> np.ndarray:
    """The renderer's clip of the scene (what the verifier calls right), F x size x size x 3."""
    g = csg.CausalSceneGraph.from_dict(graph)
    return np.stack([np.asarray(r.image, np.uint8) for r in render_clip(g, frames, size)])


def write_files(base: np.ndarray, lina: np.ndarray, folder: Path) -> dict[str, Path]:
    """The two players' MP4s (Debian chromium plays H.264) and the side-by-side MP4 and GIF."""
    sbs = video_io.side_by_side(base, lina)
    w = video_io.write_video
    return {"baseline": w(base, folder / "baseline.mp4", FPS, FILE_SCALE),
            "lina": w(lina, folder / "lina.mp4", FPS, FILE_SCALE),
            "mp4": w(sbs, folder / "baseline_vs_lina.mp4", FPS, FILE_SCALE),
            "gif": w(sbs, folder / "baseline_vs_lina.gif", FPS, FILE_SCALE)}


def work_dir(keep: int = KEEP_WORK_DIRS) -> Path:
    """A fresh temp folder for one run's files (Gradio serves files only from the working
    directory, the temp dir or allowed paths, and copies what it serves into its own cache);
    the oldest such folders beyond ``keep`` are removed, so a long-lived app does not fill /tmp."""
    root = Path(tempfile.gettempdir()) / "lina-video"
    root.mkdir(exist_ok=True)
    old = sorted((p for p in root.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime)
    for p in old[:max(0, len(old) - keep + 1)]:
        shutil.rmtree(p, ignore_errors=True)
    return Path(tempfile.mkdtemp(dir=root))


def run_clips(inp: VideoInputs, store: RunStore, progress: Any = None) -> ClipRun:
    """Baseline and LINA (one model call), the ground truth, verdicts, files and the saved run."""
    say = progress or (lambda *a, **k: None)
    say(0.05, desc=f"baseline and LINA clips ({inp.frames} frames, same noise)")
    out = state.lina_video(inp.prompt, inp.graph, inp.seed, inp.steps, inp.guidance,
                           inp.frames, inp.candidate)
    base, lina = out["baseline"], out["lina"]
    say(0.85, desc="verifying and writing the clips")
    truth = ground_truth(inp.graph, inp.frames, base.shape[1])
    verdicts = {"truth": verdict(truth, inp.graph), "baseline": verdict(base, inp.graph),
                "lina": verdict(lina, inp.graph)}
    # files Gradio may serve live in the temp dir; the run folder keeps copies
    files = write_files(base, lina, work_dir())
    run_id = store.save("video", out["spec"], {
        "model": VideoService.key, "model_source": out["model_source"], "seed": inp.seed,
        "prompt": inp.prompt, "frames": inp.frames, "steps": inp.steps, "fps": FPS,
        "guidance_scale": inp.guidance, "candidate": out["candidate"], "choice": out["choice"],
        "intervention_source": out["choice"]["why"].get("source"), "timings": out["timings"],
        "verdicts": verdicts, "images_are": "filmstrips: frames left to right",
        "engine_records": {"baseline": out["baseline_record"], "lina": out["lina_record"]}},
        {"truth": to_strip(truth), "baseline": to_strip(base), "lina": to_strip(lina)})
    for key in ("mp4", "gif"):
        shutil.copy2(files[key], store.folder(run_id) / files[key].name)
    return ClipRun(inp, truth, base, lina, verdicts, files, run_id, out)


# --------------------------------------------------------------------------- display


def filmstrip(truth: np.ndarray, base: np.ndarray, lina: np.ndarray) -> np.ndarray:
    """Rows ground truth / baseline / LINA, one column per frame, each frame enlarged
    STRIP_SCALE times, with white gaps: the whole clip at a glance, and the scrubber's source
    (a PNG, so :func:`frame_from_strip` gets the exact pixels back)."""
    f, h, w = base.shape[:3]
    c, g = h * STRIP_SCALE, STRIP_GAP
    out = np.full((3 * c + 2 * g, f * (w * STRIP_SCALE) + (f - 1) * g, 3), 255, np.uint8)
    for r, clip in enumerate((truth, base, lina)):
        big = video_io.enlarge(clip, STRIP_SCALE)
        for i in range(f):
            x = i * (w * STRIP_SCALE + g)
            out[r * (c + g):r * (c + g) + c, x:x + w * STRIP_SCALE] = big[i]
    return out


def strip_frames(image: np.ndarray) -> int:
    """How many frames a :func:`filmstrip` holds (its cells are square)."""
    c = (image.shape[0] - 2 * STRIP_GAP) // 3
    n = (image.shape[1] + STRIP_GAP) // (c + STRIP_GAP)
    if c <= 0 or c % STRIP_SCALE or n * (c + STRIP_GAP) - STRIP_GAP != image.shape[1]:
        raise error(f"filmstrip: a {image.shape[1]}x{image.shape[0]} image is not a Video-tab "
                    f"filmstrip; run the clips first")
    return n


def frame_from_strip(image: Any, f: int) -> list[np.ndarray]:
    """Frame ``f`` of the ground truth, baseline and LINA rows, at model resolution."""
    a = np.asarray(image)[..., :3]
    n = strip_frames(a)
    f = number("frame", f, 0, n - 1, integer=True)
    c = (a.shape[0] - 2 * STRIP_GAP) // 3
    x = f * (c + STRIP_GAP)
    return [np.ascontiguousarray(a[r * (c + STRIP_GAP):r * (c + STRIP_GAP) + c:STRIP_SCALE,
                                   x:x + c:STRIP_SCALE]) for r in range(3)]


def _mark(ok: Any) -> str:
    return "-" if ok is None else ("ok" if ok else "WRONG")


def frame_rows(verdicts: dict[str, dict[str, Any]], frames: int) -> list[list[Any]]:
    """One row per frame: baseline and LINA texture and physics; physics is asked only at
    rest (where the still scene's physics holds), '-' elsewhere."""
    b, li = verdicts.get("baseline") or {}, verdicts.get("lina") or {}
    rest = set((b.get("physics_frames") or li.get("physics_frames") or []))

    def at(v: dict[str, Any], key: str, f: int) -> Any:
        vals = v.get(key) or []
        return vals[f] if f < len(vals) else None
    rows = []
    for f in range(frames):
        rows.append([f, round(f / FPS, 2), "at rest (physics asked)" if f in rest else "moving",
                     _mark(at(b, "frame_texture", f)) if "error" not in b else "n/a",
                     _mark(at(b, "frame_physics", f)) if "error" not in b else "n/a",
                     _mark(at(li, "frame_texture", f)) if "error" not in li else "n/a",
                     _mark(at(li, "frame_physics", f)) if "error" not in li else "n/a"])
    return rows


def temporal_rows(verdicts: dict[str, dict[str, Any]]) -> list[list[str]]:
    """The clip's temporal question, answered for each clip, with the measured reason."""
    rows = []
    for key, label in (("truth", "ground truth (render)"), ("baseline", "baseline"),
                       ("lina", "LINA")):
        v = verdicts.get(key) or {}
        if "error" in v:
            rows.append([label, "", "n/a", str(v["error"])])
            continue
        words = v.get("questions") if isinstance(v.get("questions"), dict) else {}
        for q, ok in (v.get("temporal") or {}).items():
            # the question in words names the scene's object ("the cube"); older runs: the key
            rows.append([label, str(words.get(q) or q.replace("_", " ")),
                         "yes" if ok else "no", str(v.get("reason", ""))])
    return rows


def clip_verdicts(verdicts_json: Any) -> dict[str, Any]:
    """The clip verdicts box (the run's JSON) as a dict, through the bounded JSON loader; empty
    when there are none yet; a refusal naming "clip verdicts" for anything else."""
    if verdicts_json in (None, ""):
        return {}
    try:
        v = load_json(verdicts_json, "clip verdicts") if isinstance(verdicts_json, str) \
            else verdicts_json
    except LimitError as exc:
        raise error(str(exc)) from None
    if not isinstance(v, dict):
        raise error(f"clip verdicts: {snippet(v)} must be a JSON object (the run's verdicts)")
    return v


def _get(obj: Any, key: Any) -> Any:
    """``obj[key]`` for a dict (a list index for a list), else None: the verdicts box is
    input, so any part of it may be of the wrong type."""
    if isinstance(obj, dict):
        return obj.get(key)
    if isinstance(obj, list) and isinstance(key, int) and 0 <= key < len(obj):
        return obj[key]
    return None


def frame_text(verdicts_json: Any, f: int) -> str:
    """What the verifier said about frame ``f`` of baseline and LINA, node by node."""
    v = clip_verdicts(verdicts_json)
    lines = [f"**Frame {f}** (t = {f / FPS:.2f} s)."]
    for key, label in (("baseline", "Baseline"), ("lina", "LINA")):
        per_node = _get(_get(_get(v.get(key), "frames"), f), "per_node")
        if per_node is not None or _get(_get(v.get(key), "frames"), f) is not None:
            nodes = "; ".join(f"{n}: {t}" for n, t in per_node.items()) \
                if isinstance(per_node, dict) else ""
            lines.append(f"**{label}:** {nodes or 'no per-node verdicts'}")
    return "  \n".join(lines)


def scrub(strip_image: Any, f: Any, verdicts_json: Any) -> tuple:
    """The scrubber: frame ``f`` of ground truth, baseline and LINA, enlarged, plus its verdicts."""
    if strip_image is None:
        raise error("frame: run the clips first (there is no clip to scrub yet)")
    verdicts = clip_verdicts(verdicts_json)    # checked before the image is cut
    frames = frame_from_strip(strip_image, f)
    f = int(number("frame", f, 0, MAX_CLIP_FRAMES - 1, integer=True))
    return (*[upscale(x, DISPLAY) for x in frames], frame_text(verdicts, f))


def scrub_range(strip_image: Any) -> dict[str, Any]:
    """The scrubber's range follows the clip on show: frames 0 .. F-1, back at frame 0.

    (Set when the filmstrip changes, not by the run itself: a run's answer holds values only,
    which is what the preset cache, :mod:`app.preset_cache`, stores.)"""
    if strip_image is None:
        return gr.update()
    return gr.update(minimum=0, maximum=strip_frames(np.asarray(strip_image)) - 1, value=0)


def summary(run: ClipRun) -> str:
    """The run id, timings, and each clip's physics and texture verdicts; then what LINA chose
    and why (:func:`app.widgets.choice_markdown`)."""
    t, inp, out = run.out["timings"], run.inputs, run.out

    def line(v: dict[str, Any]) -> str:
        if "error" in v:
            return f"verifier n/a ({v['error']})"
        tex = sum(bool(x) for x in v.get("frame_texture", []))
        return (f"physics {'ok' if v.get('physics_ok') else 'WRONG'}, texture ok in "
                f"{tex}/{inp.frames} frames")
    same = ""
    if np.array_equal(run.baseline, run.lina):
        same = (" **LINA = baseline:** " + ("no intervention was chosen."
                                           if out["candidate"] == "none" else
                                           "this intervention changed no pixel."))
    return (f"**Run** `{run.run_id}` saved ({inp.frames} frames, {inp.steps} steps, "
            f"seed {inp.seed}). Baseline {t['baseline_s']:.1f} s, LINA {t['lina_s']:.1f} s. "
            f"**Baseline:** {line(run.verdicts['baseline'])}. "
            f"**LINA:** {line(run.verdicts['lina'])}. "
            f"**Ground truth:** {line(run.verdicts['truth'])}.{same}  \n"
            + choice_markdown(out["choice"], out["lina_record"].get("run_mask"), inp.steps))


#: the order of the ``/video`` outputs (the API answers them in this order)
OUTPUTS = ("base_vid", "lina_vid", "strip_img", "scrubber", "f_truth", "f_base", "f_lina",
           "frame_md", "table", "temporal", "mp4", "gif", "vjson", "why", "md")


def outputs(run: ClipRun) -> dict[str, Any]:
    """The UI's outputs for a run, by the names of :data:`OUTPUTS`."""
    first = [upscale(x[0], DISPLAY) for x in (run.truth, run.baseline, run.lina)]
    vjson = ui_json(run.verdicts, indent=1)
    return {"base_vid": str(run.files["baseline"]), "lina_vid": str(run.files["lina"]),
            "strip_img": filmstrip(run.truth, run.baseline, run.lina), "scrubber": 0,
            "f_truth": first[0], "f_base": first[1], "f_lina": first[2],
            "frame_md": frame_text(vjson, 0),
            "table": pd.DataFrame(frame_rows(run.verdicts, run.inputs.frames),
                                  columns=FRAME_HEADERS),
            "temporal": pd.DataFrame(temporal_rows(run.verdicts), columns=TEMPORAL_HEADERS),
            "mp4": str(run.files["mp4"]), "gif": str(run.files["gif"]), "vjson": vjson,
            "why": ui_json({"candidate": run.out["candidate"], "choice": run.out["choice"],
                            "spec": run.out["spec"]}),
            "md": summary(run)}


def blank() -> dict[str, Any]:
    """Every output of a run, empty: what a refused run leaves, so no clip of an earlier run
    stays under inputs that did not run."""
    return {k: None for k in OUTPUTS} | {
        "scrubber": 0, "frame_md": "", "vjson": "", "why": "", "md": "",
        "table": pd.DataFrame(columns=FRAME_HEADERS),
        "temporal": pd.DataFrame(columns=TEMPORAL_HEADERS)}


def run(values: dict[str, Any], store: RunStore, progress: Any = None) -> dict[str, Any]:
    """The Run button: check ``values`` (:func:`check_inputs`' parameters, by name), run the
    clips (one queued model call), and display them."""
    return outputs(run_clips(check_inputs(**values), store, progress))


# --------------------------------------------------------------------------- browser JS

#: the two <video> elements, by their players' elem_ids
_VIDS = f"{list(VIDEO_IDS)!r}.map(id => document.querySelector(`#${{id}} video`))"

#: "Play both" / "Pause both": both from frame 0 together; LINA follows the baseline's clock
PLAY_JS = f"""(label) => {{
  const vids = {_VIDS};
  if (vids.some(v => !v)) return "Play both";
  if (vids.some(v => !v.paused)) {{ vids.forEach(v => v.pause()); return "Play both"; }}
  const [a, b] = vids;
  if (!a.dataset.linaSync) {{
    a.dataset.linaSync = "1";
    a.addEventListener("timeupdate", () => {{
      if (!b.paused && Math.abs(b.currentTime - a.currentTime) > 0.5 / {FPS})
        b.currentTime = a.currentTime;
    }});
  }}
  vids.forEach(v => {{ v.muted = true; v.loop = true; v.currentTime = 0; }});
  Promise.all(vids.map(v => v.play())).catch(() => {{}});
  return "Pause both";
}}"""

#: the scrubber: pause both and show frame f (the middle of its display time) in each
SEEK_JS = f"""(f) => {{
  const vids = {_VIDS};
  vids.forEach(v => {{
    if (!v) return;
    v.pause();
    const end = isFinite(v.duration) ? v.duration - 0.01 : Infinity;
    v.currentTime = Math.max(0, Math.min((Number(f) + 0.5) / {FPS}, end));
  }});
  return "Play both";
}}"""


# --------------------------------------------------------------------------- layout


INTRO = ("**Video** (ToyWorld video model, separate from the model picker): baseline and "
         "LINA clips from the same noise, judged frame by frame and over time by the clip "
         "verifier against the scene's ground-truth motion. LINA's choice of intervention "
         "comes from the image model's predictor (the two models share a text encoder), or "
         "pick one by hand.")


def _inputs() -> dict[str, Any]:
    """The prompt and the run's settings, by :func:`check_inputs`' parameter names (the
    ``/video`` API's); ``presets`` is the column the talk presets go in."""
    i: dict[str, Any] = {}
    with gr.Row():
        i["prompt"] = gr.Textbox(VIDEO_PRESETS[0][1], label="prompt (a reflection, buoyancy "
                                 "or shadow scene)", scale=4, elem_id="video-prompt")
    i["presets"] = gr.Column()     # filled at the end, once the outputs exist (for caching)
    with gr.Row():
        i["frames"] = FieldSlider(MIN_CLIP_FRAMES, MAX_CLIP_FRAMES, value=DEFAULT_FRAMES,
                                  step=1, label=f"frames (frames x steps at most "
                                  f"{VIDEO_BUDGET})", field="frames",
                                  elem_id="video-frames")
        i["steps"] = steps_slider(elem_id="video-steps")
        i["seed"] = FieldNumber(0, label="seed", precision=0, minimum=0, maximum=MAX_SEED,
                                field="seed")
        i["guidance"] = FieldSlider(0, MAX_GUIDANCE, value=DEFAULT_GUIDANCE, step=0.5,
                                    label="guidance scale", field="guidance_scale")
        i["candidate"] = intervention_dropdown(elem_id="video-candidate")
    with gr.Row():
        i["go"] = gr.Button("Run baseline vs LINA clips", variant="primary", elem_id="video-run")
        i["stop"] = stop_button("video-stop")
    i["status"] = run_status("video-status")
    return i


def _players(o: dict[str, Any]) -> None:
    """The two players, Play both, the frame scrubber and the frame of each clip, into ``o``."""
    with gr.Row():
        o["base_vid"] = gr.Video(label="baseline", interactive=False, loop=True, height=300,
                                 elem_id=VIDEO_IDS[0])
        o["lina_vid"] = gr.Video(label="LINA", interactive=False, loop=True, height=300,
                                 elem_id=VIDEO_IDS[1])
    with gr.Row(equal_height=True):
        o["play"] = gr.Button("Play both", scale=1, elem_id="video-play")
        o["scrubber"] = FieldSlider(0, MAX_CLIP_FRAMES - 1, value=0, step=1, scale=4,
                                    label="frame (shows it below and seeks both players)",
                                    field="frame", elem_id="video-scrub")
    with gr.Row():
        for name, key, eid in zip(ROWS, ("truth", "base", "lina"), ("truth", "baseline", "lina")):
            o[f"f_{key}"] = gr.Image(label=f"{name}: frame", format="png", height=DISPLAY,
                                     interactive=False, elem_id=f"video-frame-{eid}")
    o["frame_md"] = gr.Markdown(elem_id="video-frame-md")


def _outputs() -> dict[str, Any]:
    """A run's outputs, by the names of :data:`OUTPUTS` (and the Play both button)."""
    o: dict[str, Any] = {"md": gr.Markdown(elem_id="video-md")}
    _players(o)
    o["temporal"] = gr.Dataframe(headers=TEMPORAL_HEADERS, label="verifier, over the clip "
                                 "(the clip's physics)", wrap=True, interactive=False,
                                 column_widths=["16%", "24%", "8%", "52%"],
                                 elem_id="video-temporal")
    o["table"] = gr.Dataframe(headers=FRAME_HEADERS, label="verifier, per frame (physics is "
                              "asked only where the scene is at rest)", wrap=True,
                              interactive=False, elem_id="video-verdicts")
    o["strip_img"] = FieldImage(label="all frames: rows ground truth / baseline / LINA, frames "
                                "left to right", format="png", interactive=False,
                                elem_id="video-strip", field="filmstrip")
    with gr.Row():
        o["mp4"] = gr.File(label="export: baseline | LINA, MP4 (H.264)", interactive=False,
                           elem_id="video-mp4")
        o["gif"] = gr.File(label="export: baseline | LINA, GIF", interactive=False,
                           elem_id="video-gif")
    with gr.Accordion("verdicts (JSON), LINA's choice and the spec that ran", open=False):
        with gr.Row():
            o["vjson"] = gr.Code(language="json", label="clip verdicts", lines=10,
                                 interactive=False)
            o["why"] = gr.Code(language="json", label="candidate, why, LINA spec", lines=10,
                               interactive=False, buttons=["copy", "download"])
    return o


def _wire(ctx: Ctx, i: dict[str, Any], o: dict[str, Any]) -> Any:
    """Run, play, scrub; returns the run's handler (the cached presets call it too)."""
    store, outs = ctx.store, {k: o[k] for k in OUTPUTS}
    fields = {k: i[k] for k in ("prompt", "frames", "steps", "seed", "guidance", "candidate")}

    def run_ui(progress=gr.Progress(), **values):
        return run(values, store, progress)

    clear = {outs[k]: v for k, v in blank().items()}
    stops(i["stop"], on_status(
        i["go"].click(guard(keyed(run_ui, outs)), None, list(outs.values()),
                      inputs_kwargs=fields, api_name="video", show_progress_on=[i["status"]],
                      **MODEL_QUEUE), i["status"], clear))
    play, scrubber, strip_img = o["play"], o["scrubber"], o["strip_img"]
    play.click(None, [play], [play], js=PLAY_JS, api_visibility="private")
    o["base_vid"].change(None, None, [play], js="() => 'Play both'", api_visibility="private")
    scrubber.input(None, [scrubber], [play], js=SEEK_JS, api_visibility="private")
    strip_img.change(guard(scrub_range), [strip_img], [scrubber], api_visibility="private",
                     show_progress="hidden")
    scrubber.input(guard(scrub), [strip_img, scrubber, o["vjson"]],
                   [o["f_truth"], o["f_base"], o["f_lina"], o["frame_md"]],
                   api_name="video_frame", trigger_mode="always_last", show_progress="hidden")
    return run_ui


def build(ctx: Ctx) -> None:
    gr.Markdown(INTRO)
    i = _inputs()
    o = _outputs()
    run_ui = _wire(ctx, i, o)
    with i["presets"]:
        ctx.parts["video_presets"] = _presets(ctx, i, {k: o[k] for k in OUTPUTS}, run_ui)


def _presets(ctx: Ctx, i: dict[str, Any], outs: dict[str, Any], run_ui: Any) -> gr.Examples:
    """One talk preset per clip kind; with caching on, computed on first use and then served
    from the app's preset cache (:mod:`app.preset_cache`), as the LINA tab's are."""
    rows = [[p, DEFAULT_FRAMES, DEFAULT_STEPS, s, DEFAULT_GUIDANCE, PREDICTED]
            for _, p, s in VIDEO_PRESETS]
    requests = [dict(prompt=p, frames=f, steps=n, seed=s, guidance=g, candidate=c)
                for p, f, n, s, g, c in rows]
    where = (f"held-out {VIDEO_PRESET_SPLIT} scenes (attribute combinations never trained on), "
             f"measured with seed 0, {DEFAULT_FRAMES} frames, {DEFAULT_STEPS} steps: "
             + "; ".join(f"{k}: {VIDEO_PRESET_NOTES[k]}" for k, _, _ in VIDEO_PRESETS))
    cache = ctx.preset_cache()
    label = (f"talk presets: {where}" if cache is None else
             f"talk presets: {where}; LINA's predicted choice, cached after first use")
    return talk_presets(cache, "video", rows, requests, run_ui,
                        [i[k] for k in ("prompt", "frames", "steps", "seed", "guidance",
                                        "candidate")],
                        TabScreen(outs, i["status"], blank()), label=label, visible_columns=[0],
                        example_labels=preset_labels(), elem_id="video-presets")


def preset_labels() -> list[str]:
    """The Video presets' button labels: the clip kind and, in a few words, what LINA does there
    (measured: :data:`app.presets.VIDEO_PRESET_NOTES`)."""
    return [f"{k}: " + ("LINA changes the clip (for the worse)" if "changes the clip" in
                        VIDEO_PRESET_NOTES[k] else "LINA = baseline")
            + f" ({VIDEO_PRESET_SPLIT})" for k, _, _ in VIDEO_PRESETS]
