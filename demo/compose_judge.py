"""The compose judge: reads a 32x32 image back into the subject it shows and the style it is drawn in.

The demo judge (demo/judge.py) has one concept head, so an image can be one concept to it, never a
subject *and* a style. This one has two heads, subject (none, or a subject concept) and style (none,
frame, outline), and the same small CNN. Like the demo judge it is trained only on drawings
(world.draw_styled: every subject and plain scene, plain or in each style, with the same blur/noise/
colour augmentation), never on a model's output, so it stays an independent yardstick.
Embedding subjects (a fixed grammar combination, read by attributes) are not among its subjects.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from demo import world

SUBJECTS = tuple(c.key for c in world.CONCEPTS if c.kind == "subject" and c.fixed is None)
STYLES = tuple(c.key for c in world.CONCEPTS if c.kind == "style")
HEADS = {"subject": ("none",) + SUBJECTS, "style": ("none",) + STYLES}
SEED = 20261207


def draw_labelled(rng: np.random.Generator, n: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """n drawings, (n, 32, 32, 3) uint8, and their labels per head: a subject 3 times in 5, a style 2 in 3."""
    images = np.zeros((n, world.SIZE, world.SIZE, 3), np.uint8)
    labels = {name: np.zeros(n, np.int64) for name in HEADS}
    for i in range(n):
        subject = SUBJECTS[rng.integers(len(SUBJECTS))] if rng.random() < 0.6 else None
        style = HEADS["style"][rng.integers(len(HEADS["style"]))]
        scene = world.random_scene(rng, subject)
        images[i] = world.draw(scene) if style == "none" else world.draw_styled(scene, style)
        labels["subject"][i] = HEADS["subject"].index(subject or "none")
        labels["style"][i] = HEADS["style"].index(style)
    return images, labels


def train_compose_judge(seed: int = SEED, n_train: int = 6000, steps: int = 600, batch: int = 128, log=print):
    """Train on drawings; report per-head accuracy on a fresh held-out draw, clean and augmented."""
    import torch

    from demo.judge import Judge, _net, augment, fit_heads
    from demo.train import to_tensor

    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    images, labels = draw_labelled(np.random.default_rng(seed), n_train)
    x_all = to_tensor(images)
    y_all = {k: torch.from_numpy(v) for k, v in labels.items()}
    net = _net(HEADS)
    fit_heads(net, HEADS, x_all, y_all, steps, batch, gen, torch.nn.CrossEntropyLoss(), log, "compose judge")
    judge = Judge(net, HEADS)
    held, held_labels = draw_labelled(np.random.default_rng(seed + 1000), 2000)
    x_aug = augment(to_tensor(held), torch.Generator().manual_seed(seed + 1))
    held_aug = ((x_aug.clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).numpy()
    metrics = {"heldout_accuracy": accuracy(judge, held, held_labels),
               "heldout_accuracy_augmented": accuracy(judge, held_aug, held_labels),
               "train_images": n_train, "steps": steps, "seed": seed}
    log(f"compose judge held-out accuracy {metrics['heldout_accuracy']} (augmented {metrics['heldout_accuracy_augmented']})")
    return judge, metrics


def accuracy(judge, images: np.ndarray, labels: dict[str, np.ndarray]) -> dict[str, float]:
    pred = judge.predict(images)
    return {name: round(float(np.mean([opts.index(p) for p in pred[name]] == labels[name])), 4) for name, opts in HEADS.items()}


def load_or_train(folder: Path, log=print):
    """(judge, metrics): the compose judge cached in `folder`, trained there first when missing (about a minute)."""
    import json

    from demo.judge import load_judge

    path, meta = Path(folder) / f"compose_judge-{SEED}.safetensors", Path(folder) / f"compose_judge-{SEED}.json"
    if path.is_file() and meta.is_file():
        return load_judge(path, HEADS), json.loads(meta.read_text())
    judge, metrics = train_compose_judge(log=log)
    path.parent.mkdir(parents=True, exist_ok=True)
    judge.save(path)
    meta.write_text(json.dumps(metrics, indent=1))
    return judge, metrics


def sees(pred: dict[str, list[str]], subject: str | None, style: str | None) -> dict[str, float]:
    """Rates over the images: the subject seen, the style seen, and both (None: that part is not asked about)."""
    n = len(pred["subject"])
    s = np.array([subject is None or p == subject for p in pred["subject"]])
    t = np.array([style is None or p == style for p in pred["style"]])
    rate = (lambda a: float(a.mean())) if n else (lambda a: float("nan"))
    return {"subject": rate(s), "style": rate(t), "both": rate(s & t)}
