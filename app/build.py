"""``build_demo``: the whole app as one ``gr.Blocks``, from a model (key or pipeline) and a runs folder."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import gradio as gr

from lina_core.pipelines.registry import ModelUnavailable
from lina_core.service import ModelService, VideoService

from . import (picker, state, talk, tab_intervene, tab_lina, tab_probe, tab_runs,
               tab_scene, tab_video, zerogpu)
from .context import MODEL_QUEUE, Ctx
from .runstore import RunStore

TITLE = "LINA explorer"
#: most events waiting in the queue (see build_demo)
QUEUE_SIZE = 32
CSS = """
#model-status p { margin: 0.2em 0; }
""" + talk.CSS
#: the first screen: what the app shows, in one plain sentence, and where to start
HEADER = (f"# {TITLE}\nDiffusion models often draw physics wrong (a mirror with no reflection, "
          "a balance tilted the wrong way); this app shows a small model's picture next to the "
          "one LINA gets by steering the same run, and a verifier says which one is right.")
START_NOTE = ("**Start here** runs an example and opens the comparison; the talk view "
              "(also `?talk=1` in the address) shows it large for a room.")
#: where the project's terms come from, under the glossary
SOURCES = ("After *LINA: Learning INterventions Adaptively for Physical Alignment and "
           "Generalization in Diffusion Models* (arXiv 2512.13290); the operational "
           "definitions are this project's (docs/DESIGN.md in the repository).")


def _first_screen(ctx: Ctx) -> tuple[list[Any], gr.Checkbox]:
    """The header: one sentence of what the app shows, "Start here" (wired by the LINA tab,
    :func:`app.tab_lina._wire_start`), the talk view switch and the glossary.  Returns what the
    talk view hides, and the switch."""
    with gr.Row(equal_height=True, elem_id="lina-top"):
        header = gr.Markdown(HEADER, elem_id="lina-header")
        with gr.Column(scale=0, min_width=260):
            ctx.parts["start_here"] = gr.Button("Start here: run an example", variant="primary",
                                                elem_id="start-here")
            switch = gr.Checkbox(False, label="talk view (large pictures)",
                                 elem_id="talk-switch")
    note = gr.Markdown(START_NOTE, elem_id="lina-start-note")
    with gr.Accordion("What the words mean (c+, donors, check step, ...)", open=False,
                      elem_id="glossary") as glossary:
        gr.Markdown(talk.GLOSSARY + "\n" + SOURCES)
    return [header, note, glossary, ctx.parts["start_here"]], switch


def build_demo(model: str = "toyworld", pipe: Any = None, runs_dir: str | Path = "runs",
               cache_presets: bool = False, threads: int | None = None,
               video_pipe: Any = None, private_runs: bool | None = None) -> gr.Blocks:
    """Build the app.

    model: the allowlist key of the default model; pipe: a ready pipeline for that key (tests
    pass a tiny one); runs_dir: where runs are saved; cache_presets: lazily cache the LINA and
    Video talk presets (per model weights and app version, under ``<runs_dir>/.preset_cache``,
    :mod:`app.preset_cache`);
    video_pipe: a ready ToyWorld video pipeline for the Video tab (else assets/toyworld_video,
    loaded on first use); private_runs: each browser session sees only its own runs
    (:mod:`app.runstore`); default: on in a Hugging Face Space (``SPACE_ID`` is set there).
    """
    handle = state.set_handle(ModelService(model, pipe=pipe, threads=threads,
                                           placement=zerogpu.placement))
    video = state.set_video_handle(VideoService(video_pipe, threads=threads,
                                                placement=zerogpu.placement))
    if private_runs is None:
        private_runs = bool(os.environ.get("SPACE_ID"))
    store = RunStore(runs_dir, private=private_runs)
    if zerogpu.on_zero_gpu():     # models on cuda at import, in this process (zerogpu.placement)
        handle.get()
        try:
            video.get()
        except ModelUnavailable:  # the Video tab says so when it is used
            pass
    with gr.Blocks(title=TITLE, analytics_enabled=False) as demo:
        model_key = gr.State(model)
        scene = gr.State(tab_scene.initial_scene())
        ctx = Ctx(handle, store, model_key, scene, cache_presets, video=video)
        first, switch = _first_screen(ctx)
        _, status = picker.build(ctx)
        with gr.Tabs() as tabs:
            ctx.parts["tabs"] = tabs
            with gr.Tab("Scene", id="scene"):
                tab_scene.build(ctx)
            with gr.Tab("Intervene", id="intervene"):
                tab_intervene.build(ctx)
            with gr.Tab("Probe", id="probe"):
                tab_probe.build(ctx)
            with gr.Tab("LINA", id="lina"):
                tab_lina.build(ctx)
            with gr.Tab("Video", id="video"):
                tab_video.build(ctx)
            with gr.Tab("Runs", id="runs") as runs_tab:
                tab_runs.build(ctx)
        runs_tab.select(ctx.parts["runs_refresh"], [ctx.parts["runs_id"]],
                        [ctx.parts["runs_id"]], api_visibility="private",
                        show_progress="hidden")
        demo.load(lambda k: picker.describe(handle, k), [model_key], [status], api_name="model_status",
                  **MODEL_QUEUE)
        view = ctx.parts["talk"]
        talk.wire_switch(demo, switch, first + view["hide"], view["show"], view["fold"], tabs,
                         "lina")
        demo.load(None, None, None, js=view["titles"])
    # one model call at a time (MODEL_QUEUE: the engine swaps the one pipeline's scheduler and
    # hooks for a call); 32 waiting at most: on 2 CPU cores a 25-step ToyWorld run takes 2-4 s,
    # so the last in line waits about 1.5 min (docs/PERFORMANCE.md, "App queue under load");
    # the 33rd is told "queue full" at once instead of waiting longer
    demo.queue(default_concurrency_limit=1, max_size=QUEUE_SIZE)
    return demo


def launch_kwargs() -> dict[str, Any]:
    """Arguments Gradio 6 takes at launch (theme and CSS moved there from Blocks)."""
    from .runstore import MAX_IMPORT_BYTES
    return {"theme": gr.themes.Soft(), "css": CSS, "max_file_size": MAX_IMPORT_BYTES}


def free_port(host: str = "127.0.0.1") -> int:
    """A free local TCP port (for tests, screenshots and benchmarks that serve the app)."""
    import socket
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])
