"""Train the ToyWorld models: v-prediction, cosine betas, EMA, checkpoints that resume exactly.

The image model trains from scratch on an image folder; the video model (``init_from`` an image
model) is inflated from it and trains its UNet3D on a clip folder (``video_data``).

Everything saved is safetensors or JSON (optimizer state included), so a run can be resumed across
sittings without pickle.  The text encoder trains jointly; 10% of captions are dropped to "" so
classifier-free guidance works at sampling time.
"""
from __future__ import annotations

import json
import math
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from diffusers import DDPMScheduler
from PIL import Image
from safetensors.torch import load_file, save_file

from .pipelines.tokenizer import MAX_LENGTH, write_tokenizer
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


def train(cfg: TrainConfig, log=print) -> Path:
    torch.set_num_threads(cfg.threads)
    out = Path(cfg.out)
    ckpt = out / "checkpoint"
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(cfg.seed)
    if cfg.init_from:
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
    unet, text = pipe.unet, pipe.text_encoder
    train_text = cfg.init_from is None
    text.requires_grad_(train_text)
    params = list(unet.parameters()) + (list(text.parameters()) if train_text else [])
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=0.01)
    ema = [p.detach().clone() for p in params]
    noise_sched = DDPMScheduler(**{k: v for k, v in scheduler_config().items()
                                   if k != "timestep_spacing"})
    acp = noise_sched.alphas_cumprod
    caps = [(r["implicit_caption"], r["explicit_caption"]) for r in rows]
    ids_cache: dict[str, torch.Tensor] = {}

    def ids(texts: list[str]) -> torch.Tensor:
        miss = [t for t in set(texts) if t not in ids_cache]
        if miss:
            enc = pipe.tokenizer(miss, padding="max_length", max_length=MAX_LENGTH,
                                 truncation=True, return_tensors="pt").input_ids
            ids_cache.update(dict(zip(miss, enc)))
        return torch.stack([ids_cache[t] for t in texts])

    step, losses, wall = 0, [], 0.0
    if (ckpt / "state.json").exists():
        st = json.loads((ckpt / "state.json").read_text())
        step, losses, wall = st["step"], st["losses"], st["wall_s"]
        unet.load_state_dict(load_file(ckpt / "unet.safetensors"))
        if train_text:
            text.load_state_dict(load_file(ckpt / "text_encoder.safetensors"))
        e = load_file(ckpt / "ema.safetensors")
        ema = [e[str(i)] for i in range(len(params))]
        _opt_state_from_tensors(opt, load_file(ckpt / "optimizer.safetensors"))
        log(f"resumed at step {step}")
    rng = np.random.default_rng(cfg.seed + step)
    gen = torch.Generator().manual_seed(cfg.seed + step)
    unet.train()
    text.train(train_text)
    t_start = time.time()

    def lr_at(s: int) -> float:
        if s < cfg.warmup:
            return cfg.lr * (s + 1) / cfg.warmup
        p = (s - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
        return cfg.min_lr + 0.5 * (cfg.lr - cfg.min_lr) * (1 + math.cos(math.pi * min(p, 1.0)))

    def save(final: bool = False) -> None:
        tmp = out / "checkpoint.tmp"
        tmp.mkdir(exist_ok=True)
        save_file(unet.state_dict(), tmp / "unet.safetensors")
        if train_text:
            save_file(text.state_dict(), tmp / "text_encoder.safetensors")
        save_file({str(i): p.contiguous() for i, p in enumerate(ema)}, tmp / "ema.safetensors")
        save_file(_opt_state_to_tensors(opt), tmp / "optimizer.safetensors")
        (tmp / "state.json").write_text(json.dumps(
            {"step": step, "losses": losses, "wall_s": wall + time.time() - t_start,
             "config": asdict(cfg)}))
        if ckpt.exists():
            shutil.rmtree(ckpt)
        tmp.rename(ckpt)
        export_ema(pipe, params, ema, out / "model")
        plot_losses(losses, out / "loss.png")

    while step < cfg.steps:
        idx = rng.integers(0, len(x_all), cfg.batch)
        x0 = x_all[idx]
        texts = [caps[i][int(rng.integers(2))] if rng.random() >= cfg.caption_dropout else ""
                 for i in idx]
        noise = torch.randn(x0.shape, generator=gen)
        t = torch.randint(0, 1000, (cfg.batch,), generator=gen)
        bcast = (-1,) + (1,) * (x0.dim() - 1)     # images B x C x H x W, clips B x C x F x H x W
        a = acp[t].sqrt().view(bcast)
        s = (1 - acp[t]).sqrt().view(bcast)
        xt = a * x0 + s * noise
        target = a * noise - s * x0
        for g in opt.param_groups:
            g["lr"] = lr_at(step)
        with torch.set_grad_enabled(train_text):
            ctx = text(ids(texts))[0]
        pred = unet(xt, t, encoder_hidden_states=ctx, return_dict=False)[0]
        loss = F.mse_loss(pred, target)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        with torch.no_grad():
            d = min(cfg.ema, (1 + step) / (10 + step))
            for e, p in zip(ema, params):
                e.mul_(d).add_(p.detach(), alpha=1 - d)
        step += 1
        losses.append(round(loss.item(), 5))
        if step % 50 == 0:
            el = time.time() - t_start
            log(f"step {step}/{cfg.steps} loss {np.mean(losses[-50:]):.4f} lr {lr_at(step):.2e} "
                f"{el:.0f}s this sitting")
        if step % cfg.ckpt_every == 0 or step == cfg.steps:
            save()
    return out / "model"


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
