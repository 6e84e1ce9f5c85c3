"""Model picker (top of the page): the allowlisted models; ToyWorld is the default. Choosing one
that is not on this machine, or that fails to load, answers with a warning and keeps the current
model selected (the dropdown goes back to it) and working; a real model on a machine without
CUDA loads, with a warning about its size and the small model to use instead."""
from __future__ import annotations

import gradio as gr

from lina_core.pipelines.registry import ModelUnavailable

from .context import MODEL_QUEUE, Ctx
from .widgets import FieldDropdown, log


def select(key: str, current: str, ctx: Ctx) -> tuple:
    """Load ``key``; on failure warn and keep ``current``. Returns (dropdown, state, status)."""
    h = ctx.handle
    keys = [k for _, k in h.choices()]
    if key not in keys:
        gr.Warning(f"model: {key!r} is not one of {keys} (video models: the Video tab)")
        return current, current, h.describe(current)
    try:
        h.get(key)
    except ModelUnavailable as exc:
        gr.Warning(str(exc))
        return (current, current,
                f"{h.describe(current)}\n\n**Could not switch:** {exc}")
    except Exception as exc:  # noqa: BLE001 - never a traceback in the UI
        log.exception("loading %s failed", key)
        msg = f"model: {h.label(key)} could not be loaded ({type(exc).__name__}: " \
              f"{(str(exc).splitlines() or [''])[0][:200]})"
        gr.Warning(msg)
        return current, current, f"{h.describe(current)}\n\n**{msg}**"
    note = h.cpu_note(key)
    if note:
        gr.Warning(note)
    return key, key, h.describe(key)


def build(ctx: Ctx) -> tuple[gr.Dropdown, gr.Markdown]:
    with gr.Row(equal_height=True):
        dd = FieldDropdown(ctx.handle.choices(), value=ctx.handle.default_key, label="model",
                           scale=1, elem_id="model-picker", field="model")
        status = gr.Markdown("loading the model ...", elem_id="model-status")
    dd.input(lambda k, c: select(k, c, ctx), [dd, ctx.model_key], [dd, ctx.model_key, status],
             api_name="select_model", **MODEL_QUEUE)
    return dd, status
