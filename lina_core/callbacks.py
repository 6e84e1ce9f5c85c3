"""The per-step jobs of a run, each a diffusers ``PipelineCallback``, composed for the run.

The pipeline calls ``callback_on_step_end`` after each step with the step index *of its call*;
a run that starts from a cached step ``k`` calls step 0 what is step ``k`` of the schedule, so
every job is built with that offset and works in the run's steps.  Order matters and is fixed by
:func:`compose`: keep the inpainting's known region, decode a preview, record the latents, place
a mask read off the run, then set up the next step (guidance window, prompt embedding).
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
from diffusers.callbacks import MultiPipelineCallbacks, PipelineCallback

from .guidance import GuidanceHook, box_mask
from .samplers import Noiser

Kwargs = dict[str, Any]


class StepJob(PipelineCallback):
    """One job run after every step; :meth:`at` sees the run's step, not the call's index."""

    tensor_inputs = ["latents"]

    def __init__(self, offset: int):
        super().__init__()
        self.offset = offset

    def callback_fn(self, pipeline: Any, step_index: int, timestep: Any, kw: Kwargs) -> Kwargs:
        return self.at(pipeline, self.offset + step_index, kw)

    def at(self, pipe: Any, step: int, kw: Kwargs) -> Kwargs:
        raise NotImplementedError


class StepJobs(MultiPipelineCallbacks):
    """The jobs in order; asks the pipeline for each tensor input once."""

    @property
    def tensor_inputs(self) -> list[str]:
        return list(dict.fromkeys(super().tensor_inputs))


class Watch(StepJob):
    """Tell the run's watcher (:mod:`.watch`) a step is done; it may stop the run (by raising
    :class:`~lina_core.watch.Cancelled`) before the next step starts.  First of the jobs, so a
    stopped run does no more work for the step."""

    def __init__(self, offset: int, total: int, watcher: Any):
        super().__init__(offset)
        self.total, self.watcher = total, watcher

    def at(self, pipe, step, kw):
        self.watcher(step + 1, self.total)
        return kw


class KeepKnown(StepJob):
    """Masked inpainting: outside the mask the latents follow the re-noised reference."""

    def __init__(self, offset: int, mask: torch.Tensor, ref: torch.Tensor, noise: torch.Tensor,
                 noiser: Noiser):
        super().__init__(offset)
        self.mask, self.ref, self.noise, self.noiser = mask, ref, noise, noiser

    def at(self, pipe, step, kw):
        x = kw["latents"]
        m = self.mask.to(x).reshape((1,) * (x.dim() - 2) + tuple(self.mask.shape))
        known = self.noiser.renoise(self.ref, self.noise, step + 1)
        kw["latents"] = m * x + (1 - m) * known.to(x)
        return kw


class Previews(StepJob):
    """Decode the predicted clean image of each step (pixel-latent models only)."""

    def __init__(self, offset: int, latents: list[torch.Tensor], out: list[np.ndarray],
                 noiser: Noiser, adapter: Any):
        super().__init__(offset)
        self.latents, self.out, self.noiser, self.adapter = latents, out, noiser, adapter

    def at(self, pipe, step, kw):
        x0 = self.noiser.x0(self.latents[-1], kw["latents"], step)
        d = self.adapter.decode_preview(pipe, x0)
        if d is not None:
            self.out.append(d)
        return kw


class RecordLatents(StepJob):
    """The trajectory: the latent entering every step, for branches that start later."""

    def __init__(self, offset: int, latents: list[torch.Tensor]):
        super().__init__(offset)
        self.latents = latents

    def at(self, pipe, step, kw):
        self.latents.append(kw["latents"].detach().clone())
        return kw


class RunMask(StepJob):
    """At the guidance's first step, place its mask where the run's predicted image put the
    node (``latent_guidance.mask_from = "run"``, pixel-latent models)."""

    def __init__(self, offset: int, graph: Any, guidance: Any, hooks: list[GuidanceHook],
                 latents: list[torch.Tensor], noiser: Noiser, spatial: tuple[int, int]):
        super().__init__(offset)
        self.graph, self.lg, self.hooks, self.latents = graph, guidance, hooks, latents
        self.noiser, self.spatial = noiser, spatial
        self.placed: dict[str, Any] = {}

    def at(self, pipe, step, kw):
        if step + 1 == self.lg.start:
            self.place(self.latents[-2], self.latents[-1], step + 1)
        return kw

    def place(self, x_prev: torch.Tensor, x_next: torch.Tensor, step: int) -> None:
        x0 = self.noiser.x0(x_prev, x_next, step - 1)
        found = mask_from_run(self.graph, self.lg, x0, self.spatial, step)
        mask = found.pop("mask")
        for h in self.hooks:
            h.mask = mask
        self.placed = found


class AttentionStep(StepJob):
    """Close the step's attention recording: the maps summed over layers become its one map."""

    def __init__(self, offset: int, recorder: Any):
        super().__init__(offset)
        self.recorder = recorder

    def at(self, pipe, step, kw):
        self.recorder.close_step(step)
        return kw


class AttentionMask(StepJob):
    """At the guidance's first step, its mask is the node's attention over the steps before it
    (``latent_guidance.mask_from = "attention"``, any covered family: no layout needed)."""

    def __init__(self, offset: int, graph: Any, guidance: Any, hooks: list[GuidanceHook],
                 recorder: Any, tokens: list[str]):
        super().__init__(offset)
        self.graph, self.lg, self.hooks, self.recorder = graph, guidance, hooks, recorder
        self.tokens = tokens
        self.placed: dict[str, Any] = {}

    def at(self, pipe, step, kw):
        if step + 1 == self.lg.start:
            self.place()
        return kw

    def place(self) -> None:
        from .attention import node_masks
        steps = [i for i, s in enumerate(self.recorder.steps) if s < self.lg.start]
        mean = torch.stack([self.recorder.maps[i] for i in steps]).mean(0)
        m = node_masks(self.graph, {"maps": mean[None].numpy(), "tokens": self.tokens})
        mask = torch.from_numpy(m[self.lg.mask_node][0])
        for h in self.hooks:
            h.mask = mask
        self.placed = {"node": self.lg.mask_node, "from": "attention",
                       "steps": [self.recorder.steps[i] for i in steps],
                       "area": round(float(mask.mean()), 4)}


class GuidanceWindow(StepJob):
    """Guidance is on for steps ``[start, end)``."""

    def __init__(self, offset: int, hooks: list[GuidanceHook], start: int, end: int, steps: int):
        super().__init__(offset)
        self.hooks, self.start, self.end, self.steps = hooks, start, end, steps
        self.set(offset)

    def set(self, step: int) -> None:
        for h in self.hooks:
            h.active = self.start <= step < self.end

    def at(self, pipe, step, kw):
        if step + 1 < self.steps:
            self.set(step + 1)
        return kw


class PromptSchedule(StepJob):
    """The next step's positive prompt embedding (the conditional half under CFG)."""

    tensor_inputs = ["prompt_embeds"]

    def __init__(self, offset: int, embeds_at: list[torch.Tensor]):
        super().__init__(offset)
        self.embeds_at = embeds_at

    def at(self, pipe, step, kw):
        if step + 1 < len(self.embeds_at) and "prompt_embeds" in kw:
            emb, new = kw["prompt_embeds"], self.embeds_at[step + 1]
            if emb.shape[0] == 2 * new.shape[0]:
                kw["prompt_embeds"] = torch.cat([emb[: new.shape[0]], new.to(emb)])
            else:
                kw["prompt_embeds"] = new.to(emb)
        return kw


def mask_from_run(g: Any, lg: Any, x0: torch.Tensor, spatial: tuple[int, int],
                  step: int) -> dict[str, Any]:
    """The guidance mask of ``lg.mask_node`` from the run's predicted clean image: the graph's
    layout moved to where the model drew the first object (``toyworld.align``)."""
    from .adapters import to_uint8_images
    from .toyworld.align import align_layout
    img = to_uint8_images(x0[:1])[0]
    if img.ndim == 4:                      # a clip: align on its first frame
        img = img[0]
    aligned = align_layout(g, img)
    box = aligned.node(lg.mask_node)["box"]
    return {"mask": box_mask(box, spatial, lg.mask_softness), "node": lg.mask_node,
            "box": [round(float(v), 4) for v in box], "step": step,
            "moved": box != g.node(lg.mask_node)["box"]}
