"""The PAP-style diagnostic probes, each a function returning a :class:`ProbeResult`.

1. ``multihop``: physics accuracy with implicit vs explicit captions, by category and hop depth.
2. ``disentangle``: swap texture words or physics words between two prompts at the embedding level
   and count which verifier answers follow the swap; plus linear probes on token embeddings.
3. ``timing``: switch the conditioning from ``c`` to ``c+`` (and back) at step ``k``.
4. ``inpaint``: regenerate the implicit effect's region from step ``k`` with ``c+``.

Every result carries sample counts and 95% Wilson intervals and saves as JSON + Plotly HTML +
matplotlib PNG.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np

from .. import engine
from ..csg import CausalSceneGraph, to_prompt
from ..interventions import Inpaint, InterventionSpec, PromptEdit
from ..stats import rate
from ..toyworld.data import Sample, sample_scene

PROBES = ("multihop", "disentangle", "timing", "inpaint")
Progress = Callable[[float, str], None]


@dataclass
class ProbeResult:
    name: str
    rows: list[dict[str, Any]]            # one row per cell: keys + acc, n, lo, hi
    x: str                                # the column on the x axis of the figure
    series: str                           # the column that separates the curves
    meta: dict[str, Any] = field(default_factory=dict)
    examples: dict[str, np.ndarray] = field(default_factory=dict)

    def figure(self):
        import plotly.graph_objects as go
        fig = go.Figure()
        for s in sorted({r[self.series] for r in self.rows}, key=str):
            rs = [r for r in self.rows if r[self.series] == s]
            fig.add_trace(go.Scatter(
                x=[r[self.x] for r in rs], y=[r["acc"] for r in rs], name=str(s),
                mode="lines+markers" if isinstance(rs[0][self.x], (int, float)) else "markers",
                error_y=dict(type="data", symmetric=False,
                             array=[r["hi"] - r["acc"] for r in rs],
                             arrayminus=[r["acc"] - r["lo"] for r in rs])))
        note = self.meta.get("note")
        title = f"{self.name}<br><sup>{note}</sup>" if note else self.name
        fig.update_layout(title=title, xaxis_title=self.x, yaxis_title="accuracy",
                          yaxis_range=[0, 1.05], height=360,
                          margin=dict(l=40, r=10, t=40, b=40))
        return fig

    def save(self, folder: str | Path) -> dict[str, Path]:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        paths = {"json": folder / f"{self.name}.json", "html": folder / f"{self.name}.html",
                 "png": folder / f"{self.name}.png"}
        paths["json"].write_text(json.dumps({"schema_version": 1, "name": self.name,
                                             "rows": self.rows, "meta": self.meta}, indent=1))
        self.figure().write_html(paths["html"], include_plotlyjs="cdn")
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(6.4, 3.6))
        for s in sorted({r[self.series] for r in self.rows}, key=str):
            rs = [r for r in self.rows if r[self.series] == s]
            xs = [r[self.x] for r in rs]
            ys = np.array([r["acc"] for r in rs])
            err = np.array([[r["acc"] - r["lo"] for r in rs], [r["hi"] - r["acc"] for r in rs]])
            ax.errorbar(xs, ys, yerr=err, label=str(s), marker="o", capsize=2,
                        ls="-" if isinstance(xs[0], (int, float)) else "none")
        ax.set_ylim(0, 1.05)
        ax.set_xlabel(self.x)
        ax.set_ylabel("accuracy")
        ax.set_title(self.name)
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(paths["png"], dpi=110)
        plt.close(fig)
        return paths


# ---------------------------------------------------------------------- helpers


def _verify(image: np.ndarray, graph: CausalSceneGraph):
    """An image or a clip, judged (clips: every frame's texture, the temporal physics)."""
    from ..toyworld.verify_video import judge
    return judge(image, graph)


def scenes(split: str, n_per_category: int, start: int = 0,
           video: bool = False) -> list[Sample]:
    """``n_per_category`` scenes per category (``video``: the clip categories only)."""
    from ..csg import CATEGORIES
    from ..toyworld.video_data import CLIP_CATEGORIES
    cats = CLIP_CATEGORIES if video else CATEGORIES
    out = []
    for cat in cats:
        for i in range(n_per_category):
            out.append(sample_scene(split, start + i * len(cats) + cats.index(cat),
                                    category=cat))
    return out


def generate(pipe: Any, prompts: list[str], seeds: list[int], steps: int = 25,
             guidance_scale: float = 3.0) -> np.ndarray:
    """One image per (prompt, seed), batched over seeds through the engine (same noise rule)."""
    out = []
    for p in prompts:
        spec = InterventionSpec(prompt=p, steps=steps, guidance_scale=guidance_scale)
        for s in seeds:
            out.append(engine.run(pipe, spec, seed=s, previews=False).images[0])
    return np.stack(out)


# ---------------------------------------------------------------------- 1. multi-hop


def multihop(pipe: Any, samples: list[Sample], seeds: list[int], steps: int = 25,
             progress: Progress | None = None) -> ProbeResult:
    rows_raw = []
    for j, s in enumerate(samples):
        depth = s.graph.hop_depths()
        for explicit in (False, True):
            imgs = generate(pipe, [s.caption(explicit)], seeds, steps)
            for im in imgs:
                v = _verify(im, s.graph)
                for q, ok in v.physics.items():
                    rows_raw.append({"category": s.category, "caption": "explicit" if explicit
                                     else "implicit", "question": q,
                                     "hop": _question_hop(s.graph, q, depth), "ok": ok})
        if progress:
            progress((j + 1) / len(samples), f"multi-hop {j + 1}/{len(samples)}")
    rows = []
    for key in ("category", "hop"):
        for val in sorted({r[key] for r in rows_raw}, key=str):
            for cap in ("implicit", "explicit"):
                sel = [r["ok"] for r in rows_raw if r[key] == val and r["caption"] == cap]
                if sel:
                    rows.append({"group": key, key: val, "x": f"{key}={val}", "caption": cap,
                                 **rate(sel)})
    return ProbeResult("multihop", rows, x="x", series="caption",
                       meta={"n_prompts": len(samples), "seeds": seeds, "steps": steps})


def _question_hop(g: CausalSceneGraph, question: str, depth: dict[str, int]) -> int:
    """Hop depth of the effect a physics question is about (0 if it asks about stated facts)."""
    effects = g.effects()
    return max((depth[e] for e in effects), default=0) if effects and \
        g.category != "buoyancy" else (depth[effects[0]] if effects else 0)


# ---------------------------------------------------------------------- 2. disentanglement

TEXTURE_SWAPS = {"colour": ("red", "blue"), "shape": ("ball", "cube")}


def disentangle(pipe: Any, n_pairs: int, seeds: list[int], steps: int = 25,
                progress: Progress | None = None, split: str = "test-id") -> ProbeResult:
    """Swap one word's token embedding for another's and record which answers follow it.

    A texture swap (colour) should move the texture answer and leave physics alone; a physics swap
    (the light side in a shadow scene) should move the physics answer and leave texture alone.
    """
    from ..csg import from_prompt
    rows_raw: list[dict[str, Any]] = []
    shadow = [s for s in scenes(split, n_pairs)[n_pairs:2 * n_pairs]]   # shadow scenes
    for j, s in enumerate(shadow):
        g = s.graph
        prompt = to_prompt(g)
        colour = g.attr("obj0", "colour")
        side = g.attr("light", "side")
        new_colour = "blue" if colour != "blue" else "red"
        new_side = {"left": "right", "right": "left", "above": "left"}[side]
        swaps = {
            "texture (colour)": (colour, new_colour,
                                 prompt.replace(colour, new_colour, 1)),
            "physics (light side)": (side, new_side, prompt.replace(
                "above" if side == "above" else f"the {side}",
                f"the {new_side}" if new_side != "above" else "above")),
        }
        base = {sd: engine.run(pipe, InterventionSpec(prompt=prompt, steps=steps), seed=sd,
                               previews=False).images[0] for sd in seeds}
        vbase = {sd: _verify(im, g) for sd, im in base.items()}
        for kind, (src, dst, target) in swaps.items():
            tg = from_prompt(target).graph
            src_tok = src
            if side == "above" and kind.startswith("physics"):
                src_tok = "above"
            spec = InterventionSpec(prompt=prompt, steps=steps, edits=[PromptEdit(
                "swap_tokens", 0, steps, 1.0, target_prompt=target, pairs=[[src_tok, dst]])])
            for sd in seeds:
                im = engine.run(pipe, spec, seed=sd, previews=False).images[0]
                vb, vs = vbase[sd], _verify(im, g)
                vt = _verify(im, tg)
                rows_raw.append({
                    "swap": kind,
                    "texture_follows": vt.texture.get("colour", False) and not
                    vs.texture.get("colour", True),
                    "physics_follows": vt.physics_ok and not vs.physics_ok,
                    "texture_changed": vb.texture_ok != vs.texture_ok,
                    "physics_changed": vb.physics_ok != vs.physics_ok})
        if progress:
            progress((j + 1) / len(shadow), f"disentangle {j + 1}/{len(shadow)}")
    rows = []
    for kind in sorted({r["swap"] for r in rows_raw}):
        for ans in ("texture_follows", "physics_follows"):
            rows.append({"swap": kind, "answer": ans,
                         **rate(r[ans] for r in rows_raw if r["swap"] == kind)})
    lin = linear_probe(pipe)
    return ProbeResult("disentangle", rows, x="swap", series="answer",
                       meta={"seeds": seeds, "steps": steps, "linear_probe": lin})


def linear_probe(pipe: Any, n: int = 300, seed: int = 0) -> dict[str, Any]:
    """Decode a texture attribute (colour) and a physics attribute (light side) from the token
    embeddings of the colour word and of the light word: high accuracy on the matching token and
    chance on the other means the embedding keeps the two apart."""
    import torch
    rng = np.random.default_rng(seed)
    enc = engine.default_encoder(pipe)
    from ..csg import COLOURS, LIGHT_SIDES, SHAPES
    colours, sides = list(COLOURS), list(LIGHT_SIDES)
    data = []
    for _ in range(n):
        c, s, sh = colours[rng.integers(5)], sides[rng.integers(3)], SHAPES[rng.integers(3)]
        p = f"a {c} {sh} on the floor, lit from " + ("above" if s == "above" else f"the {s}")
        data.append((p, c, s))
    emb = enc([d[0] for d in data])["prompt_embeds"].float()
    # token positions: 'a' colour shape ... ; the colour word is token 2, the side word is last
    tok = pipe.tokenizer
    feats = {"colour token": [], "light token": []}
    for i, (p, c, s) in enumerate(data):
        ids = tok(p).input_ids
        feats["colour token"].append(emb[i, 2])
        feats["light token"].append(emb[i, len(ids) - 2])
    out: dict[str, Any] = {}
    for where, xs in feats.items():
        X = torch.stack(xs)
        for target, labels, classes in (("colour", [d[1] for d in data], colours),
                                        ("light side", [d[2] for d in data], sides)):
            y = torch.tensor([classes.index(v) for v in labels])
            ntr = int(0.7 * n)
            w = torch.zeros(X.shape[1], len(classes), requires_grad=True)
            b = torch.zeros(len(classes), requires_grad=True)
            mu, sd = X[:ntr].mean(0), X[:ntr].std(0) + 1e-4
            Xn = (X - mu) / sd
            opt = torch.optim.Adam([w, b], lr=0.05)
            for _ in range(200):
                loss = torch.nn.functional.cross_entropy(Xn[:ntr] @ w + b, y[:ntr]) + \
                    1e-3 * (w ** 2).sum()
                opt.zero_grad()
                loss.backward()
                opt.step()
            acc = float(((Xn[ntr:] @ w + b).argmax(1) == y[ntr:]).float().mean())
            out[f"{target} from {where}"] = {"acc": acc, "n_test": n - ntr,
                                             "chance": 1 / len(classes)}
    return out


# ---------------------------------------------------------------------- 3. timing


def timing(pipe: Any, samples: list[Sample], seeds: list[int], ks: list[int], steps: int = 25,
           progress: Progress | None = None) -> ProbeResult:
    """c for steps [0, k) then c+ (``c->c+``), and c+ then c (``c+->c``): physics vs k.

    Uses the trajectory cache: each variant starts from its base run's latents at step k.
    """
    rows_raw = []
    for j, s in enumerate(samples):
        c, cp = s.caption(False), s.caption(True)
        for direction, src, dst in (("c->c+", c, cp), ("c+->c", cp, c)):
            for sd in seeds:
                base = engine.run(pipe, InterventionSpec(prompt=src, steps=steps), seed=sd,
                                  previews=False)
                for k in ks:
                    if k >= steps:
                        im = base.images[0]
                    else:
                        spec = InterventionSpec(prompt=src, steps=steps, edits=[
                            PromptEdit("replace", k, steps, 1.0, target_prompt=dst)])
                        im = engine.run(pipe, spec, seed=sd, cache=base.trajectory,
                                        previews=False).images[0]
                    v = _verify(im, s.graph)
                    rows_raw.append({"direction": direction, "k": k, "category": s.category,
                                     "physics": v.physics_ok, "texture": v.texture_ok})
        if progress:
            progress((j + 1) / len(samples), f"timing {j + 1}/{len(samples)}")
    rows = []
    for direction in ("c->c+", "c+->c"):
        for k in ks:
            sel = [r for r in rows_raw if r["direction"] == direction and r["k"] == k]
            rows.append({"series": f"{direction} physics", "k": k,
                         **rate(r["physics"] for r in sel)})
            rows.append({"series": f"{direction} texture", "k": k,
                         **rate(r["texture"] for r in sel)})
    return ProbeResult("timing", rows, x="k", series="series",
                       meta={"seeds": seeds, "steps": steps, "ks": ks,
                             "n_prompts": len(samples), "raw": rows_raw})


# ---------------------------------------------------------------------- 4. inpainting


def inpaint(pipe: Any, samples: list[Sample], seeds: list[int], ks: list[int], steps: int = 25,
            progress: Progress | None = None) -> ProbeResult:
    """Baseline from the implicit caption; where its physics is wrong, mask the implicit effect's
    region (the scene graph laid out on the object the model drew), re-noise to step k and
    regenerate with c+.  Reports how often the physics is then right, against k."""
    from ..toyworld.align import align_layout
    rows_raw = []
    for j, s in enumerate(samples):
        effects = [n for n in s.graph.implicit_nodes()]
        if not effects:
            continue
        c, cp = s.caption(False), s.caption(True)
        for sd in seeds:
            base = engine.run(pipe, InterventionSpec(prompt=c, steps=steps), seed=sd,
                              previews=False)
            g = align_layout(s.graph, base.images[0])
            base_physics = _verify(base.images[0], s.graph).physics_ok
            for k in ks:
                spec = InterventionSpec(prompt=cp, steps=steps, graph=g.to_dict(),
                                        inpaint=Inpaint(start=k, mask_node=effects[0]))
                ref = base.trajectory.latents[-1]
                im = engine.run(pipe, spec, seed=sd, reference=ref, previews=False).images[0]
                v = _verify(im, s.graph)
                rows_raw.append({"k": k, "category": s.category, "physics": v.physics_ok,
                                 "texture": v.texture_ok,
                                 "base_physics": base_physics})
        if progress:
            progress((j + 1) / len(samples), f"inpaint {j + 1}/{len(samples)}")
    rows = []
    for k in ks:
        sel = [r for r in rows_raw if r["k"] == k]
        rows.append({"series": "physics after inpainting", "k": k,
                     **rate(r["physics"] for r in sel)})
        rows.append({"series": "texture after inpainting", "k": k,
                     **rate(r["texture"] for r in sel)})
        rows.append({"series": "baseline physics", "k": k,
                     **rate(r["base_physics"] for r in sel)})
    return ProbeResult("inpaint", rows, x="k", series="series",
                       meta={"seeds": seeds, "steps": steps, "ks": ks,
                             "n_prompts": len(samples)})


def run_probe(name: str, pipe: Any, split: str = "test-ood", n_per_category: int = 4,
              seeds: Iterable[int] = (0, 1), ks: Iterable[int] = (0, 3, 6, 9, 12, 18, 25),
              steps: int = 25, progress: Progress | None = None) -> ProbeResult:
    """One entry point for the CLI and the app."""
    seeds, ks = list(seeds), list(ks)
    if name not in PROBES:
        raise ValueError(f"probe: {name!r} is not one of {list(PROBES)}")
    if name == "disentangle":
        return disentangle(pipe, n_per_category, seeds, steps, progress, split)
    samples = scenes(split, n_per_category, video=engine.family(pipe) == "toyworld_video")
    if name == "multihop":
        return multihop(pipe, samples, seeds, steps, progress)
    if name == "timing":
        return timing(pipe, samples, seeds, ks, steps, progress)
    res = inpaint(pipe, samples, seeds, [k for k in ks if k < steps], steps, progress)
    left_out = [k for k in ks if k >= steps]
    if left_out:      # said, not dropped silently: the figure would plot fewer ks than asked
        res.meta["ks_left_out"] = left_out
        res.meta["note"] = (f"k = {', '.join(map(str, left_out))} left out: inpainting from "
                            f"step k >= steps ({steps}) regenerates nothing")
    return res
