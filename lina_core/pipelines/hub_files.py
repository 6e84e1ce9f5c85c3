"""The files each offered Hub model's pipeline loads, and what they weigh: what a Hugging Face
Space preloads (``scripts/make_space.py``) instead of whole repositories.

Why a table: a Hub repository holds more than its pipeline reads. SDXL base and FLUX.1 schnell
also keep single-file checkpoints and other precisions (tens of GB each), so preloading bare
repo ids would fill a Space's disk with files nothing opens. Listing files needs facts about
each repository that cannot be read offline; they live here, in one place, and each one not
checkable from this machine is marked as an assumption.

Which precision: :func:`lina_core.pipelines.registry.load` calls ``from_pretrained`` without
``variant``, so diffusers opens each component's default file
(``diffusion_pytorch_model.safetensors`` / ``model.safetensors``, not ``*.fp16.safetensors``) and
casts it to the app's dtype. The files
listed are those default files, at whatever precision each repository stores them (recorded in
:attr:`HubModel.dtype`): fp32 for SD 1.5 and SDXL, which is why they weigh twice their fp16
variants. Preloading an fp16 variant instead would need ``variant="fp16"`` in the loader.

The file names follow diffusers' and transformers' ``save_pretrained`` layouts (a model folder:
``config.json`` and its weights; a pipeline: ``model_index.json`` and one folder per component),
which ``tests/test_space.py`` checks against each family's tiny pipeline saved with
``save_pretrained``. What a tiny model cannot show is checked otherwise or assumed:

* shard counts (``shards``): a tiny model is never sharded. The counts are the author's
  recollection of the repositories (not verified offline). They agree with the libraries'
  default shard sizes (diffusers 10 GB, transformers 5 GB at the time those repos were written):
  FLUX's 23.8 GB transformer in 3, a 9.5 GB fp16 T5-XXL in 2, Wan's 22.7 GB fp32 umT5 in 5.
* tokenizer files: these repositories keep the older tokenizer files (``vocab.json`` and
  ``merges.txt`` for CLIP, ``spiece.model`` for T5) that ``save_pretrained`` no longer writes;
  the test checks them against the names the tokenizer class reads (``vocab_files_names``).
* parameter counts and dtypes (sizes): published figures where there are (cited per entry),
  else estimates; sizes are GB of 1e9 bytes, weights only (configs and tokenizers are small).
"""
from __future__ import annotations

from dataclasses import dataclass

#: bytes per parameter of a stored dtype
BYTES = {"fp32": 4, "fp16": 2, "bf16": 2}

#: the files of a tokenizer folder, by the tokenizer a repository stores. Assumptions (the
#: repositories' folders as recalled, not verified offline): the SD-era CLIP folders have no
#: tokenizer.json; the T5 folders of SD3.5, FLUX and Wan have one, CogVideoX-2b's does not
#: (so loading it with this project's transformers needs ``sentencepiece`` installed)
TOKENIZER_FILES = {
    "clip": ("merges.txt", "special_tokens_map.json", "tokenizer_config.json", "vocab.json"),
    "t5": ("special_tokens_map.json", "spiece.model", "tokenizer.json", "tokenizer_config.json"),
    "t5-spm": ("special_tokens_map.json", "spiece.model", "tokenizer_config.json"),
}


@dataclass(frozen=True)
class Part:
    """One component folder of a pipeline and the files ``from_pretrained`` reads from it.

    ``layout``: ``"diffusers"`` (a diffusers model: ``diffusion_pytorch_model``),
    ``"transformers"`` (a transformers model: ``model``), ``"tokenizer"`` (``tokenizer`` names a
    :data:`TOKENIZER_FILES` entry), ``"scheduler"`` or ``"processor"`` (one config file).
    ``params``: billions of parameters (weights only). ``shards``: weight files (1: unsharded)."""
    folder: str
    layout: str
    params: float = 0.0
    shards: int = 1
    tokenizer: str = ""

    def files(self) -> list[str]:
        f = self.folder
        if self.layout == "scheduler":
            return [f"{f}/scheduler_config.json"]
        if self.layout == "processor":
            return [f"{f}/preprocessor_config.json"]
        if self.layout == "tokenizer":
            return [f"{f}/{n}" for n in TOKENIZER_FILES[self.tokenizer]]
        stem = {"diffusers": "diffusion_pytorch_model", "transformers": "model"}[self.layout]
        if self.shards == 1:
            return [f"{f}/config.json", f"{f}/{stem}.safetensors"]
        n = self.shards
        return [f"{f}/config.json", f"{f}/{stem}.safetensors.index.json"] + [
            f"{f}/{stem}-{i:05d}-of-{n:05d}.safetensors" for i in range(1, n + 1)]


@dataclass(frozen=True)
class HubModel:
    """An offered Hub model: its repository, the dtype its default weight files are stored in,
    its components, and whether the Hub gates it (its licence must be accepted on the model page
    by whoever downloads it: a Space's owner, with a token)."""
    repo: str
    dtype: str
    parts: tuple[Part, ...]
    gated: bool = False

    def files(self) -> list[str]:
        """What the pipeline reads: model_index.json and each component's files."""
        return ["model_index.json"] + [f for p in self.parts for f in p.files()]

    def size_gb(self) -> float:
        """Estimated download size: parameters x bytes per parameter of :attr:`dtype`."""
        return sum(p.params for p in self.parts) * BYTES[self.dtype]

    def preload_entry(self) -> str:
        """The Space front matter's ``preload_from_hub`` item: ``repo file1,file2,...``."""
        return f"{self.repo} {','.join(self.files())}"


def _diff(folder: str, params: float, shards: int = 1) -> Part:
    return Part(folder, "diffusers", params, shards)


def _tf(folder: str, params: float, shards: int = 1) -> Part:
    return Part(folder, "transformers", params, shards)


def _tok(folder: str, kind: str) -> Part:
    return Part(folder, "tokenizer", tokenizer=kind)


SCHEDULER = Part("scheduler", "scheduler")
# Parameter counts used more than once, in billions, with their sources:
CLIP_L = 0.123      # CLIP ViT-L/14 text encoder: "123M text encoder" (SD v1 model card)
CLIP_G = 0.695      # OpenCLIP ViT-bigG/14 text encoder: the SDXL paper's 817M for both text
                    # encoders (Podell et al. 2023) less CLIP-L's 123M
T5_XXL = 4.76       # T5 v1.1 XXL encoder: the encoder half of T5-XXL (Raffel et al. 2020: 11B),
                    # about 4.76B (estimate: 9.5 GB of fp16 shards as recalled, / 2 bytes)
SD_VAE = 0.084      # the SD/SDXL/SD3/FLUX AutoencoderKL, about 84M (Rombach et al. 2022's KL-f8
                    # autoencoder; SD3/FLUX's 16-channel one differs by well under 1M)

#: per allowlisted Hub model (the keys of ``registry.ALLOWLIST``), what its pipeline loads.
#: The folders are those of each repository's model_index.json as recalled (not verified
#: offline); the tests check them against the family's ``save_pretrained`` layout.
HUB_FILES: dict[str, HubModel] = {
    # fp32 default files (an fp16 variant exists; the loader asks for no variant). The repo's
    # model_index names a safety checker and feature extractor, so the pipeline loads them.
    "sd15": HubModel("stable-diffusion-v1-5/stable-diffusion-v1-5", "fp32", (
        SCHEDULER, _tok("tokenizer", "clip"), _tf("text_encoder", CLIP_L),
        _diff("unet", 0.860),                       # "860M UNet" (SD v1 model card)
        _diff("vae", SD_VAE),
        _tf("safety_checker", 0.304),               # CLIP ViT-L/14 vision tower, ~304M (CLIP
                                                    # paper's ViT-L/14) plus a projection
        Part("feature_extractor", "processor"))),
    # fp32 default files; the 10.3 GB UNet is one unsharded file (as recalled)
    "sdxl": HubModel("stabilityai/stable-diffusion-xl-base-1.0", "fp32", (
        SCHEDULER, _tok("tokenizer", "clip"), _tok("tokenizer_2", "clip"),
        _tf("text_encoder", CLIP_L), _tf("text_encoder_2", CLIP_G),
        _diff("unet", 2.567),                       # "2.6B UNet" (SDXL paper)
        _diff("vae", SD_VAE))),
    # gated: the Stability AI Community License must be accepted on the model page. Stored in
    # 16-bit (assumption: 2 bytes a parameter); T5 in 2 shards (assumption, see the docstring)
    "sd35m": HubModel("stabilityai/stable-diffusion-3.5-medium", "fp16", (
        SCHEDULER, _tok("tokenizer", "clip"), _tok("tokenizer_2", "clip"),
        _tok("tokenizer_3", "t5"), _tf("text_encoder", CLIP_L), _tf("text_encoder_2", CLIP_G),
        _tf("text_encoder_3", T5_XXL, shards=2),
        _diff("transformer", 2.5),                  # "2.5 billion parameters" (model card)
        _diff("vae", SD_VAE)), gated=True),
    # bf16, Apache-2.0, not gated (as recalled); transformer in 3 shards, T5 in 2 (assumption)
    "flux-schnell": HubModel("black-forest-labs/FLUX.1-schnell", "bf16", (
        SCHEDULER, _tok("tokenizer", "clip"), _tok("tokenizer_2", "t5"),
        _tf("text_encoder", CLIP_L), _tf("text_encoder_2", T5_XXL, shards=2),
        _diff("transformer", 12.0, shards=3),       # "12 billion parameter" (model card)
        _diff("vae", SD_VAE))),
    # fp32 (assumption, from the file sizes as recalled); umT5 in 5 shards (assumption)
    "wan21-1.3b": HubModel("Wan-AI/Wan2.1-T2V-1.3B-Diffusers", "fp32", (
        SCHEDULER, _tok("tokenizer", "t5"),
        _tf("text_encoder", 5.7, shards=5),         # umT5-XXL encoder: estimate (22.7 GB of
                                                    # fp32 shards as recalled, / 4 bytes)
        _diff("transformer", 1.3),                  # "1.3B" (model name and card)
        _diff("vae", 0.127))),                      # Wan-VAE "127M" (Wan 2.1 report)
    # fp16 (assumption); T5 in 2 shards (assumption)
    "cogvideox-2b": HubModel("THUDM/CogVideoX-2b", "fp16", (
        SCHEDULER, _tok("tokenizer", "t5-spm"), _tf("text_encoder", T5_XXL, shards=2),
        _diff("transformer", 2.0),                  # "2B" (model name); an upper bound
        _diff("vae", 0.22))),                       # estimate (about 0.43 GB fp16 as recalled)
}
