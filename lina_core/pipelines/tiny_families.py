"""Tiny random-weight pipelines of every family the adapters know, built offline from configs:
the engine and contract tests run on them, and ``python -m lina_core device-check`` times them
on a device (so they live in the library, not under ``tests/``).

The component sizes follow diffusers' own ``get_dummy_components`` in
``tests/pipelines/{stable_diffusion,stable_diffusion_3,flux}``; the CLIP tokenizer is the ToyWorld
one (:func:`lina_core.pipelines.tokenizer.write_tokenizer`), so nothing comes from a model hub.
T5 cannot be tokenized offline, so FLUX's T5 side is a deterministic stand-in encoder
(:func:`flux_encoder`) passed to ``engine.run(..., encoder=...)``, or (:func:`flux_pipeline` with
``t5=True``) a tiny random ``T5EncoderModel`` behind the CLIP tokenizer.  The video pipelines
(:func:`wan_pipeline`, :func:`cogvideox_pipeline`, after ``tests/pipelines/{wan,cogvideo}``) use
the same tiny T5 behind the CLIP tokenizer, and the released models' default schedulers (UniPC
with flow sigmas for Wan, CogVideoX's DDIM), so the engine swaps samplers as on real weights.
"""
from __future__ import annotations

import os
import zlib
from pathlib import Path
from typing import Any

import torch

from .tokenizer import write_tokenizer
from .toyworld import build_pipeline

PROMPT = "a large red ball on a small round mirror"
TARGET = "a small blue cube on a large square mirror"

#: the device the engine and contract tests run their pipelines on: cpu, unless
#: ``LINA_TEST_DEVICE`` says otherwise (``python -m lina_core device-check`` sets it)
DEVICE = os.environ.get("LINA_TEST_DEVICE", "cpu")


def on_device(pipe: Any) -> Any:
    """``pipe`` on :data:`DEVICE` (as it is on the CPU)."""
    return pipe if DEVICE == "cpu" else pipe.to(DEVICE)


def tokenizer(folder: str | Path):
    return write_tokenizer(folder)


def _clip_config(vocab: int):
    from transformers import CLIPTextConfig
    return CLIPTextConfig(bos_token_id=0, eos_token_id=1, pad_token_id=1, hidden_size=32,
                          intermediate_size=37, layer_norm_eps=1e-5, num_attention_heads=4,
                          num_hidden_layers=2, vocab_size=vocab, hidden_act="gelu",
                          projection_dim=32, max_position_embeddings=40)


def _t5(vocab: int):
    """A tiny random T5 encoder (d_model 32); its tokenizer is the offline CLIP one.  In eval mode,
    as ``from_pretrained`` leaves it: T5's dropout would make every encoding different."""
    from transformers import T5Config, T5EncoderModel
    return T5EncoderModel(T5Config(vocab_size=vocab, d_model=32, d_kv=8, d_ff=37, num_layers=2,
                                   num_heads=4, relative_attention_num_buckets=8, pad_token_id=1,
                                   eos_token_id=1, decoder_start_token_id=0)).eval()


def _vae(block_out_channels, latent_channels: int, **kw):
    from diffusers import AutoencoderKL
    n = len(block_out_channels)
    return AutoencoderKL(block_out_channels=list(block_out_channels), in_channels=3,
                         out_channels=3, down_block_types=["DownEncoderBlock2D"] * n,
                         up_block_types=["UpDecoderBlock2D"] * n, latent_channels=latent_channels,
                         layers_per_block=1, **kw)


def toyworld_pipeline(folder: str | Path, resolution: int = 32):
    write_tokenizer(folder)
    pipe = build_pipeline(str(folder), resolution, small=True, seed=0)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def toyworld_video_pipeline(folder: str | Path, trained_motion: bool = True,
                            resolution: int = 32):
    """The tiny ToyWorld pipeline inflated to video.  ``trained_motion``: give the temporal
    layers (the identity after inflation) random output weights, as training does, so frames are
    not denoised independently and their order matters.  ``resolution``: 32 as the app draws;
    the engine's and the pipeline contract's tests use 16 (a quarter of the pixels of eight
    frames: the 5-D code paths are the same, at a third of the time)."""
    from diffusers.models.resnet import TemporalConvLayer
    from diffusers.models.transformers.transformer_temporal import TransformerTemporalModel

    from lina_core.pipelines.toyworld_video import inflate
    pipe = inflate(toyworld_pipeline(folder, resolution))
    if trained_motion:
        g = torch.Generator().manual_seed(1)
        with torch.no_grad():
            for m in pipe.unet.modules():
                # temporal attention has no position encoding; the temporal convs order frames
                out = m.proj_out if isinstance(m, TransformerTemporalModel) else \
                    m.conv4[-1] if isinstance(m, TemporalConvLayer) else None
                if out is not None:
                    out.weight.copy_(torch.randn(out.weight.shape, generator=g) * 0.1)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def _unet(**kw):
    """The SD-style tiny UNet (two levels, cross-attention at the lower one)."""
    from diffusers import UNet2DConditionModel
    return UNet2DConditionModel(block_out_channels=(4, 8), layers_per_block=1, sample_size=16,
                                in_channels=4, out_channels=4,
                                down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
                                up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
                                norm_num_groups=2, **kw)


def sd_pipeline(folder: str | Path):
    from diffusers import EulerDiscreteScheduler, StableDiffusionPipeline
    from transformers import CLIPTextModel
    tok = tokenizer(folder)
    torch.manual_seed(0)
    unet = _unet(cross_attention_dim=32)
    vae = _vae((4, 8), 4, norm_num_groups=2)
    sched = EulerDiscreteScheduler(beta_start=0.00085, beta_end=0.012,
                                   beta_schedule="scaled_linear", timestep_spacing="linspace",
                                   steps_offset=1)
    pipe = StableDiffusionPipeline(unet=unet, vae=vae, text_encoder=CLIPTextModel(
        _clip_config(len(tok))), tokenizer=tok, scheduler=sched, safety_checker=None,
        feature_extractor=None, requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def sdxl_pipeline(folder: str | Path):
    """After diffusers' SDXL ``get_dummy_components``: two CLIP encoders (32 + 32 -> 64 cross
    attention), text-time embeddings of 8 per size number plus the pooled 32."""
    from diffusers import EulerDiscreteScheduler, StableDiffusionXLPipeline
    from transformers import CLIPTextModel, CLIPTextModelWithProjection
    tok = tokenizer(folder)
    torch.manual_seed(0)
    unet = _unet(attention_head_dim=(2, 4), use_linear_projection=True,
                 addition_embed_type="text_time", addition_time_embed_dim=8,
                 transformer_layers_per_block=(1, 2), projection_class_embeddings_input_dim=80,
                 cross_attention_dim=64)
    sched = EulerDiscreteScheduler(beta_start=0.00085, beta_end=0.012,
                                   beta_schedule="scaled_linear", timestep_spacing="leading",
                                   steps_offset=1)
    pipe = StableDiffusionXLPipeline(
        unet=unet, vae=_vae((4, 8), 4, norm_num_groups=2, sample_size=32),
        text_encoder=CLIPTextModel(_clip_config(len(tok))), tokenizer=tok,
        text_encoder_2=CLIPTextModelWithProjection(_clip_config(len(tok))), tokenizer_2=tok,
        scheduler=sched)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def sd3_pipeline(folder: str | Path, shift: float = 3.0):
    from diffusers import (FlowMatchEulerDiscreteScheduler, SD3Transformer2DModel,
                           StableDiffusion3Pipeline)
    from transformers import CLIPTextModelWithProjection
    tok = tokenizer(folder)
    torch.manual_seed(0)
    transformer = SD3Transformer2DModel(sample_size=32, patch_size=1, in_channels=4, num_layers=1,
                                        attention_head_dim=8, num_attention_heads=4,
                                        caption_projection_dim=32, joint_attention_dim=32,
                                        pooled_projection_dim=64, out_channels=4)
    vae = _vae((4,), 4, sample_size=32, norm_num_groups=1, use_quant_conv=False,
               use_post_quant_conv=False, shift_factor=0.0609, scaling_factor=1.5035)
    pipe = StableDiffusion3Pipeline(
        transformer=transformer, vae=vae,
        text_encoder=CLIPTextModelWithProjection(_clip_config(len(tok))), tokenizer=tok,
        text_encoder_2=CLIPTextModelWithProjection(_clip_config(len(tok))), tokenizer_2=tok,
        text_encoder_3=None, tokenizer_3=None,
        scheduler=FlowMatchEulerDiscreteScheduler(shift=shift))
    pipe.set_progress_bar_config(disable=True)
    return pipe


def flux_pipeline(folder: str | Path, dynamic_shift: bool = False, t5: bool = False):
    """``dynamic_shift``: FLUX.1-dev's scheduler (resolution-dependent ``mu``), else schnell's."""
    from diffusers import FlowMatchEulerDiscreteScheduler, FluxPipeline, FluxTransformer2DModel
    from transformers import CLIPTextModel
    tok = tokenizer(folder)
    torch.manual_seed(0)
    transformer = FluxTransformer2DModel(patch_size=1, in_channels=4, num_layers=1,
                                         num_single_layers=1, attention_head_dim=16,
                                         num_attention_heads=2, joint_attention_dim=32,
                                         pooled_projection_dim=32, axes_dims_rope=[4, 4, 8])
    vae = _vae((4,), 1, sample_size=32, norm_num_groups=1, use_quant_conv=False,
               use_post_quant_conv=False, shift_factor=0.0609, scaling_factor=1.5035)
    sched = (FlowMatchEulerDiscreteScheduler(use_dynamic_shifting=True, base_shift=0.5,
                                             max_shift=1.15, base_image_seq_len=256,
                                             max_image_seq_len=4096, shift=3.0)
             if dynamic_shift else FlowMatchEulerDiscreteScheduler())
    te2 = tok2 = None
    if t5:
        te2, tok2 = _t5(len(tok)), tok
    pipe = FluxPipeline(transformer=transformer, vae=vae,
                        text_encoder=CLIPTextModel(_clip_config(len(tok))), tokenizer=tok,
                        text_encoder_2=te2, tokenizer_2=tok2, scheduler=sched)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def _wan_transformer():
    from diffusers import WanTransformer3DModel
    return WanTransformer3DModel(patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=12,
                                 in_channels=16, out_channels=16, text_dim=32, freq_dim=256,
                                 ffn_dim=32, num_layers=2, cross_attn_norm=True,
                                 qk_norm="rms_norm_across_heads", rope_max_seq_len=32)


def wan_pipeline(folder: str | Path, two_stage: bool = False):
    """Wan 2.1 T2V (``two_stage``: Wan 2.2 A14B, a second transformer for the low-noise steps
    below ``boundary_ratio``), with Wan's own UniPC flow-sigma scheduler."""
    from diffusers import AutoencoderKLWan, UniPCMultistepScheduler, WanPipeline
    tok = tokenizer(folder)
    torch.manual_seed(0)
    vae = AutoencoderKLWan(base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1,
                           temperal_downsample=[False, True, True])
    torch.manual_seed(0)
    text_encoder = _t5(len(tok))
    torch.manual_seed(0)
    transformer = _wan_transformer()
    transformer_2 = _wan_transformer() if two_stage else None
    sched = UniPCMultistepScheduler(prediction_type="flow_prediction", use_flow_sigmas=True,
                                    flow_shift=3.0)
    pipe = WanPipeline(tokenizer=tok, text_encoder=text_encoder, vae=vae, scheduler=sched,
                       transformer=transformer, transformer_2=transformer_2,
                       boundary_ratio=0.875 if two_stage else None)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def cogvideox_pipeline(folder: str | Path):
    """CogVideoX-2b's layout (latents B x F x C x H x W) with its own DDIM scheduler config
    (v-prediction, zero terminal SNR, SNR shift 3, trailing spacing)."""
    from diffusers import (AutoencoderKLCogVideoX, CogVideoXDDIMScheduler, CogVideoXPipeline,
                           CogVideoXTransformer3DModel)
    tok = tokenizer(folder)
    torch.manual_seed(0)
    transformer = CogVideoXTransformer3DModel(num_attention_heads=4, attention_head_dim=8,
                                              in_channels=4, out_channels=4, time_embed_dim=2,
                                              text_embed_dim=32, num_layers=1, sample_width=2,
                                              sample_height=2, sample_frames=9, patch_size=2,
                                              temporal_compression_ratio=4,
                                              max_text_seq_length=16)
    torch.manual_seed(0)
    vae = AutoencoderKLCogVideoX(in_channels=3, out_channels=3,
                                 down_block_types=("CogVideoXDownBlock3D",) * 4,
                                 up_block_types=("CogVideoXUpBlock3D",) * 4,
                                 block_out_channels=(8, 8, 8, 8), latent_channels=4,
                                 layers_per_block=1, norm_num_groups=2,
                                 temporal_compression_ratio=4)
    torch.manual_seed(0)
    sched = CogVideoXDDIMScheduler(beta_start=0.00085, beta_end=0.012,
                                   beta_schedule="scaled_linear", clip_sample=False,
                                   prediction_type="v_prediction", rescale_betas_zero_snr=True,
                                   set_alpha_to_one=True, snr_shift_scale=3.0,
                                   timestep_spacing="trailing")
    pipe = CogVideoXPipeline(tokenizer=tok, text_encoder=_t5(len(tok)), vae=vae,
                             transformer=transformer, scheduler=sched)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def flux_encoder(texts: list[str]) -> dict[str, torch.Tensor]:
    """A deterministic stand-in for FLUX's T5 + CLIP-pooled encoding: each text seeds its own
    random ``prompt_embeds`` (8 tokens x 32) and ``pooled_prompt_embeds`` (32)."""
    pe, pooled = [], []
    for t in texts:
        g = torch.Generator().manual_seed(zlib.crc32(t.encode()))
        pe.append(torch.randn(1, 8, 32, generator=g))
        pooled.append(torch.randn(1, 32, generator=g))
    return {"prompt_embeds": torch.cat(pe).to(DEVICE),
            "pooled_prompt_embeds": torch.cat(pooled).to(DEVICE)}
