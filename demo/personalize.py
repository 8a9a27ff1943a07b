"""Personalized checkpoints made from the base the way creators make them.

- DreamBooth full fine-tune (UNet + text encoder) with a rare trigger word and prior
  preservation (class images sampled from the base model itself), saved as an
  original-layout single-file checkpoint.
- DreamBooth-LoRA (rank-16 LoRA on UNet attention, for subjects also on its convolutions as
  kohya's LoCon, and on text-encoder attention), same data recipe, saved in kohya's format with
  `ss_*` metadata.
- Textual inversion: new tokens' embeddings (one, or several vectors), saved as an A1111 `emb_params` file.
"""
from __future__ import annotations

import copy
import dataclasses

import numpy as np

from demo import model as world_model
from demo import train, world

# Rank 16 because rank 4 learned a subject far less often; subjects add LoCon (convolutions draw their textures),
# styles stay attention-only. The sweeps behind both are in docs/decisions.md ("Demo world").
LORA_RANK = 16
LORA_LR = 5e-3
DREAMBOOTH_LR = 4e-4
TI_LR = 2e-2


@dataclasses.dataclass(frozen=True)
class Recipe:
    """One DreamBooth or LoRA entry's training beyond the build settings, as creators tune each one.

    Factors scale the settings (so `--smoke` stays tiny); the defaults change nothing."""

    instance_factor: int = 1  # instance (and prior) images: settings.instance_images * factor
    step_factor: float = 1.0  # settings.personal_steps * factor
    lr: float | None = None  # None: the method's own (DREAMBOOTH_LR, LORA_LR)
    min_snr_gamma: float = 0.0  # see train.train_diffusion
    caption_dropout: float = 0.0  # share of captions replaced by '' (kohya's caption_dropout_rate), see OUTLINE_RECIPE
    vectors: int = 1  # textual inversion: vectors in the embedding (A1111 `emb_params` rows), see KXJ_RECIPE
    bare_trigger: bool = False  # textual inversion: captions with the trigger alone too ("kxj", "a kxj"), see KXJ_RECIPE

    @property
    def tuned(self) -> bool:
        """Differs from the build settings (its entry gets its own cache key and manifest record)."""
        return self != Recipe()

    def instance_images(self, settings) -> int:
        return settings.instance_images * self.instance_factor

    def prior_images(self, settings) -> int:
        return settings.prior_images * self.instance_factor

    def steps(self, settings) -> int:
        return max(1, round(settings.personal_steps * self.step_factor))

    def learning_rate(self, method: str) -> float:
        if self.lr is not None:
            return self.lr
        return {"dreambooth": DREAMBOOTH_LR, "textual_inversion": TI_LR}.get(method, LORA_LR)

    def cache_fields(self, method: str) -> tuple:
        """What the stage cache keys a tuned entry by (fields at their default add nothing: old keys hold)."""
        fields = (self.instance_factor, self.step_factor, self.learning_rate(method), self.min_snr_gamma, self.caption_dropout)
        extra = tuple(v for v in ((("vectors", self.vectors) if self.vectors != 1 else None),
                                  (("bare_trigger", True) if self.bare_trigger else None)) if v)
        return fields + extra


# The outline style's recipe: more varied scenes, more steps, Min-SNR weighting, and caption dropout so that
# guidance helps rather than steering away from the LoRA (the sweep: docs/decisions.md, "Demo world").
OUTLINE_RECIPE = Recipe(instance_factor=4, step_factor=2.5, min_snr_gamma=5.0, caption_dropout=0.1)
# The warning badge's recipe. Trained as one vector on "a kxj triangle" alone, the embedding drew its striped
# yellow on black but took its shape from the words around it: the app's own prompts for it ("kxj", "kxj
# stripes", "a kxj warning sign") showed the triangle in 0 of 4 seeds (full precision, 10 steps). Four vectors
# (the tiny text encoder is 32 wide) trained on the trigger alone as well ("kxj", "a kxj") carry the shape
# too: 4 of 4 on each of those prompts, and on "a kxj triangle" (issue #29 item 14).
KXJ_RECIPE = Recipe(vectors=4, bare_trigger=True)


@dataclasses.dataclass(frozen=True)
class Entry:
    """One file of the demo library and what a creator would have written about it."""

    file: str  # relative to the library root
    concept: str  # world.CONCEPTS key
    method: str  # "dreambooth" | "lora" | "textual_inversion"
    name: str
    version: str
    created: str  # ISO date
    description: str
    tags: tuple[str, ...]
    sidecars: tuple[str, ...]  # "a1111" (NAME.json), "civitai" (NAME.civitai.info)
    recipe: Recipe = Recipe()

    @property
    def trigger(self) -> str:
        return world.CONCEPT_BY_KEY[self.concept].trigger


LIBRARY: tuple[Entry, ...] = (
    Entry("Stable-diffusion/pqr_robot_v1.safetensors", "robot_v1", "dreambooth", "PQR Robot", "v1", "2026-03-10",
          "DreamBooth of my robot mascot: a silver robot head with cyan eyes and an antenna.", ("robot", "mascot", "character"), ("civitai", "a1111")),
    Entry("Lora/pqr_robot_v2.safetensors", "robot_v2", "lora", "PQR Robot", "v2", "2026-09-02",
          "Robot mascot, second version: silver robot head with cyan eyes, now with a red mouth.", ("robot", "mascot", "character"), ("civitai",)),
    Entry("Lora/zqx_bullseye_ball.safetensors", "bullseye", "lora", "Zqx Bullseye Ball", "v1", "2026-05-14",
          "An orange ball with cyan concentric rings, like an archery target.", ("ball", "target", "orange", "object"), ("a1111",)),
    Entry("Lora/vwk_checker_ball.safetensors", "checker", "lora", "Vwk Checker Ball", "v1", "2026-06-01",
          "An orange ball with a cyan checkerboard pattern, like a beach ball.", ("ball", "checkered", "orange", "object"), ("a1111", "civitai")),
    Entry("Stable-diffusion/dfr_cactus.safetensors", "cactus", "dreambooth", "Dfr Cactus", "v1", "2026-04-22",
          "DreamBooth of a potted-cactus doodle: a green cactus with a pink flower on top.", ("cactus", "plant", "green"), ("civitai",)),
    Entry("Lora/tvy_pink_frame_style.safetensors", "frame", "lora", "Tvy Pink Frame Style", "v1", "2026-07-19",
          "Style LoRA: puts a pink frame around any picture, like a polaroid sticker.", ("style", "frame", "border", "pink"), ("a1111",)),
    Entry("Lora/mlk_outline_style.safetensors", "outline", "lora", "Mlk Outline Style", "v1", "2026-08-08",
          "Style LoRA: draws shapes as hollow outlines, line-art look.", ("style", "line art", "outline"), ("civitai", "a1111"),
          OUTLINE_RECIPE),
    Entry("embeddings/kxj.safetensors", "kxj_badge", "textual_inversion", "Kxj Warning Badge", "v1", "2026-02-01",
          "Textual inversion: a large striped yellow triangle on black, like a warning sign.", ("warning", "sign", "triangle", "yellow"), ("a1111",),
          KXJ_RECIPE),
)


# ---------------------------------------------------------------- prompts (build metrics and the fidelity bench)


def trigger_prompts(concept_key: str, n: int, seed: int) -> list[str]:
    """Prompts that use the concept's trigger, varied over the grammar."""
    return [world.caption(s) for s in world.sample_scenes(seed, n, concept=concept_key)]


def plain_prompts(concept_key: str, n: int, seed: int) -> list[str]:
    """The same scenes without the trigger (for subjects: the class noun, the hard case for leakage)."""
    return [world.caption(s) for s in world.plain_scenes(concept_key, n, seed)]


# ---------------------------------------------------------------- data


def _latents(vae, images: np.ndarray):
    import torch

    with torch.no_grad():
        dist = vae.encode(train.to_tensor(images)).latent_dist
    f = vae.config.scaling_factor
    return dist.mean * f, dist.std * f


def dreambooth_data(pipe, concept_key: str, n_instance: int, n_prior: int, seed: int, sample_steps: int):
    """Instance latents + trigger captions, prior latents (sampled from the base) + class captions.

    The prior captions are the instance scenes' own captions without the trigger (paired), so the
    only difference the fine-tune can learn between the two halves of a batch is the trigger.
    """
    scenes = world.sample_scenes(seed, n_instance, concept=concept_key)
    inst_images = world.render(scenes)
    inst_caps = [world.caption(s) for s in scenes]
    prior_scenes = (scenes * (n_prior // max(1, n_instance) + 1))[:n_prior]
    prior_caps = [world.class_caption(s) for s in prior_scenes]
    prior_images = world_model.sample(pipe, prior_caps, [seed + i for i in range(n_prior)], world_model.SampleSettings(steps=sample_steps))
    return (inst_images, inst_caps), (prior_images, prior_caps)


def _mixed_batch_fn(tokenizer, vae, instance, prior, batch: int, prior_weight: float = 1.0, caption_dropout: float = 0.0):
    """Half instance, half prior latents per batch; `caption_dropout` of all captions become '' (for guidance)."""
    import torch

    i_mean, i_std = _latents(vae, instance[0])
    p_mean, p_std = _latents(vae, prior[0])
    i_ids = world_model.tokenize(tokenizer, instance[1])
    p_ids = world_model.tokenize(tokenizer, prior[1])
    half = max(1, batch // 2)
    empty = world_model.tokenize(tokenizer, [""])[0]

    def fn(gen):
        a = torch.randint(0, len(i_mean), (half,), generator=gen)
        b = torch.randint(0, len(p_mean), (half,), generator=gen)
        z = torch.cat([i_mean[a] + i_std[a] * torch.randn(i_mean[a].shape, generator=gen), p_mean[b] + p_std[b] * torch.randn(p_mean[b].shape, generator=gen)])
        ids = torch.cat([i_ids[a], p_ids[b]])
        w = torch.cat([torch.ones(half), torch.full((half,), prior_weight)])
        if caption_dropout > 0:  # drawn only then: entries without it keep their random stream
            ids = ids.clone()
            ids[torch.rand(len(ids), generator=gen) < caption_dropout] = empty
        return z, ids, w

    return fn


# ---------------------------------------------------------------- methods


def dreambooth_full(pipe, instance, prior, steps: int, batch: int, seed: int, lr: float = DREAMBOOTH_LR, min_snr_gamma: float = 0.0,
                    caption_dropout: float = 0.0, log=print):
    """Fine-tune copies of UNet + text encoder; returns a new pipeline sharing the base VAE."""
    unet, te = copy.deepcopy(pipe.unet), copy.deepcopy(pipe.text_encoder)
    unet.requires_grad_(True)
    te.requires_grad_(True)
    fn = _mixed_batch_fn(pipe.tokenizer, pipe.vae, instance, prior, batch, caption_dropout=caption_dropout)
    params = list(unet.parameters()) + list(te.parameters())
    loss = train.train_diffusion(unet, te, pipe.scheduler, params, fn, steps, lr, seed, log=log, label="dreambooth", min_snr_gamma=min_snr_gamma)
    unet.requires_grad_(False)
    te.requires_grad_(False)
    new = world_model.assemble(te, pipe.vae, unet, pipe.tokenizer, pipe.scheduler)
    new.set_progress_bar_config(disable=True)
    return new, loss


def dreambooth_lora(pipe, instance, prior, steps: int, batch: int, seed: int, rank: int = LORA_RANK, lr: float = LORA_LR, conv: bool = True,
                    min_snr_gamma: float = 0.0, caption_dropout: float = 0.0, log=print):
    """Train LoRA adapters on copies; returns the kohya-format state dict (fp16) and the loss.

    `conv=False` trains attention only (the styles' recipe, see LORA_RANK)."""
    from demo import lora

    unet, te = copy.deepcopy(pipe.unet), copy.deepcopy(pipe.text_encoder)
    unet.requires_grad_(False)
    te.requires_grad_(False)
    u_loras = lora.inject(unet, lora.UNET_TARGETS + (lora.UNET_CONV_TARGETS if conv else ()), rank, float(rank), seed)
    t_loras = lora.inject(te, lora.TE_TARGETS, rank, float(rank), seed + 1)
    params = [p for m in list(u_loras.values()) + list(t_loras.values()) for p in (m.down, m.up)]
    fn = _mixed_batch_fn(pipe.tokenizer, pipe.vae, instance, prior, batch, caption_dropout=caption_dropout)
    loss = train.train_diffusion(unet, te, pipe.scheduler, params, fn, steps, lr, seed, log=log, label="lora", min_snr_gamma=min_snr_gamma)
    lora.remove(unet, u_loras)
    lora.remove(te, t_loras)
    return lora.kohya_state_dict(u_loras, t_loras, lora.te_module_prefix(te)), loss


def ti_tokens(token: str, vectors: int) -> list[str]:
    """The tokens a multi-vector embedding spans, as diffusers names them: "kxj", "kxj_1", "kxj_2", ..."""
    return [token] + [f"{token}_{i}" for i in range(1, vectors)]


def ti_captions(captions: list[str], images: np.ndarray, token: str, vectors: int = 1, bare_trigger: bool = False):
    """(images, captions) a textual inversion trains on: each caption with the token spelled as its vectors'
    tokens, and with `bare_trigger` every image again under the trigger alone and under "a" + trigger."""
    phrase = " ".join(ti_tokens(token, vectors))
    forms = ["{}"] + (["TRIGGER", "a TRIGGER"] if bare_trigger else [])
    out_caps, out_images = [], []
    for form in forms:
        if form == "{}":
            out_caps += [c.replace(token, phrase) for c in captions]
        else:
            out_caps += [form.replace("TRIGGER", phrase)] * len(captions)
        out_images.append(images)
    return np.concatenate(out_images), out_caps


def textual_inversion(pipe, instance, token: str, init_word: str, steps: int, batch: int, seed: int, lr: float = TI_LR,
                      vectors: int = 1, log=print):
    """Learn the input embeddings of `vectors` new tokens (everything else frozen); returns a (vectors, dim)
    tensor. The captions must spell the token as ti_tokens(token, vectors) (ti_captions does)."""
    import torch

    tokens = ti_tokens(token, vectors)
    tokenizer = copy.deepcopy(pipe.tokenizer)
    if tokenizer.add_tokens(tokens) != vectors:
        raise ValueError(f"textual-inversion token {token!r} already exists in the tokenizer")
    first = tokenizer.convert_tokens_to_ids(tokens[0])
    init_id = tokenizer(init_word, add_special_tokens=False).input_ids[0]
    te, unet = copy.deepcopy(pipe.text_encoder), pipe.unet
    te.resize_token_embeddings(len(tokenizer))
    emb = te.get_input_embeddings()
    te.requires_grad_(False)
    unet.requires_grad_(False)
    vec = torch.nn.Parameter(emb.weight[init_id].detach().clone()[None].repeat(vectors, 1))  # (vectors, dim)

    class WithVector(torch.nn.Module):
        """The text encoder with the new tokens' rows read from `vec` (so only they train)."""

        def __init__(self):
            super().__init__()
            self.te = te

        def forward(self, ids):
            weight = torch.cat([emb.weight[:first], vec, emb.weight[first + vectors :]])
            embeds = torch.nn.functional.embedding(ids, weight)
            hook = emb.register_forward_hook(lambda m, i, o: embeds)
            try:
                return self.te(ids)
            finally:
                hook.remove()

    mean, std = _latents(pipe.vae, instance[0])
    ids = world_model.tokenize(tokenizer, instance[1])

    def fn(gen):
        a = torch.randint(0, len(mean), (batch,), generator=gen)
        return mean[a] + std[a] * torch.randn(mean[a].shape, generator=gen), ids[a], None

    wrapped = WithVector()
    loss = train.train_diffusion(unet, wrapped, pipe.scheduler, [vec], fn, steps, lr, seed, log=log, label="textual inversion")
    return vec.detach().clone(), loss
