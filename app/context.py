"""What every tab gets: the model service, the runs store, and the per-session shared state."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import gradio as gr

from lina_core.service import ModelService, VideoService

from .runstore import RunStore
from .waiting import MODEL_QUEUE  # noqa: F401  (the tabs read it here)


@dataclass
class Ctx:
    handle: ModelService
    store: RunStore
    model_key: gr.State          # the session's model (last one that loaded)
    scene: gr.State              # {"prompt": str, "graph": dict} shared by all tabs
    cache_presets: bool = False
    video: VideoService | None = None   # the Video tab's model (not the picker's)
    parts: dict[str, Any] = field(default_factory=dict)   # components other tabs may wire to

    def preset_cache(self) -> Any:
        """The talk presets' cache (:class:`app.preset_cache.PresetCache`), per model weights
        and app code under the runs folder; None when presets are not cached."""
        if not self.cache_presets:
            return None
        from .preset_cache import PresetCache, preset_folder
        return PresetCache(preset_folder(self.store.root, self.handle, self.video))
