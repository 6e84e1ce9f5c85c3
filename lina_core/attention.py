"""Cross-attention maps per text token per step, recorded through diffusers' processor API.

For one run the engine swaps each recordable attention module's processor for a
:class:`RecordingProcessor` (``Attention.set_processor``) and puts the very same original
objects back afterwards (:func:`recording`).  The recording processor calls the original for
the output, so a run with recording gives the same pictures as one without, and then works out
the text -> image attention probabilities again from the module's own projections (softmax over
*all* keys, as the original computes it; the text columns kept; mean over heads).  Which module
calls count is decided by :class:`AttentionGate`, a diffusers ``ModelHook`` on the denoiser: the
conditional half under CFG, first sample only, never the latent-guidance target pass.

Covered (``Adapter.attention_kind``): UNet cross-attention ``attn2`` (ToyWorld image and video,
SD, SDXL: ``AttnProcessor2_0``), SD3's joint attention (``JointAttnProcessor2_0``: image queries x
text keys), FLUX's double- and single-stream blocks (``FluxAttnProcessor``), Wan's ``attn2``
(``WanAttnProcessor``; its separate unconditional call is skipped) and CogVideoX's joint
attention (``CogVideoXAttnProcessor2_0``); video maps are the mean over frames.  A family whose
``attention_kind`` is None, or a module with another processor class (xformers, IP-adapter,
LoRA-style custom ones), records nothing, and the result says so (``covered``, ``modules``).
Attention masks are ignored (no covered pipeline passes one for text-to-image).
"""
from __future__ import annotations

import contextlib
import functools
import math
from dataclasses import dataclass, field
from typing import Any, Iterator

import numpy as np
import torch
import torch.nn.functional as F
from diffusers.hooks import ModelHook

from .text_tokens import prompt_tokens  # noqa: F401  (its old home: callers read it here)

GATE_NAME = "lina_attention_gate"
QUERY_CHUNK = 1024          # image queries per softmax block (bounds memory on large models)


# ---------------------------------------------------------------------- the recorder


@dataclass
class AttentionRecorder:
    """Accumulates one step's maps over layers; :meth:`close_step` files them."""
    grid: tuple[int, int]                      # the latent grid (h, w) maps are resized to
    keep: int | None = None                    # text tokens kept (the prompt's, not padding)
    state: tuple[int, int] | None = None       # (denoiser batch, first conditional row) or None
    text_len: int = 0                          # text tokens in the call (FLUX single stream)
    frames: int = 1                            # frames in one token sequence (Wan, CogVideoX)
    maps: list[torch.Tensor] = field(default_factory=list)   # per step: T x h x w
    steps: list[int] = field(default_factory=list)
    layers: int = 0
    _sum: torch.Tensor | None = None
    _n: int = 0

    def rows(self, proc_batch: int) -> slice | None:
        """The processor's rows of the first conditional sample (frames fold into the batch)."""
        if self.state is None:
            return None
        n, first = self.state
        r = max(proc_batch // max(n, 1), 1)
        return slice(first * r, first * r + r)

    def add(self, probs: torch.Tensor) -> None:
        """``probs`` (rows, image tokens, text tokens) -> this step's running sum at ``grid``."""
        p = probs.float().mean(0)
        if self.frames > 1:                    # frame-major tokens: the mean over frames
            p = p.reshape(self.frames, -1, p.shape[-1]).mean(0)
        if self.keep:
            p = p[:, : self.keep]
        h, w = grid_of(p.shape[0], self.grid)
        m = p.T.reshape(1, -1, h, w)
        if (h, w) != tuple(self.grid):
            m = F.interpolate(m, size=self.grid, mode="bilinear", align_corners=False)
        self._sum = m[0] if self._sum is None else self._sum + m[0]
        self._n += 1

    def close_step(self, step: int) -> None:
        if self._sum is None:
            return
        self.layers = max(self.layers, self._n)
        self.maps.append((self._sum / self._n).cpu())
        self.steps.append(step)
        self._sum, self._n = None, 0


def grid_of(n: int, grid: tuple[int, int]) -> tuple[int, int]:
    """The (h, w) of ``n`` image tokens whose aspect is closest to ``grid``'s."""
    target = math.log(grid[0] / grid[1])
    best = min((h for h in range(1, n + 1) if n % h == 0),
               key=lambda h: abs(math.log(h / (n // h)) - target))
    return best, n // best


# ---------------------------------------------------------------------- probabilities


def _heads(x: torch.Tensor, heads: int) -> torch.Tensor:
    """(B, N, H*d) -> (B, H, N, d)."""
    b, n, _ = x.shape
    return x.view(b, n, heads, -1).transpose(1, 2)


def text_probs(q: torch.Tensor, k: torch.Tensor, cols: slice) -> torch.Tensor:
    """softmax(q k^T / sqrt(d)) over all keys, the ``cols`` (text) columns, mean over heads:
    (B, H, Nq, d) x (B, H, Nk, d) -> (B, Nq, T).  Chunked over queries."""
    q, k = q.float(), k.float()
    scale = q.shape[-1] ** -0.5
    out = []
    for i in range(0, q.shape[2], QUERY_CHUNK):
        a = torch.softmax(q[:, :, i:i + QUERY_CHUNK] @ k.transpose(-1, -2) * scale, dim=-1)
        out.append(a[..., cols].mean(1))
    return torch.cat(out, 1)


def _cross(attn: Any, hs: torch.Tensor, ehs: torch.Tensor, rec: AttentionRecorder,
           extra: dict[str, Any]) -> torch.Tensor:
    """UNet cross-attention (``AttnProcessor2_0``'s steps up to the softmax)."""
    if attn.spatial_norm is not None:
        hs = attn.spatial_norm(hs, extra.get("temb"))
    if hs.ndim == 4:
        b, c, h, w = hs.shape
        hs = hs.view(b, c, h * w).transpose(1, 2)
    if attn.group_norm is not None:
        hs = attn.group_norm(hs.transpose(1, 2)).transpose(1, 2)
    if attn.norm_cross:
        ehs = attn.norm_encoder_hidden_states(ehs)
    q, k = _heads(attn.to_q(hs), attn.heads), _heads(attn.to_k(ehs), attn.heads)
    if attn.norm_q is not None:
        q = attn.norm_q(q)
    if attn.norm_k is not None:
        k = attn.norm_k(k)
    return text_probs(q, k, slice(0, k.shape[2]))


def _joint(attn: Any, hs: torch.Tensor, ehs: torch.Tensor, rec: AttentionRecorder,
           extra: dict[str, Any]) -> torch.Tensor:
    """SD3 joint attention (``JointAttnProcessor2_0``): image queries x [image; text] keys."""
    q, k = _heads(attn.to_q(hs), attn.heads), _heads(attn.to_k(hs), attn.heads)
    kt = _heads(attn.add_k_proj(ehs), attn.heads)
    if attn.norm_q is not None:
        q = attn.norm_q(q)
    if attn.norm_k is not None:
        k = attn.norm_k(k)
    if attn.norm_added_k is not None:
        kt = attn.norm_added_k(kt)
    n = k.shape[2]
    return text_probs(q, torch.cat([k, kt], 2), slice(n, n + kt.shape[2]))


def _flux(attn: Any, hs: torch.Tensor, ehs: torch.Tensor | None, rec: AttentionRecorder,
          extra: dict[str, Any]) -> torch.Tensor:
    """FLUX (``FluxAttnProcessor``): double stream [text; image] from two inputs, single stream
    one concatenated input whose first ``rec.text_len`` tokens are text; RoPE on both."""
    from diffusers.models.embeddings import apply_rotary_emb
    from diffusers.models.transformers.transformer_flux import _get_qkv_projections
    q, k, _, eq, ek, _ = _get_qkv_projections(attn, hs, ehs)
    q, k = attn.norm_q(q.unflatten(-1, (-1, attn.head_dim))), \
        attn.norm_k(k.unflatten(-1, (-1, attn.head_dim)))
    t = rec.text_len
    if ehs is not None and attn.added_kv_proj_dim is not None:
        eq = attn.norm_added_q(eq.unflatten(-1, (-1, attn.head_dim)))
        ek = attn.norm_added_k(ek.unflatten(-1, (-1, attn.head_dim)))
        q, k, t = torch.cat([eq, q], 1), torch.cat([ek, k], 1), eq.shape[1]
    rope = extra.get("image_rotary_emb")
    if rope is not None:
        q = apply_rotary_emb(q, rope, sequence_dim=1)
        k = apply_rotary_emb(k, rope, sequence_dim=1)
    q, k = q.transpose(1, 2), k.transpose(1, 2)
    return text_probs(q[:, :, t:], k, slice(0, t))


def _wan(attn: Any, hs: torch.Tensor, ehs: torch.Tensor, rec: AttentionRecorder,
         extra: dict[str, Any]) -> torch.Tensor:
    """Wan cross-attention ``attn2`` (``WanAttnProcessor``): video tokens x text tokens (an
    image-to-video model's image context comes first and has a softmax of its own)."""
    from diffusers.models.transformers.transformer_wan import _get_qkv_projections
    if attn.add_k_proj is not None:
        ehs = ehs[:, ehs.shape[1] - 512:]
    q, k, _ = _get_qkv_projections(attn, hs, ehs)
    q = attn.norm_q(q).unflatten(2, (attn.heads, -1)).transpose(1, 2)
    k = attn.norm_k(k).unflatten(2, (attn.heads, -1)).transpose(1, 2)
    return text_probs(q, k, slice(0, k.shape[2]))


def _cog(attn: Any, hs: torch.Tensor, ehs: torch.Tensor, rec: AttentionRecorder,
         extra: dict[str, Any]) -> torch.Tensor:
    """CogVideoX (``CogVideoXAttnProcessor2_0``): one sequence [text; video], RoPE on the video
    part: video queries x text keys."""
    from diffusers.models.embeddings import apply_rotary_emb
    t, x = ehs.shape[1], torch.cat([ehs, hs], 1)
    q, k = _heads(attn.to_q(x), attn.heads), _heads(attn.to_k(x), attn.heads)
    if attn.norm_q is not None:
        q = attn.norm_q(q)
    if attn.norm_k is not None:
        k = attn.norm_k(k)
    rope = extra.get("image_rotary_emb")
    if rope is not None:
        q = torch.cat([q[:, :, :t], apply_rotary_emb(q[:, :, t:], rope)], 2)
        if not attn.is_cross_attention:
            k = torch.cat([k[:, :, :t], apply_rotary_emb(k[:, :, t:], rope)], 2)
    return text_probs(q[:, :, t:], k, slice(0, t))


PROBS = {"cross": _cross, "joint": _joint, "flux": _flux, "wan": _wan, "cog": _cog}


# ---------------------------------------------------------------------- processor and gate


class RecordingProcessor:
    """Wraps one module's processor: its output, untouched, plus the text attention of the
    conditional first sample into the recorder.  Diffusers filters the keyword arguments a
    processor gets by its ``__call__`` signature, so this one shows the original's."""

    def __init__(self, original: Any, recorder: AttentionRecorder, kind: str):
        self.original, self.recorder, self.kind = original, recorder, kind

        def call(*args: Any, **kwargs: Any) -> Any:
            return self._call(*args, **kwargs)
        # what ``inspect.signature(processor.__call__)`` reads: the original's parameters
        self.__call__ = functools.wraps(original.__call__)(call)

    def __call__(self, attn: Any, hidden_states: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
        return self._call(attn, hidden_states, *args, **kwargs)

    def _call(self, attn: Any, hidden_states: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
        out = self.original(attn, hidden_states, *args, **kwargs)
        rows = self.recorder.rows(hidden_states.shape[0])
        if rows is not None:
            names = ("encoder_hidden_states", "attention_mask", "image_rotary_emb")
            extra = {**dict(zip(names, args)), **kwargs}
            ehs = extra.get("encoder_hidden_states")
            with torch.no_grad():
                p = PROBS[self.kind](attn, hidden_states[rows],
                                     ehs[rows] if torch.is_tensor(ehs) else None,
                                     self.recorder, extra)
            self.recorder.add(p)
        return out


class AttentionGate(ModelHook):
    """On the denoiser: each call says which rows the processors record (the conditional half
    under CFG, its first sample), or none (the latent-guidance target pass)."""

    def __init__(self, recorder: AttentionRecorder, batch: int, guidance: list[Any],
                 negative: torch.Tensor | None = None):
        super().__init__()
        self.recorder, self.batch, self.guidance = recorder, batch, guidance
        #: pipelines that run the unconditional pass as a call of its own (Wan): its embedding
        self.negative = negative

    def _skip(self, ehs: Any) -> bool:
        from .guidance import is_unconditional
        return (any(getattr(h, "_inner", False) for h in self.guidance) or not torch.is_tensor(ehs)
                or is_unconditional(ehs, self.negative))

    def new_forward(self, module: torch.nn.Module, *args: Any, **kwargs: Any) -> Any:
        rec, prev = self.recorder, (self.recorder.state, self.recorder.text_len)
        ehs = kwargs.get("encoder_hidden_states", args[2] if len(args) > 2 else None)
        if self._skip(ehs):
            rec.state = None
        else:
            n = ehs.shape[0]
            rec.state, rec.text_len = (n, max(n - self.batch, 0)), ehs.shape[1]
        try:
            return self.fn_ref.original_forward(*args, **kwargs)
        finally:
            rec.state, rec.text_len = prev


def recordable(denoiser: torch.nn.Module, kind: str) -> list[torch.nn.Module]:
    """The modules of ``denoiser`` whose text attention ``kind`` knows how to read."""
    from diffusers.models.attention_processor import (AttnProcessor2_0,
                                                      CogVideoXAttnProcessor2_0,
                                                      JointAttnProcessor2_0)
    from diffusers.models.transformers.transformer_flux import FluxAttnProcessor
    from diffusers.models.transformers.transformer_wan import WanAttnProcessor
    want = {"cross": AttnProcessor2_0, "joint": JointAttnProcessor2_0, "flux": FluxAttnProcessor,
            "wan": WanAttnProcessor, "cog": CogVideoXAttnProcessor2_0}
    out = []
    for _, m in denoiser.named_modules():
        proc = getattr(m, "processor", None)
        if not hasattr(m, "set_processor") or type(proc) is not want[kind]:
            continue
        if kind in ("cross", "wan") and not getattr(m, "is_cross_attention", False):
            continue
        if kind == "joint" and getattr(m, "add_k_proj", None) is None:
            continue
        out.append(m)
    return out


@contextlib.contextmanager
def recording(denoisers: list[torch.nn.Module], kind: str | None, recorder: AttentionRecorder,
              batch: int, guidance: list[Any], negative: torch.Tensor | None = None,
              ) -> Iterator[int]:
    """Recording processors and a gate on each denoiser for the block; afterwards each module
    has its own processor object back and no gate.  Yields the number of modules recorded."""
    from .guidance import attached
    mods = [m for d in denoisers for m in (recordable(d, kind) if kind else [])]
    originals = [m.processor for m in mods]
    try:
        for m, p in zip(mods, originals):
            m.set_processor(RecordingProcessor(p, recorder, kind))
        gates = [AttentionGate(recorder, batch, guidance, negative) for _ in denoisers]
        with attached(denoisers, gates, GATE_NAME):
            yield len(mods)
    finally:
        for m, p in zip(mods, originals):
            m.set_processor(p)


# ---------------------------------------------------------------------- one run's recording


@dataclass
class AttentionRun:
    """What the engine keeps of a run's attention: the recorder, the prompt's token strings."""
    recorder: AttentionRecorder
    tokens: list[str]
    kind: str | None
    modules: int = 0
    negative: torch.Tensor | None = None     # a separate unconditional call's embedding (Wan)

    def result(self) -> dict[str, Any]:
        """``RunResult.extra["attention"]``: maps (steps x tokens x h x w, float32, the first
        sample's conditional pass), the run's step numbers, token strings, the latent grid."""
        r = self.recorder
        maps = torch.stack(r.maps).numpy() if r.maps else \
            np.zeros((0, len(self.tokens), *r.grid), np.float32)
        return {"maps": maps, "steps": list(r.steps), "tokens": list(self.tokens),
                "grid": list(r.grid), "modules": self.modules, "kind": self.kind,
                "covered": self.kind is not None and self.modules > 0}


def attention_run(pipe: Any, spec: Any, ad: Any, g: Any, text_len: int,
                  shape: tuple[int, ...], cache: Any, k: int,
                  negative: torch.Tensor | None = None) -> AttentionRun:
    """A run's recording, with a cache's maps of the steps before ``k`` already in; checks that
    a guidance mask taken from attention has words to take it from."""
    from .interventions import SpecError
    tokens, keep = ad.attention_tokens(pipe, spec.prompt, text_len)
    rec = AttentionRecorder(tuple(ad.spatial(shape)), keep,
                            frames=ad.attention_frames(pipe, shape))
    prev = getattr(cache, "attention", None) if k else None
    for m, s in zip(*(prev["maps"], prev["steps"]) if prev else ((), ())):
        if s < k:
            rec.maps.append(torch.from_numpy(np.asarray(m)))
            rec.steps.append(s)
    tokens = tokens[:keep] if keep else tokens
    lg = spec.latent_guidance
    if lg is not None and lg.mask_from == "attention":
        if lg.mask_node not in node_tokens(g, tokens):
            raise SpecError(f"latent_guidance.mask_node: no word of the prompt names node "
                            f"{lg.mask_node!r}, so it has no attention to take a mask from; "
                            f"use mask_from 'graph' (or 'run' on ToyWorld)")
        if k >= lg.start and not any(s < lg.start for s in rec.steps):
            raise SpecError("latent_guidance.mask_from: 'attention' from a cached step needs "
                            "a cache recorded with attention=True")
    return AttentionRun(rec, tokens, ad.attention_kind, negative=negative)


@contextlib.contextmanager
def recorded(pipe: Any, att: AttentionRun | None, batch: int, guidance: list[Any]
             ) -> Iterator[None]:
    """The engine's block: record into ``att`` on every denoiser of ``pipe`` (or do nothing)."""
    if att is None or att.kind is None:
        yield
        return
    from .adapters import adapter_for
    dens = [getattr(pipe, n) for n in adapter_for(pipe).denoiser_names(pipe)]
    with recording(dens, att.kind, att.recorder, batch, guidance, att.negative) as n:
        att.modules = n
        yield


# ---------------------------------------------------------------------- tokens and node masks


def words_of(tokens: list[str]) -> list[tuple[str, list[int]]]:
    """Token strings -> (word, token positions): CLIP BPE ends a word with ``</w>``,
    SentencePiece starts one with ``▁``; special tokens are skipped."""
    out: list[tuple[str, list[int]]] = []
    cur, pos = "", []
    for i, t in enumerate(tokens):
        if not t or (t.startswith("<") and t.endswith(">")) or t.startswith("<|"):
            if cur:
                out.append((cur, pos))
            cur, pos = "", []
            continue
        if t.startswith("▁") and cur:
            out.append((cur, pos))
            cur, pos = "", []
        cur, pos = cur + t.replace("</w>", "").lstrip("▁").lower(), pos + [i]
        if t.endswith("</w>"):
            out.append((cur, pos))
            cur, pos = "", []
    if cur:
        out.append((cur, pos))
    return out


#: the words that name a node that is not an object, by its type (surfaces, effects) or kind
TYPE_WORDS = {"mirror": ("mirror",), "water": ("water", "beaker"), "beam": ("balance",),
              "floor": ("floor",), "light": ("lit",), "reflection": ("reflection",),
              "shadow": ("shadow",), "floating": ("floating",), "sinking": ("sunk", "bottom"),
              "refraction": ("refraction", "bent"), "tilt": ("tilting",)}


def node_tokens(graph: Any, tokens: list[str]) -> dict[str, list[int]]:
    """Token positions that name each node: an object <- the k-th object noun of the prompt
    and the adjectives right before it that are its attributes; a surface or effect <- its
    type's words and the adjectives before them; the light <- "lit" and its side.  A node no
    word names (an implicit effect in a user's prompt) is left out."""
    from .csg import SHAPES
    words = words_of(tokens)
    out: dict[str, list[int]] = {}
    nouns = [i for i, (w, _) in enumerate(words) if w in SHAPES]
    for k, n in enumerate(graph.nodes("object")):
        if k < len(nouns):
            out[n] = _with_adjectives(words, nouns[k], graph.node(n)["attrs"])
    for n in graph.graph.nodes:
        d = graph.node(n)
        if d["kind"] == "object":
            continue
        key = "light" if d["kind"] == "light" else d["attrs"].get("type", "")
        # an open-world entity is named by its noun (singular or plural), others by type words
        names = _noun_forms(d["attrs"]["noun"]) if d["kind"] == "entity" and \
            d["attrs"].get("noun") else TYPE_WORDS.get(key, ())
        pos = [p for i, (w, _) in enumerate(words) if w in names
               for p in _with_adjectives(words, i, d["attrs"])]
        if d["kind"] == "light":
            pos += [p for w, ps in words if w == d["attrs"].get("side") for p in ps]
        if pos:
            out[n] = sorted(set(pos))
    return out


def _noun_forms(noun: str) -> tuple[str, ...]:
    from .csg.knowledge import ENGLISH
    return (noun, ENGLISH.plural_noun(noun))


def _with_adjectives(words: list[tuple[str, list[int]]], i: int, attrs: dict[str, Any]
                     ) -> list[int]:
    values = {str(v) for v in attrs.values()}
    pos, j = list(words[i][1]), i - 1
    while j >= 0 and words[j][0] in values:
        pos = words[j][1] + pos
        j -= 1
    return pos


def node_masks(graph: Any, attention: dict[str, Any]) -> dict[str, np.ndarray]:
    """{node: steps x h x w} soft masks in [0, 1]: the mean map of the node's tokens, min-max
    normalised per step.  ``attention`` is ``RunResult.extra["attention"]``."""
    maps = np.asarray(attention["maps"], np.float32)
    out = {}
    for n, pos in node_tokens(graph, attention["tokens"]).items():
        pos = [p for p in pos if p < maps.shape[1]]
        if pos:
            out[n] = normalise(maps[:, pos].mean(1))
    return out


def inpaint_mask(graph: Any, node: str, attention: dict[str, Any] | None,
                 shape: tuple[int, int]) -> torch.Tensor:
    """Inpainting's mask from a reference run's attention: the node's mean map over the run's
    steps, thresholded at mean + std (the rule the IoU measurement uses) and grown by one cell
    so the node's edge is regenerated too."""
    from .interventions import SpecError
    if attention is None or not len(attention.get("maps", ())):
        raise SpecError("inpaint.mask_from: 'attention' needs a cache recorded with "
                        "attention=True (the baseline run's attention)")
    if list(attention["grid"]) != list(shape):
        raise SpecError(f"inpaint.mask_from: 'attention' needs spatial latents; this model's "
                        f"are {tuple(shape)}, its attention grid {tuple(attention['grid'])}")
    masks = node_masks(graph, {"maps": np.asarray(attention["maps"]).mean(0)[None],
                               "tokens": attention["tokens"]})
    if node not in masks:
        raise SpecError(f"inpaint.mask_node: no word of the prompt names node {node!r}, so it "
                        f"has no attention to take a mask from; use mask_from 'graph'")
    m = torch.from_numpy(threshold(masks[node][0]).astype(np.float32))
    return F.max_pool2d(m[None, None], 3, stride=1, padding=1)[0, 0]


def normalise(m: np.ndarray) -> np.ndarray:
    """Min-max per leading index (step): maps of different steps become comparable."""
    lo = m.min(axis=(-2, -1), keepdims=True)
    hi = m.max(axis=(-2, -1), keepdims=True)
    return (m - lo) / np.maximum(hi - lo, 1e-12)


def threshold(m: np.ndarray, rule: str = "mean+std", area: int | None = None) -> np.ndarray:
    """A binary mask of one map: ``mean+std`` (needs nothing else) or ``topk`` (the ``area``
    highest pixels: the ground truth's area, so only *where* is judged, not how much)."""
    if rule == "topk":
        flat = m.ravel()
        k = int(max(1, min(area or 1, flat.size)))
        out = np.zeros(flat.size, bool)
        out[np.argsort(-flat, kind="stable")[:k]] = True
        return out.reshape(m.shape)
    return m > m.mean() + m.std()


def iou(a: np.ndarray, b: np.ndarray) -> float:
    u = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / u) if u else float("nan")


# ---------------------------------------------------------------------- for the UI


#: the height of the row of step numbers over a strip's columns (:func:`attention_strip`)
STEP_HEADER_PX = 12


def attention_strip(masks: dict[str, np.ndarray], steps: list[int] | None = None,
                    cell: int = 48, image: np.ndarray | None = None,
                    step_labels: list[int] | None = None) -> np.ndarray:
    """One row per node, one column per chosen step: each node's soft mask as a heat map (over
    ``image``, H x W x 3 uint8, when given), with the node id at the row's left.  With
    ``step_labels`` (one per column: the run's step numbers), a row of :data:`STEP_HEADER_PX`
    on top says each column's step ("step 12"; "12" where a cell is too narrow).  uint8 RGB."""
    from PIL import Image, ImageDraw
    if not masks:
        return np.full((cell, cell * 3, 3), 255, np.uint8)
    n_steps = next(iter(masks.values())).shape[0]
    steps = [s for s in (steps if steps is not None else range(n_steps)) if 0 <= s < n_steps]
    label = 8 * max(len(n) for n in masks) + 6
    top = STEP_HEADER_PX if step_labels is not None else 0
    canvas = Image.new("RGB", (label + cell * len(steps), top + cell * len(masks)), "white")
    draw = ImageDraw.Draw(canvas)
    base = None if image is None else Image.fromarray(image).resize((cell, cell))
    if top:
        for c, s in enumerate(list(step_labels)[:len(steps)]):
            text = f"step {s}" if cell >= 6 * len(f"step {s}") + 2 else str(s)
            draw.text((label + c * cell + 1, 0), text, fill="black")
    for r, (node, m) in enumerate(masks.items()):
        draw.text((3, top + r * cell + cell // 2 - 5), node, fill="black")
        for c, s in enumerate(steps):
            canvas.paste(_heat(m[s], cell, base), (label + c * cell, top + r * cell))
    return np.asarray(canvas)


def _heat(m: np.ndarray, cell: int, base: Any) -> Any:
    """A [0, 1] map as blue-to-yellow, blended 50/50 over ``base`` if given."""
    from PIL import Image
    v = np.clip(m, 0, 1)[..., None]
    rgb = (np.array([40, 40, 150]) * (1 - v) + np.array([255, 220, 40]) * v).astype(np.uint8)
    im = Image.fromarray(rgb).resize((cell, cell), Image.NEAREST)
    return Image.blend(base.convert("RGB"), im, 0.5) if base is not None else im


def run_strip(graph: Any, attention: dict[str, Any], image: np.ndarray | None = None,
              columns: int = 6, cell: int = 48) -> tuple[np.ndarray, list[int]]:
    """What the Scene and Intervene tabs show for a run: every node a word names, at
    ``columns`` evenly spaced steps, each column headed by its step number; returns the picture
    and the run's step numbers shown."""
    n = len(attention.get("steps", []))
    idx = sorted({int(round(v)) for v in np.linspace(0, n - 1, min(columns, n))}) if n else []
    shown = [attention["steps"][i] for i in idx]
    strip = attention_strip(node_masks(graph, attention) if n else {}, idx, cell, image,
                            step_labels=shown)
    return strip, shown
