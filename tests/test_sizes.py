"""Default sizes come from the model, as its pipeline's own ``__call__`` picks them (issue 23,
item 7): a run given no height/width/frames is drawn at the size the pipeline would draw, read
off that pipeline's config and attributes, never a per-family constant.

The expected sizes are computed here from each tiny pipeline's component configs with the
formula in the installed diffusers' ``__call__`` (quoted per family in :func:`expected`), and,
for the families cheap enough at their default size, checked against a plain one-step call of
the pipeline itself.  The SD3 case is the one reported: a folder saved without T5 whose
transformer has ``sample_size`` 32 (its ``pos_embed_max_size`` 96 caps it far below the
1024 px the SD3 adapter used to ask for).
"""
from __future__ import annotations

import inspect

import pytest
import torch

from lina_core import engine
from lina_core.adapters import adapter_for
from lina_core.pipelines import registry
from tiny_pipes import adapter_of, build, engine_spec, families, sd3_pipeline

#: every tiny pipeline the adapters' table names: a new family fails here until :func:`expected`
#: says what diffusers' ``__call__`` does for it
FAMILIES = families()


def _vsf(vae) -> int:
    """``2 ** (len(vae.config.block_out_channels) - 1)``: the image pipelines'
    ``vae_scale_factor`` (CogVideoX's ``vae_scale_factor_spatial``)."""
    return 2 ** (len(vae.config.block_out_channels) - 1)


def expected(fam: str, pipe) -> tuple[int, int, int | None]:
    """(height, width, frames) the pipeline's ``__call__`` uses when given none, per diffusers."""
    fam = adapter_of(fam).kind
    if fam.startswith("toyworld"):         # draws at its UNet's sample size; clips default_frames
        r = pipe.unet.config.sample_size
        return r, r, pipe.default_frames if fam == "toyworld_video" else None
    if fam in ("sd", "sdxl"):
        # SD: ``unet.config.sample_size * vae_scale_factor``; SDXL: ``default_sample_size``
        # (= unet.config.sample_size) ``* vae_scale_factor``
        s = pipe.unet.config.sample_size * _vsf(pipe.vae)
        return s, s, None
    if fam == "sd3":      # default_sample_size = transformer.config.sample_size
        s = pipe.transformer.config.sample_size * _vsf(pipe.vae)
        return s, s, None
    if fam == "flux":     # FluxPipeline.__init__: default_sample_size = 128 (no config has one)
        s = 128 * _vsf(pipe.vae)
        return s, s, None
    if fam == "wan":      # WanPipeline.__call__'s signature: no config holds a size
        p = inspect.signature(type(pipe).__call__).parameters
        return p["height"].default, p["width"].default, p["num_frames"].default
    if fam == "cogvideox":   # sample_height/width * vae_scale_factor_spatial, sample_frames
        cfg, s = pipe.transformer.config, _vsf(pipe.vae)
        return cfg.sample_height * s, cfg.sample_width * s, cfg.sample_frames
    raise ValueError(fam)


@pytest.mark.parametrize("fam", FAMILIES)
def test_default_size_is_the_pipelines_own(fam, tmp_path):
    pipe, _ = build(fam, tmp_path)
    ad = adapter_for(pipe)
    assert ad.size(pipe, None, None, None) == expected(fam, pipe)
    if fam not in ("sd", "toyworld", "toyworld_video"):   # each side on its own (``height or``)
        h, w, f = expected(fam, pipe)
        assert ad.size(pipe, 2 * h, None, None) == (2 * h, w, f)


def test_sd_replaces_both_sides_when_one_is_missing(tmp_path):
    """StableDiffusionPipeline: ``if not height or not width:`` both take the UNet's size."""
    pipe, _ = build("sd", tmp_path)
    assert adapter_for(pipe).size(pipe, 64, None, None) == expected("sd", pipe)


@pytest.mark.parametrize("fam", ["sd", "sdxl", "sd3", "flux", "cogvideox"])
def test_default_latents_are_the_pipelines_own(fam, tmp_path):
    """A one-step call of the pipeline itself, given no size, makes latents of the shape the
    engine makes at the adapter's default size."""
    pipe, kw = build(fam, tmp_path)
    ad = adapter_for(pipe)
    embeds = kw["encoder"](["a ball"]) if "encoder" in kw else \
        ad.encode(pipe, ["a ball"], pipe._execution_device)
    out = pipe(**embeds, guidance_scale=1.0, num_inference_steps=1, output_type="latent",
               return_dict=False)[0]
    assert tuple(out.shape) == ad.latent_shape(pipe, 1, *ad.size(pipe, None, None, None))


def test_sd3_saved_without_t5_runs_at_its_own_size(tmp_path):
    """The reported case: a tiny SD3 folder (transformer ``sample_size`` 32, saved without T5)
    loads and runs through the engine with no size given, at 32 px, not at 1024."""
    pipe = sd3_pipeline(tmp_path / "tok")
    folder = tmp_path / "tiny-sd3"
    pipe.save_pretrained(folder, safe_serialization=True)
    loaded = registry.load(str(folder), device=torch.device("cpu"))
    assert loaded.text_encoder_3 is None and loaded.tokenizer_3 is None
    cfg = loaded.transformer.config
    assert cfg.sample_size == 32
    # the most this transformer can draw: 1024 px cannot be
    assert cfg.pos_embed_max_size * cfg.patch_size * loaded.vae_scale_factor < 1024
    r = engine.run(loaded, engine_spec(steps=2), previews=False)
    assert r.images.shape == (1, 32, 32, 3)
