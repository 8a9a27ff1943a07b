"""The schedulers a generation can name: diffusers class, config overrides and the A1111 sampler name.

A plain table (no torch): engine/limits.py checks names against it, engine/generate.py builds from it.
"""
from __future__ import annotations

# name -> (diffusers scheduler class, config overrides, A1111 sampler name)
SCHEDULERS = {
    "ddim": ("DDIMScheduler", {}, "DDIM"),
    "pndm": ("PNDMScheduler", {"skip_prk_steps": True}, "PLMS"),
    "euler": ("EulerDiscreteScheduler", {}, "Euler"),
    "euler_a": ("EulerAncestralDiscreteScheduler", {}, "Euler a"),
    "heun": ("HeunDiscreteScheduler", {}, "Heun"),
    "dpm++": ("DPMSolverMultistepScheduler", {"algorithm_type": "dpmsolver++", "use_karras_sigmas": False}, "DPM++ 2M"),
    "dpm++_karras": ("DPMSolverMultistepScheduler", {"algorithm_type": "dpmsolver++", "use_karras_sigmas": True}, "DPM++ 2M Karras"),
    "dpm++_sde": ("DPMSolverMultistepScheduler", {"algorithm_type": "sde-dpmsolver++"}, "DPM++ 2M SDE"),
    "unipc": ("UniPCMultistepScheduler", {}, "UniPC"),
}
DEFAULT_SCHEDULER = "dpm++"
