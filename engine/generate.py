"""One text-to-image generation on a ready pipeline: scheduler by name, seeded, with progress,
previews, a cancel flag checked every step, and the PNG written with its parameters.

The engine knows nothing of Qt: progress is a plain `on_step(step, total, preview)` callable and
cancel anything with `is_set()` (a threading.Event); desktop/ turns them into signals.
"""
from __future__ import annotations

import logging
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from engine.schedulers import DEFAULT_SCHEDULER, SCHEDULERS  # noqa: F401  (re-exported: the app names them here)

log = logging.getLogger(__name__)

# latent -> RGB approximations for cheap step previews (the per-family factors A1111/ComfyUI use)
LATENT_RGB = {
    "sd": [[0.3512, 0.2297, 0.3227], [0.3250, 0.4974, 0.2350], [-0.2829, 0.1762, 0.2721], [-0.2120, -0.2616, -0.7177]],
    "sdxl": [[0.3920, 0.4054, 0.4549], [-0.2634, -0.0196, 0.0653], [0.0568, 0.1687, -0.0755], [-0.3112, -0.2359, -0.2076]],
}


@dataclass
class GenerationRequest:
    """Everything one image depends on; `seed=None` draws one (and the result records it)."""

    prompt: str
    negative_prompt: str = ""
    seed: int | None = None
    steps: int = 20
    guidance: float = 7.0
    width: int = 512
    height: int = 512
    scheduler: str = DEFAULT_SCHEDULER
    trigger: str | None = None  # the inserted trigger word: TAQ keeps its token positions in high precision
    quant_spec: str = "none"  # recorded in the PNG; the pool applies it to the pipeline
    checkpoint: str | None = None  # path of the checkpoint used (recorded in the PNG)
    checkpoint_hash: str | None = None  # its sha256 when known
    base_model: str | None = None
    base_checkpoint: str | None = None  # the base a LoRA/embedding ran on
    base_hash: str | None = None  # its sha256 when it is a single file
    loras: list[str] = field(default_factory=list)  # A1111 prompt tags of the LoRAs applied, "<lora:name:1>"
    lora_hashes: dict[str, str] = field(default_factory=dict)  # LoRA name -> short hash, A1111's `Lora hashes`
    ti_hashes: dict[str, str] = field(default_factory=dict)  # embedding name -> short hash, A1111's `TI hashes`
    extra_triggers: list[str] = field(default_factory=list)  # more personalizations' triggers: TAQ keeps them all


@dataclass
class GenerationResult:
    image: object  # PIL.Image, None when cancelled
    path: Path | None
    params: dict = field(default_factory=dict)
    cancelled: bool = False
    seconds: float = 0.0
    steps_done: int = 0
    step_seconds: float | None = None  # median time of one denoising step (between step callbacks)
    kernel: dict = field(default_factory=dict)  # {"dtype": UNet float dtype, "layers": {kernel: TAQ layer count}}


def validate_request(request: GenerationRequest) -> None:
    """Reject bad values before any work, naming the field (ranges in engine/limits.py)."""
    from engine.limits import check_generation

    if not isinstance(request.prompt, str):
        raise ValueError("prompt must be a string")
    check_generation(steps=request.steps, width=request.width, height=request.height, guidance=request.guidance,
                     seed=request.seed, quant_spec=request.quant_spec or "none", scheduler=request.scheduler)


class OutputPathError(ValueError):
    """The PNG cannot be written where asked (a folder, read-only, no room); the message says which and why."""


# room a PNG needs besides its pixels (text chunks, the temp copy while renaming)
_PNG_MARGIN = 1 << 20


def check_output_path(path, width: int = 512, height: int = 512) -> Path:
    """Make sure a PNG can be written at `path` BEFORE generating: not a folder, device, FIFO or socket (only
    a regular file is ever replaced), the folder exists (created if needed) and is writable (a probe file is
    created and removed), and it has room for the image.
    Returns the path; raises OutputPathError naming the path and the reason."""
    import errno
    import os
    import shutil

    from common.paths import describe_os_error, special_file_kind, tmp_name
    from common.text import escape_controls
    from engine.png_info import image_format

    path = Path(path)
    shown = escape_controls(str(path))
    try:
        image_format(path)  # .png, .jpg/.jpeg, .webp: the format written is the one the name says
    except ValueError as exc:
        raise OutputPathError(str(exc)) from None
    kind = special_file_kind(path)
    if kind == "folder":
        raise OutputPathError(f"output {shown} is a folder; give a file name ending in .png, .jpg or .webp")
    if kind is not None:  # a device, FIFO or socket: the rename would replace it with the image
        raise OutputPathError(f"output {shown} is a {kind}, not a regular file; give a new file name ending in .png, .jpg or .webp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputPathError(f"cannot create the output folder: {describe_os_error(exc, path.parent)}") from None
    if path.parent.exists() and not path.parent.is_dir():
        raise OutputPathError(f"cannot write {shown}: {escape_controls(str(path.parent))} is not a folder")
    probe = tmp_name(path)
    try:
        with open(probe, "wb") as handle:
            handle.write(b"\0" * 4096)  # one block: a full disk refuses it
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        raise OutputPathError(f"cannot write the image: {describe_os_error(exc, path)}") from None
    finally:
        try:
            os.unlink(probe)
        except OSError:
            pass
    need = int(width) * int(height) * 3 + _PNG_MARGIN  # an uncompressed worst case
    try:
        free = shutil.disk_usage(path.parent).free
    except OSError:
        free = None
    if free is not None and free < need:
        raise OutputPathError(f"cannot write the image: {describe_os_error(OSError(errno.ENOSPC, ''), path)} "
                              f"({free // 1024} KiB free, about {need // 1024} KiB needed)")
    return path


def make_scheduler(pipe, name: str):
    """A scheduler of the named kind built from the pipeline's own (first) scheduler config."""
    import diffusers

    cls_name, overrides, _ = SCHEDULERS[name]
    base = getattr(pipe, "_pq_base_scheduler_config", None)
    if base is None:  # remember the checkpoint's own config once: betas, prediction type, offsets
        base = dict(pipe.scheduler.config)
        pipe._pq_base_scheduler_config = base
    return getattr(diffusers, cls_name).from_config(base, **overrides)


def latent_preview(latents, family: str = "sd"):
    """A small RGB PIL image approximating the current latents (no VAE call)."""
    import torch
    from PIL import Image

    factors = torch.tensor(LATENT_RGB[family], dtype=torch.float32)  # (4, 3)
    lat = latents[0].detach().float().cpu()  # (4, h, w)
    rgb = torch.einsum("chw,cr->hwr", lat, factors)  # (h, w, 3)
    rgb = ((rgb + 1) / 2).clamp(0, 1).mul(255).byte().numpy()
    return Image.fromarray(rgb, "RGB")


def _set_trigger_positions(pipe, prompt: str, triggers: list[str | None]) -> list[int]:
    """Tell TAQ processors (when the UNet has them) which token positions hold the triggers its spec protects
    (a subject's and a style's alike); [] otherwise."""
    from engine.quantize import protected_positions, set_trigger_positions

    positions = protected_positions(pipe, prompt, triggers)
    updated = set_trigger_positions(pipe.unet, positions)  # also clears stale positions of a previous prompt
    return positions if updated else []


def request_params(request: GenerationRequest, seed: int) -> dict:
    """The parameters recorded with the image (PNG chunk, history)."""
    params = asdict(request)
    params["seed"] = seed
    params["sampler"] = SCHEDULERS[request.scheduler][2]
    return params


def generate(pipe, request: GenerationRequest, on_step=None, cancel=None, out_path=None, preview_every: int = 1,
             full_paths: bool = False) -> GenerationResult:
    """Run one generation; on_step(step, total, preview_or_None) after every step; cancel stops it within a step."""
    import torch

    # 1. check inputs (and that the PNG can be written) and settle the seed
    validate_request(request)
    if out_path is not None:
        check_output_path(out_path, request.width, request.height)
    seed = int(request.seed) if request.seed is not None else random.randrange(2**32)
    params = request_params(request, seed)
    if cancel is not None and cancel.is_set():
        return GenerationResult(image=None, path=None, params=params, cancelled=True)

    # 2. scheduler, TAQ trigger positions, generator (CPU generator: same noise on every device)
    pipe.scheduler = make_scheduler(pipe, request.scheduler)
    params["prediction_type"] = pipe.scheduler.config.get("prediction_type")  # SD 2.x: epsilon or v
    params["trigger_positions"] = _set_trigger_positions(pipe, request.prompt, [request.trigger, *request.extra_triggers])
    generator = torch.Generator(device="cpu").manual_seed(seed)
    family = "sdxl" if type(pipe).__name__.startswith("StableDiffusionXL") else "sd"
    state = {"steps": 0, "cancelled": False, "ticks": []}

    # 3. per-step callback: progress, preview, cancel
    def on_step_end(pipeline, step, timestep, callback_kwargs):
        state["ticks"].append(time.perf_counter())
        state["steps"] = step + 1
        total = getattr(pipeline, "num_timesteps", None) or request.steps
        if on_step is not None:
            preview = None
            if preview_every and (step + 1) % preview_every == 0 and "latents" in callback_kwargs:
                preview = latent_preview(callback_kwargs["latents"], family)
            on_step(step + 1, total, preview)
        if cancel is not None and cancel.is_set() and step + 1 < total:
            state["cancelled"] = True
            pipeline._interrupt = True  # diffusers skips the remaining steps
        return callback_kwargs

    # 4. run
    started = time.perf_counter()
    output = pipe(
        prompt=request.prompt,
        negative_prompt=request.negative_prompt or None,
        num_inference_steps=request.steps,
        guidance_scale=request.guidance,
        width=request.width,
        height=request.height,
        generator=generator,
        callback_on_step_end=on_step_end,
        output_type="pil",
    )
    seconds = time.perf_counter() - started
    params["seconds"] = round(seconds, 3)
    timing = {"step_seconds": _median_step(state["ticks"]), "kernel": _kernels_of(pipe)}
    if state["cancelled"]:
        log.info("generation cancelled after %d of %d steps", state["steps"], request.steps)
        return GenerationResult(image=None, path=None, params=params, cancelled=True, seconds=seconds,
                                steps_done=state["steps"], **timing)

    # 5. save with the parameters embedded
    image = output.images[0]
    path = None
    if out_path is not None:
        from engine.png_info import save_image

        path = save_image(image, out_path, params, full_paths=full_paths)
    return GenerationResult(image=image, path=path, params=params, seconds=seconds, steps_done=state["steps"], **timing)


def _median_step(ticks: list[float]) -> float | None:
    """Median seconds between step callbacks (the first step also holds the prompt encoding: not counted)."""
    gaps = sorted(b - a for a, b in zip(ticks, ticks[1:]))
    return round(gaps[len(gaps) // 2], 4) if gaps else None


def _kernels_of(pipe) -> dict:
    from engine.kernels import kernels_in

    unet = getattr(pipe, "unet", None)
    if unet is None:
        return {}
    return {"dtype": str(getattr(unet, "dtype", "")).replace("torch.", ""), "layers": kernels_in(unet)}
