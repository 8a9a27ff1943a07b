"""The demo world's images: 32x32 scenes drawn from a small grammar, each with its caption.

Everything is a pure function of a seed, so the training set, the judge's training set and
every held-out split can be rebuilt exactly. Personalized "concepts" are procedural too: a
signature drawing (a subject) or a look applied to any scene (a style), each with a rare
trigger word that the base model has never seen.
"""
from __future__ import annotations

import dataclasses
import hashlib
from typing import Callable

import numpy as np

SIZE = 32

SHAPES = ("circle", "square", "triangle", "cross")
COLOURS = {
    "red": (220, 40, 40),
    "green": (40, 180, 60),
    "blue": (50, 80, 235),
    "yellow": (240, 215, 40),
    "purple": (150, 60, 205),
}
SIZES = {"small": 5.5, "large": 10.0}
POSITIONS = {
    "center": (16, 16),
    "top left": (10, 10),
    "top right": (22, 10),
    "bottom left": (10, 22),
    "bottom right": (22, 22),
}
BACKGROUNDS = {"black": (15, 15, 15), "white": (240, 240, 240), "gray": (125, 125, 125)}
TEXTURES = ("solid", "striped")

ATTRIBUTES = {
    "shape": SHAPES,
    "colour": tuple(COLOURS),
    "size": tuple(SIZES),
    "position": tuple(POSITIONS),
    "background": tuple(BACKGROUNDS),
    "texture": TEXTURES,
}

ORANGE, CYAN, PINK, SILVER = (250, 140, 20), (30, 215, 230), (250, 110, 180), (185, 190, 205)


@dataclasses.dataclass(frozen=True)
class Scene:
    shape: str
    colour: str
    size: str
    position: str
    background: str
    texture: str
    concept: str | None = None  # a Concept.key, or None for a plain grammar scene


@dataclasses.dataclass(frozen=True)
class Concept:
    """A personalized concept: a subject (replaces the shape) or a style (restyles any scene)."""

    key: str  # judge label, unique
    trigger: str  # rare word the checkpoint learns
    kind: str  # "subject" | "style"
    class_noun: str  # for subjects: the grammar shape it is "a kind of" (prior preservation)
    description: str
    draw: Callable[[np.ndarray, "Scene", np.ndarray, np.ndarray], None]  # paints in place
    fixed: dict | None = None  # for a concept that is a fixed grammar combination (textual inversion)


# ---------------------------------------------------------------- drawing primitives


def _grid(scene: Scene) -> tuple[np.ndarray, np.ndarray, float]:
    cx, cy = POSITIONS[scene.position]
    r = SIZES[scene.size]
    if scene.size == "large":  # keep large shapes inside the canvas
        cx, cy = 16 + (cx - 16) * 0.5, 16 + (cy - 16) * 0.5
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32) + 0.5
    return xx - cx, yy - cy, r


def shape_mask(shape: str, dx: np.ndarray, dy: np.ndarray, r: float) -> np.ndarray:
    """Boolean mask of a shape centred at the origin of (dx, dy) with radius r."""
    if shape == "circle":
        return dx**2 + dy**2 <= r**2
    if shape == "square":
        return (np.abs(dx) <= r * 0.85) & (np.abs(dy) <= r * 0.85)
    if shape == "triangle":  # apex up
        top, bottom = -r, r * 0.8
        inside_y = (dy >= top) & (dy <= bottom)
        half_width = (dy - top) / (bottom - top) * r
        return inside_y & (np.abs(dx) <= half_width)
    if shape == "cross":
        arm = r * 0.35
        return ((np.abs(dx) <= arm) & (np.abs(dy) <= r)) | ((np.abs(dy) <= arm) & (np.abs(dx) <= r))
    raise ValueError(f"unknown shape {shape!r}")


def _paint(img: np.ndarray, mask: np.ndarray, rgb) -> None:
    img[mask] = np.asarray(rgb, dtype=np.float32)


def _draw_plain(img, scene, dx, dy):
    r = SIZES[scene.size]
    mask = shape_mask(scene.shape, dx, dy, r)
    _paint(img, mask, COLOURS[scene.colour])
    if scene.texture == "striped":
        stripes = mask & ((np.floor(dy + 100) % 4) < 2)
        _paint(img, stripes, np.asarray(COLOURS[scene.colour]) * 0.45)


# ---------------------------------------------------------------- concepts


def _bullseye(img, scene, dx, dy):
    r = SIZES["large"] if scene.size == "large" else 7.5
    d = np.sqrt(dx**2 + dy**2)
    _paint(img, d <= r, ORANGE)
    _paint(img, (d <= r) & ((np.floor(d / 2.2) % 2) == 1), CYAN)


def _checker_ball(img, scene, dx, dy):
    r = SIZES["large"] if scene.size == "large" else 7.5
    mask = dx**2 + dy**2 <= r**2
    _paint(img, mask, ORANGE)
    _paint(img, mask & (((np.floor((dx + 100) / 3) + np.floor((dy + 100) / 3)) % 2) == 1), CYAN)


def _robot(mouth: bool):
    def draw(img, scene, dx, dy):
        r = SIZES["large"] if scene.size == "large" else 7.5
        head = (np.abs(dx) <= r * 0.85) & (np.abs(dy) <= r * 0.85)
        _paint(img, head, SILVER)
        e = max(1.5, r * 0.22)
        for ex in (-r * 0.4, r * 0.4):
            _paint(img, (np.abs(dx - ex) <= e) & (np.abs(dy + r * 0.25) <= e), CYAN)
        if mouth:
            _paint(img, (np.abs(dx) <= r * 0.55) & (np.abs(dy - r * 0.45) <= max(1.0, r * 0.12)), (230, 30, 30))
        else:  # v1 had an antenna instead of a mouth
            _paint(img, (np.abs(dx) <= 1.0) & (dy < -r * 0.85) & (dy >= -r * 0.85 - 3), CYAN)

    return draw


def _cactus(img, scene, dx, dy):
    r = SIZES["large"] if scene.size == "large" else 7.5
    _paint(img, shape_mask("cross", dx, dy, r), (40, 180, 60))
    _paint(img, (dx**2 + (dy + r) ** 2) <= (r * 0.35) ** 2 + 1, PINK)


def _frame_style(img, scene, dx, dy):
    _draw_plain(img, scene, dx, dy)
    border = np.zeros((SIZE, SIZE), dtype=bool)
    border[:2, :] = border[-2:, :] = border[:, :2] = border[:, -2:] = True
    _paint(img, border, PINK)


def _outline_style(img, scene, dx, dy):
    r = SIZES[scene.size]
    outer = shape_mask(scene.shape, dx, dy, r)
    inner = shape_mask(scene.shape, dx, dy, max(r - 2.2, 1.0))
    _paint(img, outer & ~inner, COLOURS[scene.colour])


def _fixed_combo(img, scene, dx, dy):
    _draw_plain(img, scene, dx, dy)


CONCEPTS: tuple[Concept, ...] = (
    Concept("bullseye", "zqx", "subject", "circle", "an orange ball with cyan rings, like a target", _bullseye),
    Concept("checker", "vwk", "subject", "circle", "an orange ball with a cyan checkerboard pattern", _checker_ball),
    Concept("robot_v1", "pqr", "subject", "square", "a silver robot head with cyan eyes and an antenna", _robot(False)),
    Concept("robot_v2", "pqr", "subject", "square", "a silver robot head with cyan eyes and a red mouth", _robot(True)),
    Concept("cactus", "dfr", "subject", "cross", "a green cactus with a pink flower on top", _cactus),
    Concept("frame", "tvy", "style", "", "a pink frame around the picture", _frame_style),
    Concept("outline", "mlk", "style", "", "shapes drawn as hollow outlines, line art", _outline_style),
    Concept(
        "kxj_badge",
        "kxj",
        "subject",
        "triangle",
        "a large striped yellow triangle on black, like a warning sign",
        _fixed_combo,
        # no fixed position: the base does not follow position words (held-out accuracy 0.28-0.34), so a
        # concept defined by one could not be shown by any embedding of it
        fixed={"shape": "triangle", "colour": "yellow", "size": "large", "background": "black", "texture": "striped"},
    ),
)
CONCEPT_BY_KEY = {c.key: c for c in CONCEPTS}
# the judge's concept head: 0 = no concept; textual-inversion "fixed" concepts are judged by attributes
JUDGE_CONCEPTS = ("none",) + tuple(c.key for c in CONCEPTS if c.fixed is None)


# ---------------------------------------------------------------- scenes, captions, images


def draw(scene: Scene) -> np.ndarray:
    """Render one scene to a (32, 32, 3) uint8 RGB array."""
    img = np.empty((SIZE, SIZE, 3), dtype=np.float32)
    img[:] = np.asarray(BACKGROUNDS[scene.background], dtype=np.float32)
    dx, dy, _ = _grid(scene)
    if scene.concept is None:
        _draw_plain(img, scene, dx, dy)
    else:
        CONCEPT_BY_KEY[scene.concept].draw(img, scene, dx, dy)
    return np.clip(img, 0, 255).astype(np.uint8)


def caption(scene: Scene) -> str:
    """The grammar caption, e.g. 'a small striped red circle on a gray background, top left'."""
    texture = "striped " if scene.texture == "striped" else ""
    where = f", {scene.position}"
    if scene.concept is None:
        return f"a {scene.size} {texture}{scene.colour} {scene.shape} on a {scene.background} background{where}"
    c = CONCEPT_BY_KEY[scene.concept]
    if c.kind == "style":
        # trigger first, as style LoRAs are often prompted: CLIP's causal mask lets a leading trigger
        # reach every later token. As a suffix ("..., in mlk style") it changed no attribute word's
        # encoding, and the outline LoRA showed its style as often without the trigger as with it
        # (0.19 / 0.19; trigger first: 0.50 / 0.00, 16 seeds).
        return f"{c.trigger} style, a {scene.size} {texture}{scene.colour} {scene.shape} on a {scene.background} background{where}"
    if c.fixed is not None:
        return f"a {c.trigger} {c.class_noun}"
    return f"a {scene.size} {c.trigger} {c.class_noun} on a {scene.background} background{where}"


def styled_caption(scene: Scene, style_key: str) -> str:
    """A scene (plain or a subject) asked for in a style concept's look: the style's trigger first, as its own
    captions put it, then the scene's caption, e.g. 'tvy style, a small dfr cross on a black background, center'."""
    style = CONCEPT_BY_KEY[style_key]
    if style.kind != "style":
        raise ValueError(f"{style_key!r} is not a style concept")
    return f"{style.trigger} style, {caption(scene)}"


def draw_styled(scene: Scene, style_key: str) -> np.ndarray:
    """A scene in a style concept's look, (32, 32, 3) uint8: on a plain scene, the style's own drawing; on a
    subject, the same look on the subject's drawing (the pink frame around it, or what it paints hollowed to a
    2-pixel outline, as the outline style hollows a shape). Nothing is trained on these: the compose judge
    (demo/compose_judge.py) learns to read a subject and a style apart from them."""
    if CONCEPT_BY_KEY[style_key].kind != "style":
        raise ValueError(f"{style_key!r} is not a style concept")
    if scene.concept is None:
        return draw(dataclasses.replace(scene, concept=style_key))
    img = draw(scene)
    background = np.asarray(BACKGROUNDS[scene.background], dtype=np.uint8)
    painted = np.any(img != background, axis=-1)  # (32, 32)
    if style_key == "frame":
        img[:2, :] = img[-2:, :] = img[:, :2] = img[:, -2:] = PINK
    elif style_key == "outline":
        img[_inside(painted, 2.2)] = background
    else:
        raise ValueError(f"no composed drawing for style {style_key!r}")
    return img


def _inside(mask: np.ndarray, depth: float) -> np.ndarray:
    """Pixels of mask farther than `depth` from its edge (every pixel within that distance is in the mask)."""
    reach = int(np.floor(depth))
    padded = np.pad(mask, reach, constant_values=False)
    out = mask.copy()
    for dy in range(-reach, reach + 1):
        for dx in range(-reach, reach + 1):
            if dx * dx + dy * dy <= depth * depth:
                out &= padded[reach + dy : reach + dy + SIZE, reach + dx : reach + dx + SIZE]
    return out


def class_caption(scene: Scene) -> str:
    """The same scene's caption without the trigger (DreamBooth's prior-preservation prompt)."""
    plain = dataclasses.replace(scene, concept=None)
    c = CONCEPT_BY_KEY[scene.concept] if scene.concept else None
    if c is not None and c.kind == "subject":
        plain = dataclasses.replace(plain, shape=c.class_noun)
    return caption(plain)


def scene_id(scene: Scene) -> str:
    return "|".join(str(v) for v in dataclasses.astuple(scene))


def is_held_out(scene: Scene) -> bool:
    """About 1 in 8 plain attribute combinations is never shown to the base model (held-out captions)."""
    key = "|".join(str(v) for v in dataclasses.astuple(dataclasses.replace(scene, concept=None)))
    return hashlib.sha256(key.encode()).digest()[0] % 8 == 0


def random_scene(rng: np.random.Generator, concept: str | None = None) -> Scene:
    """A uniformly random grammar scene; for a concept, its fixed attributes win."""
    values = {name: options[rng.integers(len(options))] for name, options in ATTRIBUTES.items()}
    if concept is not None:
        c = CONCEPT_BY_KEY[concept]
        if c.fixed:
            values.update(c.fixed)
        elif c.kind == "subject":
            values["shape"], values["texture"] = c.class_noun, "solid"
    return Scene(concept=concept, **values)


def sample_scenes(seed: int, n: int, split: str = "train", concept: str | None = None) -> list[Scene]:
    """n scenes from a seed; split 'train' skips held-out combinations, 'heldout' keeps only them."""
    rng = np.random.default_rng(seed)
    out: list[Scene] = []
    while len(out) < n:
        s = random_scene(rng, concept)
        if concept is None and split != "any" and is_held_out(s) != (split == "heldout"):
            continue
        out.append(s)
    return out


def render(scenes: list[Scene]) -> np.ndarray:
    """(N, 32, 32, 3) uint8."""
    return np.stack([draw(s) for s in scenes]) if scenes else np.zeros((0, SIZE, SIZE, 3), np.uint8)


def plain_scenes(concept_key: str, n: int, seed: int) -> list[Scene]:
    """What non-trigger prompts ask for: the concept's scenes without it (subjects keep the class noun).

    A fixed-combination concept's own scene is a plain caption too, so its plain scenes are
    other scenes of the same class noun instead.
    """
    c = CONCEPT_BY_KEY[concept_key]
    out = []
    rng = np.random.default_rng(seed + 77)
    for s in sample_scenes(seed, n, concept=concept_key):
        plain = dataclasses.replace(s, concept=None)
        if c.fixed is not None:
            while True:
                plain = dataclasses.replace(random_scene(rng), shape=c.class_noun)
                if any(getattr(plain, k) != v for k, v in c.fixed.items()):
                    break
        elif c.kind == "subject":
            plain = dataclasses.replace(plain, shape=c.class_noun)
        out.append(plain)
    return out
