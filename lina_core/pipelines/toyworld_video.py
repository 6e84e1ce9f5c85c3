"""ToyWorldVideoPipeline: the ToyWorld pipeline over a spatio-temporal denoiser.

Same call contract as :class:`ToyWorldPipeline` (prompt_embeds, sigmas/timesteps, latents,
generator, callback_on_step_end, cross_attention_kwargs, ...), plus ``num_frames``; latents are
batch x 3 x frames x 32 x 32 pixels in [-1, 1] and the output is ``frames`` as diffusers' video
pipelines return it (np batch x frames x H x W x 3, pt batch x frames x 3 x H x W).

The denoiser is diffusers' ``UNet3DConditionModel``, *inflated* from the image model
(:func:`inflate`): its spatial layers take the image UNet's weights and its temporal layers start
as the identity, so before training the video model draws every frame independently, much as the
image model would, and training mostly has to teach it motion.  (Not exactly as the image model:
diffusers' UNet3D gives every block the same number of attention heads, 8, so the 128-channel
attention runs as 8 heads of 16 where the image UNet had 16 heads of 8.)

The text encoder and tokenizer are the image model's, frozen, so both models share one embedding
space (an intervention written for one reads the same on the other).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import torch
from diffusers import EulerDiscreteScheduler, UNet2DConditionModel, UNet3DConditionModel
from diffusers.models.transformers.transformer_temporal import TransformerTemporalModel
from diffusers.utils import BaseOutput
from transformers import CLIPTextModel, CLIPTokenizer

from ..toyworld.video_data import check_frames
from .toyworld import ToyWorldPipeline, scheduler_config

_BLOCKS_3D = {"DownBlock2D": "DownBlock3D", "CrossAttnDownBlock2D": "CrossAttnDownBlock3D",
              "UpBlock2D": "UpBlock3D", "CrossAttnUpBlock2D": "CrossAttnUpBlock3D"}


@dataclass
class ToyWorldVideoOutput(BaseOutput):
    """``frames``: batch x F x H x W x 3 (np, floats in [0, 1]), batch x F x 3 x H x W (pt), or
    per clip a list of PIL frames, as diffusers' video pipelines return them."""

    frames: np.ndarray | torch.Tensor | list


class ToyWorldVideoPipeline(ToyWorldPipeline):
    model_cpu_offload_seq = "text_encoder->unet"

    def __init__(self, unet: UNet3DConditionModel, text_encoder: CLIPTextModel,
                 tokenizer: CLIPTokenizer, scheduler: Any):
        super().__init__(unet=unet, text_encoder=text_encoder, tokenizer=tokenizer,
                         scheduler=scheduler)
        self._frames = self.default_frames

    #: ``num_frames`` when a call gives none (the length the model was trained on)
    default_frames = 8

    def latent_shape(self, batch: int) -> tuple[int, ...]:
        """The latents of the current call (``num_frames`` frames)."""
        return (batch, self.unet.config.in_channels, self._frames, self.resolution,
                self.resolution)

    def postprocess(self, latents: torch.Tensor, output_type: str) -> Any:
        """batch x 3 x F x H x W pixels -> frames as diffusers' ``VideoProcessor.postprocess_video``
        gives them: pt batch x F x 3 x H x W, np batch x F x H x W x 3, pil per clip a list."""
        if output_type == "latent":
            return latents
        video = (latents / 2 + 0.5).clamp(0, 1)
        if output_type == "pt":
            return video.transpose(1, 2)
        video = video.permute(0, 2, 3, 4, 1).float().cpu().numpy()
        return [self.numpy_to_pil(v) for v in video] if output_type == "pil" else video

    def set_frames(self, num_frames: int | None) -> None:
        """The clip length of the coming call (``default_frames`` when None), checked."""
        try:
            self._frames = check_frames(self.default_frames if num_frames is None
                                        else num_frames)
        except ValueError as exc:
            raise ValueError(f"num_frames: {exc}".replace("num_frames: frames: ", "num_frames: ")
                             ) from None

    @torch.no_grad()
    def __call__(self, prompt: str | list[str] | None = None, num_frames: int | None = None,
                 height: int | None = None, width: int | None = None,
                 num_inference_steps: int = 25, timesteps: list[int] | None = None,
                 sigmas: list[float] | None = None, guidance_scale: float = 3.0,
                 negative_prompt: str | list[str] | None = None,
                 num_videos_per_prompt: int = 1, eta: float = 0.0,
                 generator: torch.Generator | list[torch.Generator] | None = None,
                 latents: torch.Tensor | None = None, prompt_embeds: torch.Tensor | None = None,
                 negative_prompt_embeds: torch.Tensor | None = None, output_type: str = "np",
                 return_dict: bool = True, cross_attention_kwargs: dict[str, Any] | None = None,
                 guidance_rescale: float = 0.0, clip_skip: int | None = None,
                 callback_on_step_end: Callable[..., dict[str, Any]] | None = None,
                 callback_on_step_end_tensor_inputs: list[str] | None = None,
                 ) -> ToyWorldVideoOutput | tuple:
        """The image pipeline's call over ``num_frames`` frames (``num_videos_per_prompt`` in
        place of ``num_images_per_prompt``, output ``frames``)."""
        self.set_frames(num_frames)
        out = super().__call__(
            prompt=prompt, height=height, width=width, num_inference_steps=num_inference_steps,
            timesteps=timesteps, sigmas=sigmas, guidance_scale=guidance_scale,
            negative_prompt=negative_prompt, num_images_per_prompt=num_videos_per_prompt,
            eta=eta, generator=generator, latents=latents, prompt_embeds=prompt_embeds,
            negative_prompt_embeds=negative_prompt_embeds, output_type=output_type,
            return_dict=False, cross_attention_kwargs=cross_attention_kwargs,
            guidance_rescale=guidance_rescale, clip_skip=clip_skip,
            callback_on_step_end=callback_on_step_end,
            callback_on_step_end_tensor_inputs=callback_on_step_end_tensor_inputs)
        if not return_dict:
            return out
        return ToyWorldVideoOutput(frames=out[0])


def video_unet_config(image_config: dict[str, Any]) -> dict[str, Any]:
    """The UNet3D config matching an image UNet's (same blocks, channels and attention)."""
    c = image_config
    return dict(sample_size=c["sample_size"], in_channels=c["in_channels"],
                out_channels=c["out_channels"], layers_per_block=c["layers_per_block"],
                block_out_channels=tuple(c["block_out_channels"]),
                down_block_types=tuple(_BLOCKS_3D[b] for b in c["down_block_types"]),
                up_block_types=tuple(_BLOCKS_3D[b] for b in c["up_block_types"]),
                cross_attention_dim=c["cross_attention_dim"],
                attention_head_dim=c["attention_head_dim"], norm_num_groups=c["norm_num_groups"])


def inflate_unet(unet2d: UNet2DConditionModel) -> UNet3DConditionModel:
    """A UNet3D whose spatial layers are ``unet2d``'s and whose temporal layers are the identity.

    Temporal convolutions already end in a zero-initialised conv; the temporal transformers'
    output projections are zeroed here, so each temporal layer adds nothing until trained.
    """
    unet = UNet3DConditionModel(**video_unet_config(dict(unet2d.config)))
    sd3 = unet.state_dict()
    load = {}
    for k, v in unet2d.state_dict().items():
        if k not in sd3:
            raise ValueError(f"inflate: image UNet weight {k} has no place in the video UNet")
        load[k] = v.reshape(sd3[k].shape)   # 1x1 conv projections -> linear
    missing = unet.load_state_dict(load, strict=False).missing_keys
    with torch.no_grad():
        for mod in unet.modules():
            if isinstance(mod, TransformerTemporalModel):
                mod.proj_out.weight.zero_()
                mod.proj_out.bias.zero_()
    spatial_missing = [k for k in missing if not any(
        t in k for t in ("temp_", "transformer_in", "mid_block.temp"))]
    if spatial_missing:
        raise ValueError(f"inflate: video UNet weights left random: {spatial_missing[:5]}")
    return unet.eval()   # as from_pretrained gives it: the temporal convs' dropout off


def inflate(image_pipe: ToyWorldPipeline) -> ToyWorldVideoPipeline:
    """The video pipeline made from an image pipeline (shared text encoder and tokenizer)."""
    return ToyWorldVideoPipeline(unet=inflate_unet(image_pipe.unet),
                                 text_encoder=image_pipe.text_encoder,
                                 tokenizer=image_pipe.tokenizer,
                                 scheduler=EulerDiscreteScheduler(**scheduler_config()))
