"""Generate: a chosen card and the user's settings -> a pipeline from the pool -> a PNG with full parameters.

The one path the window, the CLI and `personalq demo` share, so the base model, the config folder
a single file loads with, the prediction type, the size the model was made for, the scheduler,
the hash and the output name are decided once.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from app.history import GenerationParams
from app.jobs import Notice, Stage, Step
from catalog.card import ADDON_KINDS, Card, display_name
from common import paths
from common.families import BASE_MODEL_LABELS
from common.settings import Settings
from engine.schedulers import DEFAULT_SCHEDULER  # the scheduler registry's default: the window, CLI and restore use it

BASE_KINDS = ("checkpoint", "diffusers_model")
FAMILY_LABEL = {k: v for k, v in BASE_MODEL_LABELS.items() if k != "unknown"}  # the families a base can be set for


class NoBaseModel(RuntimeError):
    """A LoRA/embedding or the 'none fits' path needs a base model and none is known for the family."""


def family_of(base_model: str) -> str:
    return base_model if base_model in FAMILY_LABEL else "sd15"


@dataclass
class Selection:
    """What the next generation runs on: a catalog card, or the base model of a family."""

    path: str
    kind: str
    base_model: str
    name: str
    trigger: str | None = None
    preview: str | None = None
    is_base: bool = False
    prediction_type: str | None = None
    sha256: str | None = None
    weight: float = 1.0  # a LoRA's strength
    extras: list = field(default_factory=list)  # more LoRAs/embeddings on the same base (a style on a subject)

    @classmethod
    def from_card(cls, card: Card, is_base: bool = False) -> "Selection":
        trigger = None if is_base else card.canonical_trigger or (card.triggers[0] if card.triggers else None)
        kind = card.kind if card.kind != "unknown" else "checkpoint"
        return cls(card.path, kind, card.base_model, display_name(card), trigger, card.preview,
                   is_base=is_base, prediction_type=card.prediction_type, sha256=card.sha256)


@dataclass
class GenerationJob:
    selection: Selection
    prompt: str
    params: GenerationParams
    request: str = ""
    negative_prompt: str = ""
    scheduler: str = DEFAULT_SCHEDULER
    out_path: str | None = None  # None: a new name in the outputs folder


@dataclass
class GenerationOutcome:
    image_path: str
    seconds: float
    job: GenerationJob
    params: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)


def card_for_path(path: str, store=None) -> Card:
    """The catalog's card for a file when indexed, else one read from the file's header now."""
    from catalog.metadata import build_card
    from catalog.probe import probe_path

    resolved = str(Path(path).expanduser().resolve())
    card = store.get(resolved) if store is not None else None
    return card or build_card(probe_path(resolved))


def base_selection(settings: Settings, store, family: str, for_path: str | None = None) -> Selection | None:
    """The base model of a family: the demo's for a demo file, the one in Settings, else a plain base
    checkpoint of that family in the library."""
    from app.demo_world import demo_base_for

    path = (demo_base_for(for_path) if for_path else None) or (settings.base_models or {}).get(family)
    if path:
        card = store.get(str(Path(path).expanduser().resolve())) if store is not None else None
        if card is None:
            card = Card(path=path, kind="diffusers_model" if Path(path).is_dir() else "checkpoint", base_model=family)
        sel = Selection.from_card(card, is_base=True)
        sel.name, sel.base_model = f"{FAMILY_LABEL.get(family, family)} base", family
        return sel
    if store is None:
        return None
    for card in store.cards(include_errors=False):
        if card.kind in BASE_KINDS and card.base_model == family and not card.triggers:
            return Selection.from_card(card, is_base=True)
    return None


def base_path_for(selection: Selection, settings: Settings, store, base: str | None = None) -> str | None:
    """The base a LoRA/embedding goes on (None for a checkpoint); NoBaseModel says where to set one."""
    if selection.kind not in ADDON_KINDS:
        return None
    if base:
        return str(base)
    found = base_selection(settings, store, family_of(selection.base_model), selection.path)
    if found is None:
        raise NoBaseModel(f"{selection.name} is a {selection.kind} for {FAMILY_LABEL.get(selection.base_model, selection.base_model)}; "
                          "set its base model in Settings → Library → Base models (or pass --base)")
    return found.path


def config_dir_for(selection: Selection, settings: Settings, store, base: str | None = None) -> str | None:
    """A single file takes its component configs from its family's base when that is a diffusers folder:
    the demo world's DreamBooth files are not SD1.5-sized, so the shipped SD1.5 config cannot load them."""
    if selection.kind != "checkpoint" or selection.is_base:
        return None
    if base is None:
        found = base_selection(settings, store, family_of(selection.base_model), selection.path)
        base = found.path if found else None
    if base is None or Path(base).resolve() == Path(selection.path).resolve() or not Path(base).is_dir():
        return None
    return str(base)


def model_ref(selection: Selection, settings: Settings, store, quant_spec: str, base: str | None = None):
    """The engine's ModelRef for a selection: base, config folder, prediction type and trigger settled here."""
    from engine.pool import ModelRef

    addons = tuple((e.kind, e.path, e.weight if e.kind == "lora" else e.trigger or "") for e in selection.extras)
    return ModelRef(path=selection.path, kind=selection.kind, base_model=selection.base_model,
                    base_path=base_path_for(selection, settings, store, base),
                    trigger=selection.trigger if selection.kind == "textual_inversion" else None,
                    quant_spec=quant_spec, config_dir=config_dir_for(selection, settings, store, base),
                    prediction_type=selection.prediction_type, weight=selection.weight, addons=addons)


def native_settings(selection: Selection, settings: Settings, store, base: str | None = None) -> dict:
    """Size (and steps/guidance when recorded) the selection's model was made for: {} when unknown."""
    from engine.loading import native_settings as read_native

    try:
        ref_base = base_path_for(selection, settings, store, base)
    except NoBaseModel:
        ref_base = None
    model = ref_base or selection.path
    return read_native(model, selection.base_model, config_dir_for(selection, settings, store, base),
                       selection.prediction_type)


def default_params(selection: Selection, settings: Settings, store, seed: int | None = None,
                   base: str | None = None) -> GenerationParams:
    """The settings a new image of this selection starts from: the model's own size, steps and guidance
    where it records them, else the user's defaults; the seed fresh unless given."""
    import random

    native = native_settings(selection, settings, store, base)
    return GenerationParams(
        steps=int(native.get("steps", settings.steps)), seed=random.randrange(2**32) if seed is None else int(seed),
        width=int(native.get("width", settings.width)), height=int(native.get("height", settings.height)),
        guidance=float(native.get("guidance", settings.guidance)), quant_spec=settings.quant_spec or "none")


_HASHES: dict[tuple, str] = {}  # (how, path, size, mtime_ns) -> hex digest: a base is hashed once per process


def _cached_hash(path: str, how: str = "sha256") -> str | None:
    """A file's sha256 (or A1111's addnet hash), memoized while the file is unchanged; None when unreadable."""
    from common.hashing import addnet_sha256, sha256_file

    try:
        st = Path(path).stat()
    except OSError:
        return None
    key = (how, str(path), st.st_size, st.st_mtime_ns)
    if key not in _HASHES:
        try:
            _HASHES[key] = (addnet_sha256 if how == "addnet" else sha256_file)(path)
        except OSError:
            return None
    return _HASHES[key]


def model_hash_file(path: str) -> str | None:
    """The file whose hash names a model: a single file itself; a diffusers folder's UNet weights (what sets
    it apart from another folder of the same family), so an image made on a folder base has a Model hash too."""
    p = Path(path)
    if p.is_file():
        return str(p)
    for name in ("diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.fp16.safetensors",
                 "diffusion_pytorch_model.bin"):
        if (p / "unet" / name).is_file():
            return str(p / "unet" / name)
    return None


def file_hash(selection: Selection) -> str | None:
    """sha256 of the selection's model for the PNG (A1111 'Model hash'; a folder: its UNet weights)."""
    if selection.sha256 and Path(selection.path).is_file():
        return selection.sha256
    found = model_hash_file(selection.path)
    return _cached_hash(found) if found else None


def resource_hashes(selection: Selection) -> tuple[dict[str, str], dict[str, str]]:
    """A1111's `Lora hashes` (addnet hash, 12 digits) and `TI hashes` (sha256, 12 digits) of every LoRA and
    embedding applied, by the name A1111 knows them by (the file stem): Civitai links resources by them."""
    loras, embeddings = {}, {}
    for s in [selection, *selection.extras]:
        if s.kind == "lora":
            digest = _cached_hash(s.path, "addnet")
            if digest:
                loras[Path(s.path).stem] = digest[:12]
        elif s.kind == "textual_inversion":
            digest = s.sha256 or _cached_hash(s.path)
            if digest:
                embeddings[Path(s.path).stem] = digest[:12]
    return loras, embeddings


def lora_tag(selection: Selection) -> str:
    """A1111's prompt syntax for a LoRA, so the PNG's prompt reproduces it there."""
    return f"<lora:{Path(selection.path).stem}:{selection.weight:g}>"


def generation_request(job: GenerationJob, settings: Settings, store, base: str | None = None):
    """The engine's GenerationRequest for a job (values checked by the engine before any work)."""
    from engine.generate import GenerationRequest

    sel, p = job.selection, job.params
    base_path = base_path_for(sel, settings, store, base)
    lora_hashes, ti_hashes = resource_hashes(sel)
    return GenerationRequest(
        prompt=job.prompt, negative_prompt=job.negative_prompt, seed=p.seed, steps=p.steps, guidance=p.guidance,
        width=p.width, height=p.height, scheduler=job.scheduler, trigger=sel.trigger, quant_spec=p.quant_spec,
        checkpoint=sel.path, checkpoint_hash=file_hash(sel),
        base_model=sel.base_model, base_checkpoint=base_path,
        loras=[lora_tag(s) for s in [sel, *sel.extras] if s.kind == "lora"],
        lora_hashes=lora_hashes, ti_hashes=ti_hashes,
        extra_triggers=[e.trigger for e in sel.extras if e.trigger],
        base_hash=_base_hash(base_path, store) if base_path else None,
    )


def _base_hash(path: str, store=None) -> str | None:
    """The base's sha256: the catalog's when it indexed the file, else computed once (a folder: its UNet)."""
    card = store.get(str(Path(path).resolve())) if store is not None and Path(path).is_file() else None
    if card is not None and card.sha256:
        return card.sha256
    found = model_hash_file(path)
    return _cached_hash(found) if found else None


def output_path(job: GenerationJob) -> Path:
    """The PNG to write: the job's own, else a new name under outputs/<date>/ that never overwrites."""
    if job.out_path:
        return Path(job.out_path)
    out_dir = paths.outputs_dir() / time.strftime("%Y-%m-%d")
    out_dir.mkdir(parents=True, exist_ok=True)
    return unused_path(out_dir / f"{time.strftime('%H%M%S')}-{job.params.seed}-{_slug(job.selection.name)}.png")


def size_warning(job: GenerationJob, settings: Settings, store, base: str | None = None) -> str | None:
    """One line when the asked size differs from what the model was made for (a tiny model at 512² is noise)."""
    native = native_settings(job.selection, settings, store, base)
    w, h = native.get("width"), native.get("height")
    if w and h and (job.params.width, job.params.height) != (w, h):
        return (f"{job.selection.name} was made for {w}×{h}; {job.params.width}×{job.params.height} "
                "will be slower and may not show the concept")
    return None


def run_generation(ctx, job: GenerationJob, settings: Settings, store, pool, base: str | None = None,
                   preview=None) -> GenerationOutcome:
    """Pipeline from the pool (quantized as the job says), per-step progress, the PNG with its parameters.

    ctx: an app.jobs.JobContext; it is told Stage, Notice and Step events.
    `preview` turns the engine's preview image into what the caller shows (the window: a QImage).
    """
    from engine.generate import check_output_path, generate, validate_request

    sel = job.selection
    ctx.check()
    start = time.perf_counter()
    ref = model_ref(sel, settings, store, job.params.quant_spec, base)
    request = generation_request(job, settings, store, base)
    validate_request(request)  # before loading anything
    out_path = check_output_path(output_path(job), request.width, request.height)  # writable, with room
    quant = f" ({job.params.quant_spec})" if job.params.quant_spec != "none" else ""
    ctx.progress(Stage(f"Loading {sel.name}{quant}…"))

    def on_step(step, total, image=None):
        ctx.last_step = int(step)
        ctx.progress(Step(int(step), int(total), preview(image) if preview else image))

    with pool.session(ref) as pipe:
        ctx.check()
        warning = pool.take_warning(ref)
        if warning:
            ctx.progress(Notice(warning))
        ctx.progress(Stage("Generating…"))
        result = generate(pipe, request, on_step=on_step, cancel=ctx.cancel_event, out_path=out_path,
                          full_paths=settings.png_full_paths)
    if result.cancelled:
        ctx.check()
    extra = {"steps_done": result.steps_done, "generate_seconds": result.seconds,
             "step_seconds": result.step_seconds, "kernel": result.kernel}
    if warning:
        extra["warning"] = warning
    return GenerationOutcome(str(result.path), time.perf_counter() - start, job, params=result.params, extra=extra)


def unused_path(path: Path) -> Path:
    """`path`, or `stem-2.png`, `stem-3.png`… if it exists: two images in one second never overwrite each other."""
    candidate, n = path, 1
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.stem}-{n}{path.suffix}")
    return candidate


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()[:40] or "image"
