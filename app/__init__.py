"""The Gradio UI of LINA explorer: one module per tab, shared widgets, and the model calls.

No model math lives here; every model call goes through :mod:`app.state` into ``lina_core``.
"""
from .build import build_demo, launch_kwargs

__all__ = ["build_demo", "launch_kwargs"]
