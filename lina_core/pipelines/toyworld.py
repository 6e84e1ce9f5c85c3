"""ToyWorldPipeline: a small pixel-space text-to-image diffusers pipeline.

It takes the arguments ``StableDiffusionPipeline`` takes and honours them, so an intervention
written once against that public API (prompt_embeds, sigmas/timesteps, latents, generator,
callback_on_step_end, cross_attention_kwargs, guidance_rescale, clip_skip, eta) drives ToyWorld
and real models alike; ``tests/test_pipeline_contract.py`` pins the properties diffusers' own
pipeline tests check (save/load, batch vs single, callbacks, progress bar, from_pipe...).  There is no VAE: the "latents" are
the image itself in [-1, 1], 3 x 32 x 32 for the shipped model.
"""
from __future__ import annotations

import inspect
import math
import warnings
from typing import Any, Callable

import torch
from diffusers import DiffusionPipeline, EulerDiscreteScheduler, UNet2DConditionModel
from diffusers.callbacks import MultiPipelineCallbacks, PipelineCallback
from diffusers.pipelines.pipeline_utils import ImagePipelineOutput
from diffusers.pipelines.stable_diffusion.pipeline_stable_diffusion import (rescale_noise_cfg,
                                                                           retrieve_timesteps)
from diffusers.utils.torch_utils import randn_tensor
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

from ..limits import check_float, check_int
from .tokenizer import MAX_LENGTH


def euler_step(scheduler: Any, model_output: torch.Tensor, t: torch.Tensor,
               sample: torch.Tensor, extra_step_kwargs: dict[str, Any]) -> torch.Tensor:
    """``scheduler.step(...)[0]``, with diffusers' deterministic Euler update done in float64.

    The first sigma of the ToyWorld schedule is 2.03e4, so the latents entering step 0 are of
    that size and diffusers' float32 ``sample + derivative * dt`` cancels two numbers of that
    size: its result is rounded to their float32 spacing (~2e-3), and a last-bit difference in
    the model output (a batch's kernels round otherwise than a single image's) can land it on
    the neighbouring float, 1e-3 apart in the output.  Here diffusers' own ``step`` still runs
    (its checks and step index, its output's dtype), and the update is recomputed in float64
    from the same sample, model output and sigmas, then rounded once to that dtype: latents
    between steps stay what the model and callbacks see (float32 on the CPU), so a branch from
    a cached step and a run from step 0 still carry the same latents.  Other schedulers
    (flow-matching Euler's sigmas are at most 1; DDIM, multistep and ancestral ones; a
    subclass with its own ``step``), churn (``s_churn``) and Apple GPUs (no float64) take
    diffusers' step as it is.
    """
    prev = scheduler.step(model_output, t, sample, **extra_step_kwargs, return_dict=False)[0]
    if (not isinstance(scheduler, EulerDiscreteScheduler)
            or type(scheduler).step is not EulerDiscreteScheduler.step
            or extra_step_kwargs.get("s_churn", 0.0) != 0.0
            or sample.device.type == "mps"):           # no float64 on Apple GPUs
        return prev
    i = scheduler.step_index - 1
    s, nxt = float(scheduler.sigmas[i]), float(scheduler.sigmas[i + 1])
    x, m = sample.double(), model_output.double()
    kind = scheduler.config.prediction_type
    if kind == "epsilon":
        derivative = m
    elif kind == "v_prediction":
        x0 = m * (-s / math.sqrt(s * s + 1)) + x / (s * s + 1)
        derivative = (x - x0) / s
    else:                                      # "sample" / "original_sample": diffusers checked
        derivative = (x - m) / s
    return (x + derivative * (nxt - s)).to(prev.dtype)


class ToyWorldPipeline(DiffusionPipeline):
    model_cpu_offload_seq = "text_encoder->unet"
    _callback_tensor_inputs = ["latents", "prompt_embeds", "negative_prompt_embeds"]

    def __init__(self, unet: UNet2DConditionModel, text_encoder: CLIPTextModel,
                 tokenizer: CLIPTokenizer, scheduler: Any):
        super().__init__()
        self.register_modules(unet=unet, text_encoder=text_encoder, tokenizer=tokenizer,
                              scheduler=scheduler)

    # ------------------------------------------------------------------ properties
    # Set by each call and read by the loop every step, as in StableDiffusionPipeline, so a
    # callback that changes ``pipe._guidance_scale`` (or sets ``pipe._interrupt``) takes effect.
    @property
    def guidance_scale(self) -> float:
        return self._guidance_scale

    @property
    def guidance_rescale(self) -> float:
        return self._guidance_rescale

    @property
    def clip_skip(self) -> int | None:
        return self._clip_skip

    @property
    def do_classifier_free_guidance(self) -> bool:
        return self._guidance_scale > 1.0

    @property
    def cross_attention_kwargs(self) -> dict[str, Any] | None:
        return self._cross_attention_kwargs

    @property
    def num_timesteps(self) -> int:
        return self._num_timesteps

    @property
    def interrupt(self) -> bool:
        return self._interrupt

    @property
    def resolution(self) -> int:
        return int(self.unet.config.sample_size)

    # ------------------------------------------------------------------ text
    def unknown_words(self, prompt: str) -> list[str]:
        """Words of ``prompt`` that the vocabulary has no single token for."""
        import re
        vocab = self.tokenizer.get_vocab()
        return [w for w in re.findall(r"[a-z]+", prompt.lower()) if w + "</w>" not in vocab]

    @torch.no_grad()
    def _embed(self, texts: list[str], device: torch.device,
               clip_skip: int | None = None) -> torch.Tensor:
        """The text encoder's last hidden states, or (``clip_skip``) those ``clip_skip`` layers
        before the last, through the final layer norm, as StableDiffusionPipeline does."""
        ids = self.tokenizer(texts, padding="max_length", max_length=MAX_LENGTH, truncation=True,
                             return_tensors="pt").input_ids.to(device)
        if clip_skip is None:
            return self.text_encoder(ids)[0]
        hidden = self.text_encoder(ids, output_hidden_states=True).hidden_states
        # transformers 5 puts the layers on CLIPTextModel itself; before, under ``.text_model``
        model = getattr(self.text_encoder, "text_model", self.text_encoder)
        return model.final_layer_norm(hidden[-(clip_skip + 1)])

    def encode_prompt(self, prompt: str | list[str] | None, device: torch.device | None = None,
                      num_images_per_prompt: int = 1, do_classifier_free_guidance: bool = True,
                      negative_prompt: str | list[str] | None = None,
                      prompt_embeds: torch.Tensor | None = None,
                      negative_prompt_embeds: torch.Tensor | None = None, *,
                      clip_skip: int | None = None,
                      ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Return ``(prompt_embeds, negative_prompt_embeds)``, each repeated per image
        (``clip_skip`` keyword-only: SD's ``lora_scale`` holds its place, and there is no LoRA)."""
        device = device or self._execution_device
        if prompt_embeds is None:
            prompts = [prompt] if isinstance(prompt, str) else list(prompt)
            unknown = sorted({w for p in prompts for w in self.unknown_words(p)})
            if unknown:
                warnings.warn(f"prompt: words outside the ToyWorld vocabulary: {unknown}; "
                              f"they are spelled out letter by letter and mostly ignored",
                              stacklevel=2)
            prompt_embeds = self._embed(prompts, device, clip_skip)
        batch = prompt_embeds.shape[0]
        if do_classifier_free_guidance and negative_prompt_embeds is None:
            neg = negative_prompt or ""
            negs = [neg] * batch if isinstance(neg, str) else list(neg)
            if len(negs) != batch:
                raise ValueError(f"negative_prompt: {len(negs)} given for a batch of {batch}")
            negative_prompt_embeds = self._embed(negs, device, clip_skip)
        prompt_embeds = prompt_embeds.to(device).repeat_interleave(num_images_per_prompt, 0)
        if negative_prompt_embeds is not None:
            negative_prompt_embeds = negative_prompt_embeds.to(device).repeat_interleave(
                num_images_per_prompt, 0)
        return prompt_embeds, negative_prompt_embeds

    # ------------------------------------------------------------------ sampling
    def latent_shape(self, batch: int) -> tuple[int, ...]:
        return (batch, self.unet.config.in_channels, self.resolution, self.resolution)

    def postprocess(self, latents: torch.Tensor, output_type: str) -> Any:
        """[-1, 1] pixels -> the requested output type (channels last for np and pil)."""
        if output_type == "latent":
            return latents
        images = (latents / 2 + 0.5).clamp(0, 1)
        if output_type == "pt":
            return images
        images = images.permute(0, 2, 3, 1).float().cpu().numpy()
        return self.numpy_to_pil(images) if output_type == "pil" else images

    def prepare_latents(self, batch: int, dtype: torch.dtype, device: torch.device,
                        generator: torch.Generator | list[torch.Generator] | None,
                        latents: torch.Tensor | None = None) -> torch.Tensor:
        shape = self.latent_shape(batch)
        if latents is None:
            latents = randn_tensor(shape, generator=generator, device=device, dtype=dtype)
        else:
            if tuple(latents.shape) != shape:
                raise ValueError(f"latents: shape {tuple(latents.shape)} must be {shape}")
            latents = latents.to(device=device, dtype=dtype)
        return latents * self.scheduler.init_noise_sigma

    def prepare_extra_step_kwargs(self, generator: torch.Generator | list[torch.Generator] | None,
                                  eta: float) -> dict[str, Any]:
        """``eta`` and ``generator`` for schedulers whose ``step`` takes them, as diffusers does:
        the default Euler sampler takes no ``eta`` (ignored) and, with ``s_churn`` 0, draws no
        noise from ``generator``."""
        params = set(inspect.signature(self.scheduler.step).parameters)
        return {k: v for k, v in (("eta", eta), ("generator", generator)) if k in params}

    def check_inputs(self, prompt: Any, prompt_embeds: torch.Tensor | None, height: int | None,
                     width: int | None, output_type: str, num_images_per_prompt: int,
                     tensor_inputs: list[str], guidance_rescale: float,
                     clip_skip: int | None) -> None:
        """Refuse, naming the argument, what this model cannot honour."""
        res = self.resolution
        for name, v in (("height", height), ("width", width)):
            if v is not None and v != res:
                raise ValueError(f"{name}: {v} is not supported; this model draws {res}x{res}")
        if (prompt is None) == (prompt_embeds is None):
            raise ValueError("prompt / prompt_embeds: give exactly one of them")
        if output_type not in ("pil", "np", "pt", "latent"):
            raise ValueError(f"output_type: {output_type!r} is not one of pil, np, pt, latent")
        check_int("num_images_per_prompt", num_images_per_prompt, 1, 64)
        bad = [k for k in tensor_inputs if k not in self._callback_tensor_inputs]
        if bad:
            raise ValueError(f"callback_on_step_end_tensor_inputs: {bad} not in "
                             f"{self._callback_tensor_inputs}")
        check_float("guidance_rescale", guidance_rescale, 0.0, 1.0)
        if clip_skip is not None:
            check_int("clip_skip", clip_skip, 0, self.text_encoder.config.num_hidden_layers)

    def predict(self, latents: torch.Tensor, t: torch.Tensor, prompt_embeds: torch.Tensor,
                negative_prompt_embeds: torch.Tensor | None) -> torch.Tensor:
        """The guided model output at ``t``: reads ``self.guidance_scale`` (and so a callback's
        change of ``pipe._guidance_scale``) afresh each step; the UNet's dtype is the one read
        when the call began (diffusers' ``ModelMixin.dtype`` walks every module: 1.8 ms, ~4% of
        a tiny model's step)."""
        cfg = self.do_classifier_free_guidance
        dtype = self._unet_dtype
        x = torch.cat([latents] * 2) if cfg else latents
        x = self.scheduler.scale_model_input(x, t)
        ctx = torch.cat([negative_prompt_embeds, prompt_embeds]) if cfg else prompt_embeds
        out = self.unet(x, t, encoder_hidden_states=ctx.to(dtype),
                        cross_attention_kwargs=self.cross_attention_kwargs, return_dict=False)[0]
        if not cfg:
            return out
        uncond, cond = out.chunk(2)
        out = uncond + self.guidance_scale * (cond - uncond)
        if self.guidance_rescale > 0.0:
            out = rescale_noise_cfg(out, cond, guidance_rescale=self.guidance_rescale)
        return out

    def denoise(self, latents: torch.Tensor, timesteps: torch.Tensor,
                embeds: dict[str, torch.Tensor | None], extra_step_kwargs: dict[str, Any],
                callback: Callable[..., dict[str, Any]] | None,
                tensor_inputs: list[str]) -> torch.Tensor:
        """The sampling loop, under ``self.progress_bar`` (one tick per step); ``embeds`` holds
        ``prompt_embeds`` and ``negative_prompt_embeds``, which a callback may replace."""
        with self.progress_bar(total=len(timesteps)) as bar:
            for i, t in enumerate(timesteps):
                if self.interrupt:
                    continue
                out = self.predict(latents, t, embeds["prompt_embeds"],
                                   embeds["negative_prompt_embeds"])
                latents = euler_step(self.scheduler, out, t, latents, extra_step_kwargs)
                if callback is not None:
                    local = {"latents": latents, **embeds}
                    cb = callback(self, i, t, {k: local[k] for k in tensor_inputs}) or {}
                    latents = cb.get("latents", latents)
                    embeds = {k: cb.get(k, v) for k, v in embeds.items()}
                bar.update()
        return latents

    @torch.no_grad()
    def __call__(self, prompt: str | list[str] | None = None, height: int | None = None,
                 width: int | None = None, num_inference_steps: int = 25,
                 timesteps: list[int] | None = None, sigmas: list[float] | None = None,
                 guidance_scale: float = 3.0, negative_prompt: str | list[str] | None = None,
                 num_images_per_prompt: int = 1, eta: float = 0.0,
                 generator: torch.Generator | list[torch.Generator] | None = None,
                 latents: torch.Tensor | None = None, prompt_embeds: torch.Tensor | None = None,
                 negative_prompt_embeds: torch.Tensor | None = None, output_type: str = "pil",
                 return_dict: bool = True, cross_attention_kwargs: dict[str, Any] | None = None,
                 guidance_rescale: float = 0.0, clip_skip: int | None = None,
                 callback_on_step_end: Callable[..., dict[str, Any]] | None = None,
                 callback_on_step_end_tensor_inputs: list[str] | None = None,
                 ) -> ImagePipelineOutput | tuple:
        """Sample as ``StableDiffusionPipeline.__call__`` does, with its arguments and meanings
        (``eta`` only reaches schedulers whose ``step`` takes it; Euler's does not)."""
        if isinstance(callback_on_step_end, (PipelineCallback, MultiPipelineCallbacks)):
            callback_on_step_end_tensor_inputs = callback_on_step_end.tensor_inputs
        inputs = callback_on_step_end_tensor_inputs or ["latents"]
        self.check_inputs(prompt, prompt_embeds, height, width, output_type,
                          num_images_per_prompt, inputs, guidance_rescale, clip_skip)
        self._guidance_scale, self._guidance_rescale = guidance_scale, guidance_rescale
        self._clip_skip, self._cross_attention_kwargs = clip_skip, cross_attention_kwargs
        self._interrupt = False
        device = self._execution_device
        prompt_embeds, negative_prompt_embeds = self.encode_prompt(
            prompt, device, num_images_per_prompt, self.do_classifier_free_guidance,
            negative_prompt, prompt_embeds, negative_prompt_embeds, clip_skip=clip_skip)
        timesteps, _ = retrieve_timesteps(
            self.scheduler, None if (timesteps is not None or sigmas is not None)
            else num_inference_steps, device, timesteps, sigmas)
        self._num_timesteps = len(timesteps)
        self._unet_dtype = self.unet.dtype
        latents = self.prepare_latents(prompt_embeds.shape[0], self._unet_dtype, device,
                                       generator, latents)
        embeds = {"prompt_embeds": prompt_embeds, "negative_prompt_embeds": negative_prompt_embeds}
        latents = self.denoise(latents, timesteps, embeds,
                               self.prepare_extra_step_kwargs(generator, eta),
                               callback_on_step_end, inputs)
        self.maybe_free_model_hooks()
        images = self.postprocess(latents, output_type)
        if not return_dict:
            return (images,)
        return ImagePipelineOutput(images=images)


# ---------------------------------------------------------------------- building


def unet_config(resolution: int = 32, small: bool = False) -> dict[str, Any]:
    """The shipped UNet's config; ``small=True`` is the tiny one the contract tests use."""
    blocks = (8, 16, 16) if small else (32, 64, 128)
    return dict(sample_size=resolution, in_channels=3, out_channels=3, layers_per_block=1,
                block_out_channels=blocks,
                down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
                up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
                cross_attention_dim=32 if small else 128, attention_head_dim=8,
                norm_num_groups=8)


def text_config(vocab_size: int, small: bool = False) -> CLIPTextConfig:
    return CLIPTextConfig(vocab_size=vocab_size, hidden_size=32 if small else 128,
                          intermediate_size=64 if small else 256, num_hidden_layers=2,
                          num_attention_heads=4, max_position_embeddings=MAX_LENGTH,
                          bos_token_id=0, eos_token_id=1, pad_token_id=1,
                          projection_dim=32 if small else 128)


def scheduler_config() -> dict[str, Any]:
    """The training noise schedule (v-prediction, cosine betas) as an Euler sampler."""
    return dict(num_train_timesteps=1000, beta_schedule="squaredcos_cap_v2",
                prediction_type="v_prediction", timestep_spacing="trailing")


def build_pipeline(tokenizer_dir: str, resolution: int = 32, small: bool = False,
                   seed: int = 0) -> ToyWorldPipeline:
    """A randomly initialised ToyWorldPipeline (for training, or tiny for tests)."""
    torch.manual_seed(seed)
    tok = CLIPTokenizer.from_pretrained(tokenizer_dir)
    unet = UNet2DConditionModel(**unet_config(resolution, small))
    text = CLIPTextModel(text_config(len(tok), small))
    return ToyWorldPipeline(unet=unet, text_encoder=text, tokenizer=tok,
                            scheduler=EulerDiscreteScheduler(**scheduler_config()))

