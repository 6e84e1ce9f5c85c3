"""Train the ToyWorld models: v-prediction, cosine betas, EMA, checkpoints that resume exactly.

The image model trains from scratch on an image folder; the video model (``init_from`` an image
model) is inflated from it and trains its UNet3D on a clip folder (``video_data``).  An image model
can also be fine-tuned (``finetune_from``, ToyWorld v2): its tokenizer gets the new words appended
(:func:`tokenizer.extend_tokenizer`, every earlier token keeps its id), the text encoder's token
embeddings are resized to match (new rows: the mean of the trained rows), and UNet and text
encoder train on the new data (write it with all eight categories so the first five are kept).

Everything saved is safetensors or JSON (optimizer state included), so a run can be resumed across
sittings without pickle.  The text encoder trains jointly; 10% of captions are dropped to "" so
classifier-free guidance works at sampling time.
"""
from __future__ import annotations

import json
import math
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from diffusers import DDPMScheduler
from PIL import Image
from safetensors.torch import load_file, save_file

from .pipelines.tokenizer import MAX_LENGTH, RELATIONAL_WORDS, extend_tokenizer, write_tokenizer
from .pipelines.toyworld import ToyWorldPipeline, build_pipeline, scheduler_config
from .toyworld.data import read_split
from .toyworld.video_data import load_clips


@dataclass
class TrainConfig:
    data: str
    out: str
    steps: int = 12000
    batch: int = 16
    lr: float = 1e-3
    min_lr: float = 1e-4
    warmup: int = 200
    ema: float = 0.999
    caption_dropout: float = 0.1
    resolution: int = 32
    seed: int = 0
    ckpt_every: int = 500
    threads: int = 2
    #: video: inflate this image model (a folder) into a ToyWorldVideoPipeline and train its
    #: UNet3D on the clips in ``data``; the text encoder stays the image model's, frozen
    init_from: str | None = None
    #: fine-tune this image model (a folder) on the images in ``data``, its tokenizer extended
    #: with ``tokenizer.RELATIONAL_WORDS`` and its text embeddings resized; UNet and text encoder train
    finetune_from: str | None = None


def load_images(folder: str | Path, resolution: int) -> tuple[torch.Tensor, list[dict]]:
    rows = read_split(folder)
    ims = []
    for r in rows:
        im = Image.open(Path(folder) / r["file_name"]).convert("RGB")
        if im.size != (resolution, resolution):
            im = im.resize((resolution, resolution), Image.BOX)
        ims.append(np.asarray(im))
    x = torch.from_numpy(np.stack(ims)).permute(0, 3, 1, 2).float() / 127.5 - 1.0
    return x, rows


def _opt_state_to_tensors(opt: torch.optim.Optimizer) -> dict[str, torch.Tensor]:
    out = {}
    for idx, st in opt.state_dict()["state"].items():
        for k, v in st.items():
            out[f"{idx}.{k}"] = v if torch.is_tensor(v) else torch.tensor(v)
    return out


def _opt_state_from_tensors(opt: torch.optim.Optimizer, tensors: dict[str, torch.Tensor]) -> None:
    sd = opt.state_dict()
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, v in tensors.items():
        idx, k = key.split(".", 1)
        state.setdefault(int(idx), {})[k] = v
    sd["state"] = state
    opt.load_state_dict(sd)


@dataclass
class _Run:
    """What a training run carries from step to step and into its checkpoint."""

    cfg: TrainConfig
    out: Path
    pipe: ToyWorldPipeline
    x_all: torch.Tensor
    caps: list[tuple[str, str]]
    train_text: bool
    params: list[torch.nn.Parameter]
    opt: torch.optim.Optimizer
    ema: list[torch.Tensor]
    acp: torch.Tensor
    step: int = 0
    losses: list[float] = field(default_factory=list)
    #: seconds trained in earlier sittings; ``t_start``: when this sitting's loop began
    wall: float = 0.0
    t_start: float = 0.0
    ids_cache: dict[str, torch.Tensor] = field(default_factory=dict)
    #: the batch sampler's and the noise's generators (their states go into the checkpoint, so
    #: a resumed run draws what the uninterrupted run would have drawn)
    rng: np.random.Generator | None = None
    gen: torch.Generator | None = None

    @property
    def ckpt(self) -> Path:
        return self.out / "checkpoint"


def train(cfg: TrainConfig, log=print) -> Path:
    """Train (or resume from ``cfg.out/checkpoint``) to ``cfg.steps``; the EMA model's folder."""
    torch.set_num_threads(cfg.threads)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(cfg.seed)
    run = _start(cfg, out)
    run.rng = np.random.default_rng(cfg.seed)
    run.gen = torch.Generator().manual_seed(cfg.seed)
    if (run.ckpt / "state.json").exists():
        _resume(run)
        log(f"resumed at step {run.step}")
    rng, gen = run.rng, run.gen
    run.pipe.unet.train()
    run.pipe.text_encoder.train(run.train_text)
    run.t_start = time.time()
    while run.step < cfg.steps:
        _train_step(run, rng, gen)
        if run.step % 50 == 0:
            el = time.time() - run.t_start
            log(f"step {run.step}/{cfg.steps} loss {np.mean(run.losses[-50:]):.4f} "
                f"lr {_lr_at(cfg, run.step):.2e} {el:.0f}s this sitting")
        if run.step % cfg.ckpt_every == 0 or run.step == cfg.steps:
            _save(run)
    return out / "model"


def _start(cfg: TrainConfig, out: Path) -> _Run:
    """The pipeline (built, or inflated from ``cfg.init_from``), its data and its optimizer.
    The text encoder trains only with the image model (the video model shares it frozen)."""
    if cfg.init_from and cfg.finetune_from:
        raise ValueError("init_from (video) and finetune_from (image): give one of them")
    if cfg.finetune_from:
        pipe = finetune_pipeline(cfg.finetune_from, out / "tokenizer_src")
        x_all, rows = load_images(cfg.data, pipe.resolution)
    elif cfg.init_from:
        from .pipelines.toyworld_video import inflate
        pipe: ToyWorldPipeline = inflate(ToyWorldPipeline.from_pretrained(
            cfg.init_from, local_files_only=True))
        x_all, rows = load_clips(cfg.data)
    else:
        tok_dir = out / "tokenizer_src"
        if not tok_dir.exists():
            write_tokenizer(tok_dir)
        pipe = build_pipeline(str(tok_dir), cfg.resolution, seed=cfg.seed)
        x_all, rows = load_images(cfg.data, cfg.resolution)
    train_text = cfg.init_from is None     # from scratch and fine-tuned: the text encoder too
    pipe.text_encoder.requires_grad_(train_text)
    params = list(pipe.unet.parameters()) + (list(pipe.text_encoder.parameters())
                                             if train_text else [])
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=0.01)
    noise_sched = DDPMScheduler(**{k: v for k, v in scheduler_config().items()
                                   if k != "timestep_spacing"})
    return _Run(cfg=cfg, out=out, pipe=pipe, x_all=x_all,
                caps=[(r["implicit_caption"], r["explicit_caption"]) for r in rows],
                train_text=train_text, params=params, opt=opt,
                ema=[p.detach().clone() for p in params], acp=noise_sched.alphas_cumprod)


def finetune_pipeline(model: str | Path, tok_dir: Path) -> ToyWorldPipeline:
    """The image model in ``model`` with its tokenizer extended by :data:`RELATIONAL_WORDS` (written
    to ``tok_dir`` once) and its text encoder's token embeddings resized to it: the trained rows
    kept, each new row the mean of the trained rows, so it is the same on every call (and a
    resumed run rebuilds the pipeline its checkpoint was taken from)."""
    from transformers import CLIPTokenizer
    index = json.loads((Path(model) / "model_index.json").read_text())
    if index.get("_class_name") != "ToyWorldPipeline":
        raise ValueError(f"finetune_from: {model} is not a ToyWorld image model "
                         f"({index.get('_class_name')})")
    pipe = ToyWorldPipeline.from_pretrained(model, local_files_only=True)
    if not (tok_dir / "vocab.json").is_file():
        extend_tokenizer(Path(model) / "tokenizer", tok_dir, RELATIONAL_WORDS)
    tok = CLIPTokenizer.from_pretrained(tok_dir)
    old = pipe.text_encoder.get_input_embeddings().weight.detach().clone()
    if len(tok) < old.shape[0]:
        raise ValueError(f"finetune_from: the extended tokenizer ({len(tok)}) is smaller than "
                         f"the model's embedding matrix ({old.shape[0]})")
    pipe.text_encoder.resize_token_embeddings(len(tok), mean_resizing=False)
    with torch.no_grad():
        emb = pipe.text_encoder.get_input_embeddings().weight
        emb[:old.shape[0]] = old
        emb[old.shape[0]:] = old.mean(0)
    pipe.register_modules(tokenizer=tok)
    return pipe


def _resume(run: _Run) -> None:
    """Load the checkpoint's weights, EMA, optimizer state and progress into ``run``."""
    ckpt = run.ckpt
    st = json.loads((ckpt / "state.json").read_text())
    run.step, run.losses, run.wall = st["step"], st["losses"], st["wall_s"]
    run.pipe.unet.load_state_dict(load_file(ckpt / "unet.safetensors"))
    if run.train_text:
        run.pipe.text_encoder.load_state_dict(load_file(ckpt / "text_encoder.safetensors"))
    e = load_file(ckpt / "ema.safetensors")
    run.ema = [e[str(i)] for i in range(len(run.params))]
    _opt_state_from_tensors(run.opt, load_file(ckpt / "optimizer.safetensors"))
    if "rng" in st:      # older checkpoints: the generators restart from seed + step
        run.rng.bit_generator.state = st["rng"]
        run.gen.set_state(load_file(ckpt / "rng.safetensors")["torch"])
    else:
        run.rng = np.random.default_rng(run.cfg.seed + run.step)
        run.gen = torch.Generator().manual_seed(run.cfg.seed + run.step)


def _lr_at(cfg: TrainConfig, s: int) -> float:
    """Linear warm-up, then cosine decay from ``lr`` to ``min_lr`` at ``steps``."""
    if s < cfg.warmup:
        return cfg.lr * (s + 1) / cfg.warmup
    p = (s - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
    return cfg.min_lr + 0.5 * (cfg.lr - cfg.min_lr) * (1 + math.cos(math.pi * min(p, 1.0)))


def _ids(run: _Run, texts: list[str]) -> torch.Tensor:
    """Token ids of ``texts``, each caption tokenized once per run."""
    miss = [t for t in set(texts) if t not in run.ids_cache]
    if miss:
        enc = run.pipe.tokenizer(miss, padding="max_length", max_length=MAX_LENGTH,
                                 truncation=True, return_tensors="pt").input_ids
        run.ids_cache.update(dict(zip(miss, enc)))
    return torch.stack([run.ids_cache[t] for t in texts])


def _noised_batch(run: _Run, rng: np.random.Generator, gen: torch.Generator,
                  ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, list[str]]:
    """(x_t, t, v-prediction target, captions) of one random batch; ``caption_dropout`` of the
    captions are "" so classifier-free guidance works."""
    cfg = run.cfg
    idx = rng.integers(0, len(run.x_all), cfg.batch)
    x0 = run.x_all[idx]
    texts = [run.caps[i][int(rng.integers(2))] if rng.random() >= cfg.caption_dropout else ""
             for i in idx]
    noise = torch.randn(x0.shape, generator=gen)
    t = torch.randint(0, 1000, (cfg.batch,), generator=gen)
    bcast = (-1,) + (1,) * (x0.dim() - 1)     # images B x C x H x W, clips B x C x F x H x W
    a = run.acp[t].sqrt().view(bcast)
    s = (1 - run.acp[t]).sqrt().view(bcast)
    return a * x0 + s * noise, t, a * noise - s * x0, texts


def _train_step(run: _Run, rng: np.random.Generator, gen: torch.Generator) -> None:
    """One optimizer step (clipped gradients), the EMA update, and the step's loss recorded."""
    xt, t, target, texts = _noised_batch(run, rng, gen)
    for g in run.opt.param_groups:
        g["lr"] = _lr_at(run.cfg, run.step)
    with torch.set_grad_enabled(run.train_text):
        ctx = run.pipe.text_encoder(_ids(run, texts))[0]
    pred = run.pipe.unet(xt, t, encoder_hidden_states=ctx, return_dict=False)[0]
    loss = F.mse_loss(pred, target)
    run.opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(run.params, 1.0)
    run.opt.step()
    with torch.no_grad():
        d = min(run.cfg.ema, (1 + run.step) / (10 + run.step))
        for e, p in zip(run.ema, run.params):
            e.mul_(d).add_(p.detach(), alpha=1 - d)
    run.step += 1
    run.losses.append(round(loss.item(), 5))


def _save(run: _Run) -> None:
    """Write the checkpoint atomically (a temp folder renamed), the EMA model and the loss plot."""
    out, ckpt = run.out, run.ckpt
    tmp = out / "checkpoint.tmp"
    tmp.mkdir(exist_ok=True)
    save_file(run.pipe.unet.state_dict(), tmp / "unet.safetensors")
    if run.train_text:
        save_file(run.pipe.text_encoder.state_dict(), tmp / "text_encoder.safetensors")
    save_file({str(i): p.contiguous() for i, p in enumerate(run.ema)}, tmp / "ema.safetensors")
    save_file(_opt_state_to_tensors(run.opt), tmp / "optimizer.safetensors")
    save_file({"torch": run.gen.get_state()}, tmp / "rng.safetensors")
    (tmp / "state.json").write_text(json.dumps(
        {"step": run.step, "losses": run.losses, "wall_s": run.wall + time.time() - run.t_start,
         "config": asdict(run.cfg), "rng": run.rng.bit_generator.state}))
    if ckpt.exists():
        shutil.rmtree(ckpt)
    tmp.rename(ckpt)
    export_ema(run.pipe, run.params, run.ema, out / "model")
    plot_losses(run.losses, out / "loss.png")


def export_ema(pipe: ToyWorldPipeline, params: list[torch.nn.Parameter], ema: list[torch.Tensor],
               folder: Path) -> None:
    """Save the pipeline with EMA weights (safetensors) without disturbing the training weights."""
    backup = [p.detach().clone() for p in params]
    with torch.no_grad():
        for p, e in zip(params, ema):
            p.copy_(e)
    pipe.save_pretrained(folder, safe_serialization=True)
    with torch.no_grad():
        for p, b in zip(params, backup):
            p.copy_(b)


def plot_losses(losses: list[float], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 3.2))
    ax.plot(losses, lw=0.4, alpha=0.4, label="loss")
    if len(losses) > 100:
        k = 100
        sm = np.convolve(losses, np.ones(k) / k, mode="valid")
        ax.plot(np.arange(k - 1, len(losses)), sm, label="100-step mean")
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("v-prediction MSE")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
