"""Model picker (top of the page): the allowlisted models; ToyWorld is the default. Choosing one
that is not on this machine, or that fails to load, answers with a warning and keeps the current
model selected (the dropdown goes back to it) and working; a real model on a machine without
CUDA loads, with a warning about its size and the small model to use instead."""
from __future__ import annotations

import gradio as gr

from lina_core.adapters import is_builtin
from lina_core.pipelines.registry import ALLOWLIST, ModelUnavailable
from lina_core.service import ModelService, parameters

from .context import MODEL_QUEUE, Ctx
from .widgets import FieldDropdown, log


def describe(h: ModelService, key: str | None = None) -> str:
    """The status line under the picker: the model, where its weights came from, its
    predictor, and :func:`cpu_note`'s warning."""
    key = key or h.default_key
    try:
        m = h.get(key)
    except ModelUnavailable as exc:
        return f"**{h.label(key)}**: unavailable. {exc}"
    warn = "" if m.trained else " **(untrained: for testing the app only)**"
    cpu = cpu_note(h, key)
    return (f"**Model:** {h.label(key)} from {m.source}{warn}. "
            f"**LINA predictor:** {m.predictor_note}." + (f"\n\n**{cpu}**" if cpu else ""))


def cpu_note(h: ModelService, key: str | None = None) -> str:
    """A warning for a real (non-ToyWorld) model on a machine without CUDA: its size, and the
    small model to use instead; empty where there is nothing to warn about."""
    import torch
    key = key or h.default_key
    if is_builtin(h.kind(key)) or torch.cuda.is_available():
        return ""
    m = h.loaded(key)
    n = parameters(m.pipe) if m is not None else 0
    size = f" ({n / 1e9:.2f} B parameters)" if n >= 1e8 else \
        f" ({n / 1e6:.1f} M parameters)" if n else ""
    return (f"{h.label(key)}{size} runs on the CPU here (no CUDA): a run can take minutes. "
            f"For a quick look, pick {ALLOWLIST['toyworld'].label}, which is small and runs "
            f"on the CPU in seconds.")


def select(key: str, current: str, ctx: Ctx) -> tuple:
    """Load ``key``; on failure warn and keep ``current``. Returns (dropdown, state, status)."""
    h = ctx.handle
    keys = [k for _, k in h.choices()]
    if key not in keys:
        gr.Warning(f"model: {key!r} is not one of {keys} (video models: the Video tab)")
        return current, current, describe(h, current)
    try:
        h.get(key)
    except ModelUnavailable as exc:
        gr.Warning(str(exc))
        return (current, current,
                f"{describe(h, current)}\n\n**Could not switch:** {exc}")
    except Exception as exc:  # noqa: BLE001 - never a traceback in the UI
        log.exception("loading %s failed", key)
        msg = f"model: {h.label(key)} could not be loaded ({type(exc).__name__}: " \
              f"{(str(exc).splitlines() or [''])[0][:200]})"
        gr.Warning(msg)
        return current, current, f"{describe(h, current)}\n\n**{msg}**"
    note = cpu_note(h, key)
    if note:
        gr.Warning(note)
    return key, key, describe(h, key)


def build(ctx: Ctx) -> tuple[gr.Dropdown, gr.Markdown]:
    with gr.Row(equal_height=True):
        dd = FieldDropdown(ctx.handle.choices(), value=ctx.handle.default_key, label="model",
                           scale=1, elem_id="model-picker", field="model")
        status = gr.Markdown("loading the model ...", elem_id="model-status")
    dd.input(lambda k, c: select(k, c, ctx), [dd, ctx.model_key], [dd, ctx.model_key, status],
             api_name="select_model", **MODEL_QUEUE)
    return dd, status
