"""The judge: a small CNN that reads a 32x32 image back into its grammar attributes and concept.

Trained only on procedurally drawn images (with blur/noise/colour jitter so that it reads
model samples too), never on model outputs, so it is an independent yardstick for the
base model's caption following and for each personalized concept.
"""
from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import numpy as np

from demo import world

HEADS = dict(world.ATTRIBUTES, concept=world.JUDGE_CONCEPTS)
IGNORE = -100


def _net(heads: dict = HEADS):
    import torch.nn as nn

    class JudgeNet(nn.Module):
        """conv 32->16->8->4, then one linear head per attribute."""

        def __init__(self):
            super().__init__()

            def block(cin, cout):
                return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(), nn.Conv2d(cout, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(), nn.MaxPool2d(2))

            self.features = nn.Sequential(block(3, 24), block(24, 48), block(48, 64), nn.Flatten())  # (B, 64*4*4)
            self.hidden = nn.Sequential(nn.Linear(64 * 16, 128), nn.ReLU())
            self.heads = nn.ModuleDict({name: nn.Linear(128, len(opts)) for name, opts in heads.items()})

        def forward(self, x):
            h = self.hidden(self.features(x))
            return {name: head(h) for name, head in self.heads.items()}

    return JudgeNet()


def labels_for(scenes: list[world.Scene]) -> dict[str, np.ndarray]:
    """Integer labels per head; attributes a concept replaces are IGNORE."""
    out = {name: np.full(len(scenes), IGNORE, dtype=np.int64) for name in HEADS}
    for i, s in enumerate(scenes):
        c = world.CONCEPT_BY_KEY.get(s.concept) if s.concept else None
        subject = c is not None and c.kind == "subject" and c.fixed is None
        for name, opts in world.ATTRIBUTES.items():
            if subject and name in ("shape", "colour", "texture"):
                continue
            if c is not None and c.key == "outline" and name == "texture":
                continue
            out[name][i] = opts.index(getattr(s, name))
        key = s.concept if (c is not None and c.fixed is None) else "none"
        out["concept"][i] = world.JUDGE_CONCEPTS.index(key)
    return out


def training_scenes(seed: int, n: int) -> list[world.Scene]:
    """Half plain scenes (any split), half spread over the concepts."""
    rng = np.random.default_rng(seed)
    keys = [c.key for c in world.CONCEPTS if c.fixed is None]
    scenes = []
    for _ in range(n):
        concept = keys[rng.integers(len(keys))] if rng.random() < 0.5 else None
        scenes.append(world.random_scene(rng, concept))
    return scenes


def augment(x, gen):
    """Blur, noise, colour and brightness jitter, 1px shifts: what a tiny diffusion model does to a drawing."""
    import torch
    import torch.nn.functional as F

    b = x.shape[0]
    k = torch.tensor([1.0, 2.0, 1.0])
    k = (k[:, None] * k[None, :]) / 16
    blurred = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), k.expand(3, 1, 3, 3).contiguous(), groups=3)
    amount = torch.rand(b, 1, 1, 1, generator=gen)
    x = x + amount * (blurred - x)
    x = x * (1 + 0.15 * (torch.rand(b, 3, 1, 1, generator=gen) - 0.5)) + 0.15 * (torch.rand(b, 1, 1, 1, generator=gen) - 0.5)
    x = x + 0.08 * torch.rand(b, 1, 1, 1, generator=gen) * torch.randn(x.shape, generator=gen)
    sx, sy = [int(v) for v in torch.randint(-1, 2, (2,), generator=gen)]
    return torch.roll(x, shifts=(sy, sx), dims=(2, 3)).clamp(-1.2, 1.2)


@dataclasses.dataclass
class Judge:
    net: object
    heads: dict = dataclasses.field(default_factory=lambda: HEADS)  # name -> label names (demo/compose_judge.py has its own)

    def predict(self, images: np.ndarray) -> dict[str, list[str]]:
        """Names per head for uint8 (N, 32, 32, 3) images."""
        import torch

        from demo.train import to_tensor

        self.net.eval()
        out = {name: [] for name in self.heads}
        with torch.no_grad():
            for i in range(0, len(images), 256):
                logits = self.net(to_tensor(images[i : i + 256]))
                for name, opts in self.heads.items():
                    out[name] += [opts[j] for j in logits[name].argmax(1).tolist()]
        return out

    def save(self, path: Path) -> None:
        from safetensors.torch import save_file

        save_file({k: v.contiguous() for k, v in self.net.state_dict().items()}, str(path), metadata={"heads": ",".join(self.heads)})


def load_judge(path: Path, heads: dict = HEADS) -> Judge:
    from safetensors.torch import load_file

    if not Path(path).is_file():
        raise FileNotFoundError(f"judge weights not found: {path}")
    net = _net(heads)
    net.load_state_dict(load_file(str(path)))
    net.eval()
    return Judge(net, heads)


def shows_concept(pred: dict[str, list[str]], i: int, concept_key: str) -> bool:
    """Does image i show the concept? Fixed-combination concepts are judged by their attributes."""
    c = world.CONCEPT_BY_KEY[concept_key]
    if c.fixed is None:
        return pred["concept"][i] == concept_key
    return pred["concept"][i] == "none" and all(pred[name][i] == value for name, value in c.fixed.items())


def evaluate(judge: Judge, scenes: list[world.Scene], images: np.ndarray | None = None) -> dict[str, float]:
    """Per-head accuracy on scenes (drawn fresh unless images are given), ignoring IGNORE labels."""
    images = world.render(scenes) if images is None else images
    pred = judge.predict(images)
    labels = labels_for(scenes)
    acc = {}
    for name, opts in HEADS.items():
        keep = labels[name] != IGNORE
        if keep.any():
            guess = np.array([opts.index(p) for p in pred[name]])
            acc[name] = float((guess[keep] == labels[name][keep]).mean())
    return acc


def fit_heads(net, heads, x_all, y_all: dict, steps: int, batch: int, gen, loss_fn, log, label: str) -> None:
    """How both judges learn: AdamW with a one-cycle schedule on augmented random batches of `x_all`, the
    loss summed over `heads` in that order (`y_all`: one label tensor per head)."""
    import torch

    from demo.train import log_step, optimizer_step

    opt = torch.optim.AdamW(net.parameters(), lr=3e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=max(steps, 2), pct_start=0.15)
    net.train()
    t0 = time.time()
    for step in range(steps):
        idx = torch.randint(0, len(x_all), (batch,), generator=gen)
        logits = net(augment(x_all[idx], gen))
        loss = sum(loss_fn(logits[k], y_all[k][idx]) for k in heads)
        optimizer_step(opt, sched, loss)
        log_step(log, label, step, steps, loss, t0, every=200)


def train_judge(seed: int, n_train: int, steps: int, batch: int = 128, log=print) -> tuple[Judge, dict]:
    """Train on procedurally drawn images; report accuracy on a fresh held-out draw (augmented too)."""
    import torch

    from demo.train import to_tensor

    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    scenes = training_scenes(seed, n_train)
    x_all = to_tensor(world.render(scenes))
    y_all = {k: torch.from_numpy(v) for k, v in labels_for(scenes).items()}
    net = _net()
    fit_heads(net, HEADS, x_all, y_all, steps, batch, gen, torch.nn.CrossEntropyLoss(ignore_index=IGNORE), log, "judge")
    judge = Judge(net)
    held = training_scenes(seed + 1000, 2000)
    clean = evaluate(judge, held)
    x_aug = augment(to_tensor(world.render(held)), torch.Generator().manual_seed(seed + 1))
    aug_images = ((x_aug.clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).numpy()
    noisy = evaluate(judge, held, aug_images)
    metrics = {
        "judge_heldout_accuracy": {k: round(v, 4) for k, v in clean.items()},
        "judge_heldout_accuracy_augmented": {k: round(v, 4) for k, v in noisy.items()},
        "judge_heldout_min": round(min(clean.values()), 4),
    }
    log(f"judge held-out accuracy {metrics['judge_heldout_accuracy']}")
    return judge, metrics
