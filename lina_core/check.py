"""LINA's learned early check: will this run come out right?  Read off its own early preview.

The check reads the run's predicted clean image at the check step (the model's own guess of the
final picture, :attr:`engine.RunResult.previews`) beside the scene graph's layout masks placed
where the run drew its first object (:func:`expected`), together with the prompt (the
scene-graph features and pooled prompt embedding the predictor uses,
:func:`lina.prompt_features`), and gives two probabilities: that the *final* image's physics
will be right, and its texture.

It is learned, never the verifier: an ensemble of three small CNNs, their image features gated
by the prompt's, trained on baseline runs of train and dev-ood prompts
(:mod:`lina_core.check_data`) labelled by the verifier's verdict on their final images.  The
check step and width are chosen by grouped cross-validation on those splits; test-id and
test-ood are only reported (:mod:`lina_core.bench.loop_report`).  Saved as safetensors with a JSON
card.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from .stats import bootstrap

HEADS = ("physics", "texture")


class CheckNet(nn.Module):
    """preview and the graph's layout masks (N x 6 x 32 x 32 in [0, 1]) + prompt features
    (N x F) -> 2 logits."""

    def __init__(self, n_prompt: int, width: int = 32, channels: int = 6):
        super().__init__()
        w = width
        self.trunk = nn.Sequential(
            nn.Conv2d(channels, w, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(w, 2 * w, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(2 * w, 2 * w, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(2),
            nn.Flatten(), nn.Linear(8 * w, 4 * w), nn.ReLU())
        self.prompt = nn.Sequential(nn.Linear(n_prompt, 4 * w), nn.ReLU(),
                                    nn.Linear(4 * w, 4 * w))
        # the prompt both gates the image features (what to look for) and adds to them
        self.head = nn.Sequential(nn.Linear(12 * w, 4 * w), nn.ReLU(), nn.Linear(4 * w, 2))

    def forward(self, image: torch.Tensor, prompt: torch.Tensor) -> torch.Tensor:
        a, b = self.trunk(image), self.prompt(prompt)
        return self.head(torch.cat([a, b, a * torch.sigmoid(b)], dim=1))


def to_input(previews: np.ndarray) -> torch.Tensor:
    """N x H x W x C uint8 -> N x C x H x W float in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(previews)).permute(0, 3, 1, 2).float() / 255


def expected(preview: np.ndarray, graph: Any) -> np.ndarray:
    """Where the scene graph puts things, laid out where the run drew its first object
    (:func:`toyworld.align.align_layout`, as the guided candidates place their masks): three
    mask channels (0 or 255), the objects, the implicit effects, and everything else (surfaces,
    lights).  The graph's geometry, never its colours: no ground-truth picture reaches the
    check (DESIGN section 5: LINA never sees a ground-truth render)."""
    from .toyworld.align import align_layout
    from .toyworld.render import render
    try:
        g = align_layout(graph, preview)
    except Exception:  # noqa: BLE001 - an object the preview does not show: the graph's layout
        g = graph
    masks = render(g, preview.shape[0]).masks
    objs, effects = set(g.nodes("object")), set(g.implicit_nodes())
    out = np.zeros(preview.shape[:2] + (3,), np.uint8)
    for n, m in masks.items():
        out[..., 0 if n in objs else 1 if n in effects else 2][np.asarray(m, bool)] = 255
    return out


def with_expected(previews: np.ndarray, graphs: list[Any]) -> np.ndarray:
    """N x H x W x 3 previews -> N x H x W x 6: each beside its :func:`expected` layout."""
    return np.stack([np.concatenate([p, expected(p, g)], -1) for p, g in zip(previews, graphs)])


class EarlyCheck:
    """A trained :class:`CheckNet` with its prompt-feature standardisation and check step."""

    #: what ``check.json`` says a folder of this class holds (``kind``)
    kind = "early-check"

    def __init__(self, net: CheckNet | list[CheckNet], mu: np.ndarray, sd: np.ndarray,
                 meta: dict[str, Any]):
        #: an ensemble of nets trained from different seeds (their probabilities averaged):
        #: one net trained on a few hundred runs varies too much from seed to seed
        self.nets = [n.eval() for n in (net if isinstance(net, list) else [net])]
        self.meta = dict(meta)
        self.mu = np.asarray(mu, np.float32)
        self.sd = np.asarray(sd, np.float32)

    @property
    def step(self) -> int:
        """The check step of a run of :attr:`steps` steps (previews are indexed from 0)."""
        return int(self.meta["check_step"])

    @property
    def steps(self) -> int:
        return int(self.meta.get("steps", 25))

    @property
    def loop_threshold(self) -> float:
        """Flag a run when P(physics right) x P(texture right) is below this (older cards:
        the check's own threshold)."""
        from .adaptive import THRESHOLD
        return float(self.meta.get("loop_threshold", self.meta.get("threshold", THRESHOLD)))

    @property
    def max_tries(self) -> int:
        from .adaptive import MAX_TRIES
        return int(self.meta.get("max_tries", MAX_TRIES))

    def fits(self, predictor: Any) -> bool:
        """Whether this check reads the features of ``predictor``'s text encoder (the loop
        uses both; a check fitted for another encoder reads another embedding)."""
        return (predictor is not None
                and int(self.meta.get("n_prompt", -1)) == predictor.n_features
                and self.meta.get("text_encoder") == predictor.meta.get("text_encoder"))

    def step_for(self, steps: int) -> int:
        """The check step for a run of ``steps`` (the same share of the run)."""
        return max(1, min(steps - 1, round(self.step * steps / self.steps)))

    #: what the loop's runs must record for :meth:`reader` (previews: always recorded)
    run_kwargs: dict[str, Any] = {}
    kind = "learned"
    #: whether :meth:`reader` reads a clip's preview (:class:`lina_core.clip_check.ClipCheck`)
    reads_clips = False

    def applies(self, pipe: Any, graph: Any) -> bool:
        """Trained on ToyWorld stills: it reads ToyWorld scenes on an image model only (a
        clip's preview is F frames; :class:`lina_core.clip_check.ClipCheck` reads those)."""
        from . import engine
        from .candidates import is_toyworld
        return is_toyworld(graph) and engine.family(pipe) != "toyworld_video"

    def reader(self, pipe: Any, prompt: str, graph: Any):
        """``read(run, step) -> (P(physics right), P(texture right))`` on a run's preview."""
        from .lina import prompt_features
        feats = prompt_features(pipe, prompt, graph)
        return lambda run, step: tuple(self.probabilities(run.previews[step][0][None], feats,
                                                          [graph])[0])

    @torch.no_grad()
    def probabilities(self, previews: np.ndarray, prompt_feats: np.ndarray,
                      graphs: list[Any] | None = None) -> np.ndarray:
        """N x 2: P(physics right), P(texture right) for previews N x H x W x 3 uint8 of runs
        of the scene ``graphs`` (N x H x W x 6 when already beside their expected pictures)."""
        if previews.shape[-1] == 3:
            if graphs is None:
                raise ValueError("check: the scene graph of each preview is needed")
            previews = with_expected(previews, graphs)
        z = torch.from_numpy((np.atleast_2d(prompt_feats).astype(np.float32) - self.mu)
                             / self.sd)
        x = to_input(previews)
        p = torch.stack([torch.sigmoid(n(x, z)) for n in self.nets]).mean(0)
        return p.numpy().astype(np.float64)

    def save(self, folder: str | Path) -> None:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        t = {f"net{i}.{k}": v.detach().contiguous() for i, n in enumerate(self.nets)
             for k, v in n.state_dict().items()}
        t["mu"], t["sd"] = torch.from_numpy(self.mu), torch.from_numpy(self.sd)
        save_file(t, folder / "check.safetensors")
        (folder / "check.json").write_text(json.dumps(self.meta, indent=1))

    @classmethod
    def load(cls, folder: str | Path) -> "EarlyCheck":
        folder = Path(folder)
        meta = json.loads((folder / "check.json").read_text())
        if meta.get("kind", EarlyCheck.kind) != cls.kind:
            raise ValueError(f"check: {folder} holds a {meta.get('kind')!r}, not a {cls.kind!r}; "
                             f"lina_core.check_files.load_check reads either")
        t = load_file(folder / "check.safetensors")
        nets = []
        for i in range(int(meta.get("members", 1))):
            net = CheckNet(int(meta["n_prompt"]), int(meta["width"]), int(meta.get("channels", 6)))
            pre = f"net{i}."
            net.load_state_dict({k[len(pre):]: v for k, v in t.items() if k.startswith(pre)})
            nets.append(net)
        return cls(nets, t["mu"].numpy(), t["sd"].numpy(), meta)


# ---------------------------------------------------------------------- training


def train_net(images: np.ndarray, feats: np.ndarray, labels: np.ndarray, width: int = 32,
              epochs: int = 40, seed: int = 0, lr: float = 2e-3, weight_decay: float = 1e-3,
              ) -> tuple[CheckNet, np.ndarray, np.ndarray]:
    """Train on previews (N x S x H x W x 3: S neighbouring steps of each run, one drawn per
    sample and epoch as augmentation), prompt features N x F and labels N x 2 (1 = right)."""
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    mu = feats.mean(0)
    sd = feats.std(0)
    sd = np.where(sd < 1e-6, 1.0, sd).astype(np.float32)
    z = torch.from_numpy(((feats - mu) / sd).astype(np.float32))
    x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 1, 4, 2, 3).float() / 255
    y = torch.from_numpy(labels.astype(np.float32))
    net = CheckNet(feats.shape[1], width, images.shape[-1])
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=weight_decay)
    # failures are the minority: weight each head's classes to balance them
    pos = y.mean(0).clamp(0.05, 0.95)
    w_pos, w_neg = 0.5 / pos, 0.5 / (1 - pos)
    n, s = x.shape[0], x.shape[1]
    for _ in range(epochs):
        perm = torch.randperm(n, generator=g)
        for i in range(0, n, 64):
            idx = perm[i:i + 64]
            pick = torch.randint(0, s, (len(idx),), generator=g)
            xb = x[idx, pick]
            xb = xb + 0.02 * torch.randn(xb.shape, generator=g)
            yb = y[idx]
            w = torch.where(yb > 0.5, w_pos, w_neg)
            loss = nn.functional.binary_cross_entropy_with_logits(net(xb, z[idx]), yb, weight=w)
            opt.zero_grad()
            loss.backward()
            opt.step()
    return net.eval(), mu.astype(np.float32), sd


def train_ensemble(images: np.ndarray, feats: np.ndarray, labels: np.ndarray,
                   members: int = 3, seed: int = 0, **kw: Any
                   ) -> tuple[list[CheckNet], np.ndarray, np.ndarray]:
    """:func:`train_net` from ``members`` seeds (the same standardisation)."""
    nets = []
    for m in range(members):
        net, mu, sd = train_net(images, feats, labels, seed=seed + m, **kw)
        nets.append(net)
    return nets, mu, sd


def auroc(score_fail: np.ndarray, failed: np.ndarray) -> float:
    """Area under the ROC curve of ``score_fail`` for ``failed`` (ties count half)."""
    failed = np.asarray(failed, bool)
    pos, neg = np.asarray(score_fail)[failed], np.asarray(score_fail)[~failed]
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    diff = pos[:, None] - neg[None, :]
    return float(((diff > 0).sum() + 0.5 * (diff == 0).sum()) / diff.size)


def auroc_ci(score_fail: np.ndarray, failed: np.ndarray, n: int = 500,
             seed: int = 0) -> tuple[float, float]:
    """95% bootstrap interval of :func:`auroc` (resampling samples)."""
    rng = np.random.default_rng(seed)
    vals = []
    for _ in range(n):
        i = rng.integers(0, len(failed), len(failed))
        a = auroc(score_fail[i], failed[i])
        if a == a:
            vals.append(a)
    return (float(np.percentile(vals, 2.5)), float(np.percentile(vals, 97.5))) if vals else (
        float("nan"), float("nan"))


def p_joint(probs: np.ndarray) -> np.ndarray:
    """P(physics and texture right), the heads taken as independent."""
    return probs[:, 0] * probs[:, 1]


def calibration(p_ok: np.ndarray, ok: np.ndarray, bins: int = 5) -> list[dict[str, Any]]:
    """Reliability table: per bin of predicted P(right), the mean prediction and the rate."""
    edges = np.linspace(0, 1, bins + 1)
    out = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        m = (p_ok >= lo) & ((p_ok < hi) if hi < 1 else (p_ok <= hi))
        if m.any():
            out.append({"bin": [round(lo, 2), round(hi, 2)], "n": int(m.sum()),
                        "predicted": float(p_ok[m].mean()), "observed": float(ok[m].mean())})
    return out


def report(p: np.ndarray, labels: np.ndarray, threshold: float) -> dict[str, Any]:
    """AUROC (with interval) for final failure, precision and recall of flagging a failure
    at ``threshold`` (flag when P(joint right) < threshold), accuracy, calibration."""
    ok = labels.all(1)
    pj = p_joint(p)
    flag = pj < threshold
    fail = ~ok
    tp = int((flag & fail).sum())
    prec = tp / max(1, int(flag.sum()))
    rec = tp / max(1, int(fail.sum()))
    acc = [float(x) for x in (flag == fail)]
    lo, hi = bootstrap(acc)
    return {"n": int(len(ok)), "failures": int(fail.sum()), "auroc": auroc(1 - pj, fail),
            "auroc_ci": auroc_ci(1 - pj, fail), "precision": prec, "recall": rec,
            "accuracy": float(np.mean(acc)), "accuracy_ci": [lo, hi],
            "auroc_physics": auroc(1 - p[:, 0], labels[:, 0] < 0.5),
            "auroc_texture": auroc(1 - p[:, 1], labels[:, 1] < 0.5),
            "calibration": calibration(pj, ok)}


# ---------------------------------------------------------------------- data and fitting


def examples(pipe: Any, folders: list[str | Path], step: int, spread: int = 1
             ) -> dict[str, Any]:
    """Baseline runs kept by :mod:`lina_core.check_data` in ``folders``: previews at steps
    ``step - spread .. step + spread`` (N x S x H x W x 3), prompt features, labels (physics,
    texture right), rows and the prompt of each (the cross-validation group)."""
    from .check_data import item_file, read_rows
    from .csg import from_prompt
    from .lina import prompt_features
    from .grid import categories, scene
    cats = categories(pipe)
    rows, images = [], []
    for folder in folders:
        for r in read_rows(folder):
            prev = np.load(item_file(Path(folder), r))["previews"]
            lo, hi = max(0, step - spread), min(len(prev) - 1, step + spread)
            near = prev[[min(max(s, lo), hi) for s in range(step - spread, step + spread + 1)]]
            want = expected(prev[step], scene(r, cats).graph)
            images.append(np.concatenate([near, np.broadcast_to(want, near.shape)], -1))
            rows.append(r)
    cache: dict[str, np.ndarray] = {}
    for r in rows:
        if r["prompt"] not in cache:
            cache[r["prompt"]] = prompt_features(pipe, r["prompt"], from_prompt(r["prompt"]).graph)
    return {"images": np.stack(images), "rows": rows,
            "feats": np.stack([cache[r["prompt"]] for r in rows]),
            "labels": np.array([[r["physics"], r["texture"]] for r in rows], np.float32),
            "groups": [r["prompt"] for r in rows]}


def _centre(images: np.ndarray) -> np.ndarray:
    """The check step's own preview out of the spread kept for augmentation."""
    return images[:, images.shape[1] // 2]


def out_of_fold(data: dict[str, Any], folds: int = 5, seed: int = 0, **train_kw: Any
                ) -> np.ndarray:
    """Each example's probabilities from a check trained without its prompt (grouped folds:
    a prompt's seeds and scenes stay on one side)."""
    groups = sorted(set(data["groups"]))
    rng = np.random.default_rng(seed)
    fold_of = dict(zip(groups, rng.permutation(len(groups)) % folds))
    fold = np.array([fold_of[g] for g in data["groups"]])
    probs = np.zeros((len(fold), 2))
    for f in range(folds):
        tr, te = fold != f, fold == f
        nets, mu, sd = train_ensemble(data["images"][tr], data["feats"][tr],
                                      data["labels"][tr], seed=seed, **train_kw)
        ck = EarlyCheck(nets, mu, sd, {"check_step": 0})
        probs[te] = ck.probabilities(_centre(data["images"][te]), data["feats"][te])
    return probs


def choose_threshold(p: np.ndarray, labels: np.ndarray) -> float:
    """The flagging threshold on P(joint right) that maximises recall minus false-alarm rate
    (Youden's J) on out-of-fold probabilities: the loop's threshold (``loop_threshold``)."""
    pj, fail = p_joint(p), ~labels.astype(bool).all(1)
    if not fail.any() or fail.all():
        return 0.5
    best, thr = -1.0, 0.5
    for t in np.unique(pj):
        flag = pj < t
        j = flag[fail].mean() - flag[~fail].mean()
        if j > best:
            best, thr = j, float(t)
    return thr


def fit_check(pipe: Any, folders: list[str | Path], out: str | Path | None = None,
              steps_to_try: tuple[int, ...] = (4, 6, 8, 10), widths: tuple[int, ...] = (16, 32),
              epochs: int = 40, members: int = 3, progress=print, steps: int = 25
              ) -> tuple[EarlyCheck, dict[str, Any]]:
    """Choose the check step and width by out-of-fold AUROC for final failure on
    ``folders`` (train and dev-ood runs of ``steps`` steps; never test-ood), train on all of
    them, save."""
    import time
    for f in folders:
        if "test" in Path(f).name:
            raise ValueError(f"fit_check: {f} looks like a test split; the check is fitted on "
                             f"train and dev-ood runs only")
    t0 = time.perf_counter()
    cv: dict[str, float] = {}
    best = None
    for step in steps_to_try:
        data = examples(pipe, folders, step)
        for w in widths:
            p = out_of_fold(data, width=w, epochs=epochs, members=members)
            a = auroc(1 - p_joint(p), ~data["labels"].astype(bool).all(1))
            cv[f"step={step},width={w}"] = a
            progress(f"check cv step {step} width {w}: AUROC {a:.3f}")
            if best is None or a > best[0]:
                best = (a, step, w, data, p)
    _, step, width, data, oof = best
    thr = choose_threshold(oof, data["labels"])
    net, mu, sd = train_ensemble(data["images"], data["feats"], data["labels"], width=width,
                                 epochs=epochs, members=members)
    splits = sorted({r["split"] for r in data["rows"]})
    from .adaptive import MAX_TRIES
    meta = {"kind": EarlyCheck.kind, "check_step": step, "steps": steps, "width": width,
            "loop_threshold": thr, "max_tries": MAX_TRIES,
            "loop_chosen": "threshold by Youden's J on out-of-fold train and dev-ood "
                           f"probabilities; {MAX_TRIES} tries (the default), fixed before any "
                           "test run",
            "members": members, "channels": int(data["images"].shape[-1]),
            "n_prompt": int(data["feats"].shape[1]), "epochs": epochs, "threshold": thr,
            "training": {"splits": splits, "n": len(data["rows"]),
                         "failures": int((~data["labels"].astype(bool).all(1)).sum()),
                         "prompts": len(set(data["groups"]))},
            "cv_auroc": cv, "cv_report": report(oof, data["labels"], thr),
            "fit_seconds": time.perf_counter() - t0}
    from .lina import encoder_fingerprint
    meta["text_encoder"] = encoder_fingerprint(pipe)
    ck = EarlyCheck(net, mu, sd, meta)
    if out is not None:
        ck.save(out)
    return ck, {"oof": oof, "data": data, **meta}
