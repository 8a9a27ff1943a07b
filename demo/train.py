"""Training loops for the demo world: the VAE, then text encoder + UNet from scratch.

One diffusion loop (`train_diffusion`) serves the base model and every personalization: the
caller hands it the parameters to train and a batch function (DreamBooth mixes instance and
prior-preservation images in that function).
"""
from __future__ import annotations

import math
import time
from typing import Callable

import numpy as np

from demo import model as world_model

Log = Callable[[str], None]


def to_tensor(images: np.ndarray):
    """(N, 32, 32, 3) uint8 -> (N, 3, 32, 32) float in [-1, 1]."""
    import torch

    return torch.from_numpy(images).permute(0, 3, 1, 2).float() / 127.5 - 1.0


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Mean PSNR (dB) between two uint8 image batches."""
    mse = ((a.astype(np.float64) - b.astype(np.float64)) ** 2).reshape(len(a), -1).mean(axis=1)
    return float(np.mean(10 * np.log10(255.0**2 / np.maximum(mse, 1e-10))))


def optimizer_step(opt, sched, loss, clip=None) -> None:
    """One update of every training loop here: clear the gradients, backpropagate, clip the norm of
    `clip`'s gradients to 1 when given, step the optimizer and then its schedule."""
    import torch

    opt.zero_grad(set_to_none=True)
    loss.backward()
    if clip is not None:
        torch.nn.utils.clip_grad_norm_(clip, 1.0)
    opt.step()
    sched.step()


def log_step(log: Log, label: str, step: int, steps: int, loss, t0: float, every: int) -> None:
    """A progress line every `every` steps and at the last one."""
    if step % every == 0 or step == steps - 1:
        log(f"{label} step {step}/{steps} loss {loss.item():.4f} ({time.time() - t0:.0f}s)")


def train_vae(vae, images: np.ndarray, steps: int, seed: int, batch: int = 64, lr: float = 2e-3, log: Log = print) -> float:
    """Reconstruction + a tiny KL term; returns held-out PSNR on the last 256 images."""
    import torch

    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    train, held = to_tensor(images[:-256]), images[-256:]
    opt = torch.optim.AdamW(vae.parameters(), lr=lr, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=max(steps, 2), pct_start=0.1)
    vae.train()
    t0 = time.time()
    for step in range(steps):
        x = train[torch.randint(0, len(train), (batch,), generator=gen)]
        post = vae.encode(x).latent_dist
        z = post.mean + post.std * torch.randn(post.mean.shape, generator=gen)
        rec = vae.decode(z).sample
        loss = torch.nn.functional.mse_loss(rec, x) + 1e-6 * post.kl().mean()
        optimizer_step(opt, sched, loss)
        log_step(log, "vae", step, steps, loss, t0, every=100)
    vae.eval()
    rec = decode(vae, encode_mean(vae, held), scaled=False)
    score = psnr(rec, held)
    log(f"vae held-out PSNR {score:.2f} dB")
    return score


def encode_mean(vae, images: np.ndarray, batch: int = 256):
    """Posterior means (unscaled) for uint8 images -> (N, C, 8, 8)."""
    import torch

    outs = []
    with torch.no_grad():
        for i in range(0, len(images), batch):
            outs.append(vae.encode(to_tensor(images[i : i + batch])).latent_dist.mean)
    return torch.cat(outs)


def decode(vae, latents, scaled: bool = True) -> np.ndarray:
    """Latents -> uint8 images; `scaled` latents are divided by the VAE scaling factor first."""
    import torch

    with torch.no_grad():
        z = latents / vae.config.scaling_factor if scaled else latents
        x = vae.decode(z).sample
    return ((x.clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).numpy()


def set_scaling_factor(vae, latents) -> float:
    """SD scales latents to unit variance; measure it on our own data."""
    factor = float(1.0 / latents.std())
    vae.register_to_config(scaling_factor=factor)
    return factor


BatchFn = Callable[["object"], tuple]  # gen -> (latents (B,C,h,w), input_ids (B,77), weights (B,) or None)


def train_diffusion(
    unet,
    text_encoder,
    scheduler,
    params: list,
    batch_fn: BatchFn,
    steps: int,
    lr: float,
    seed: int,
    log: Log = print,
    label: str = "diffusion",
    warmup: float = 0.05,
    min_snr_gamma: float = 0.0,
) -> float:
    """Epsilon-prediction training of whatever `params` hold; returns the mean loss of the last 10% of steps.

    `min_snr_gamma` > 0 weights each sample by min(SNR, gamma) / SNR (Min-SNR, Hang et al. 2023): the
    nearly-clean timesteps, where fine lines are decided, stop being drowned by the noisy ones."""
    import torch

    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.0, betas=(0.9, 0.99))
    warm = max(1, int(steps * warmup))

    def lr_at(step: int) -> float:  # linear warmup, cosine decay to 10%
        if step < warm:
            return (step + 1) / warm
        p = (step - warm) / max(1, steps - warm)
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * p))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_at)
    alphas = scheduler.alphas_cumprod
    unet.train()
    text_encoder.train()
    tail: list[float] = []
    t0 = time.time()
    for step in range(steps):
        latents, ids, weights = batch_fn(gen)
        b = latents.shape[0]
        noise = torch.randn(latents.shape, generator=gen)
        t = torch.randint(0, scheduler.config.num_train_timesteps, (b,), generator=gen)
        a = alphas[t].view(b, 1, 1, 1)
        noisy = a.sqrt() * latents + (1 - a).sqrt() * noise
        context = text_encoder(ids)[0]  # (B, 77, TEXT_DIM)
        pred = unet(noisy, t, context).sample
        per = ((pred - noise) ** 2).mean(dim=(1, 2, 3))
        if min_snr_gamma > 0:
            per = per * min_snr_weights(alphas[t], min_snr_gamma)
        loss = (per * weights).sum() / weights.sum() if weights is not None else per.mean()
        optimizer_step(opt, sched, loss, clip=params)
        if step >= steps - max(1, steps // 10):
            tail.append(loss.item())
        log_step(log, label, step, steps, loss, t0, every=100)
    unet.eval()
    text_encoder.eval()
    return float(np.mean(tail)) if tail else float("nan")


def min_snr_weights(alpha_bar, gamma: float):
    """min(SNR, gamma) / SNR per sample, SNR = alpha_bar / (1 - alpha_bar): 1 for noisy timesteps, less for clean ones."""
    import torch

    snr = alpha_bar / (1 - alpha_bar)
    return torch.clamp(snr, max=gamma) / snr


def caption_batch_fn(latent_mean, latent_std, ids, batch: int, drop_prob: float = 0.1, empty_ids=None):
    """Random batches of (sampled latent, caption ids); `drop_prob` of captions become '' for CFG."""
    import torch

    def fn(gen):
        idx = torch.randint(0, len(latent_mean), (batch,), generator=gen)
        z = latent_mean[idx] + latent_std[idx] * torch.randn(latent_mean[idx].shape, generator=gen)
        cap = ids[idx].clone()
        if empty_ids is not None and drop_prob > 0:
            drop = torch.rand(batch, generator=gen) < drop_prob
            cap[drop] = empty_ids
        return z, cap, None

    return fn


def fit_vae(images: np.ndarray, cfg, steps: int, seed: int, batch: int = 32, log: Log = print):
    """Stage 1: the VAE alone, with its latent scaling factor measured on the training images."""
    import torch

    torch.manual_seed(seed)
    vae = world_model.make_vae(cfg)
    vae_psnr = train_vae(vae, images, steps, seed, batch=batch, log=log)
    factor = set_scaling_factor(vae, encode_mean(vae, images[:2048]))
    log(f"vae scaling factor {factor:.4f}")
    vae.requires_grad_(False)
    return vae, {"vae_psnr_db": round(vae_psnr, 2), "vae_scaling_factor": round(factor, 5)}


def train_base(vae, images: np.ndarray, captions: list[str], cfg, steps_unet: int, seed: int, batch: int = 64, log: Log = print):
    """Stage 2: text encoder + UNet jointly from scratch on the frozen VAE's latents. Returns (pipe, metrics)."""
    import torch

    torch.manual_seed(seed)
    tokenizer = world_model.make_tokenizer()
    text_encoder = world_model.make_text_encoder(cfg)
    unet = world_model.make_unet(cfg)
    scheduler = world_model.make_scheduler()
    with torch.no_grad():
        posts = [vae.encode(to_tensor(images[i : i + 256])).latent_dist for i in range(0, len(images), 256)]
    factor = vae.config.scaling_factor
    mean = torch.cat([p.mean for p in posts]) * factor
    std = torch.cat([p.std for p in posts]) * factor

    ids = world_model.tokenize(tokenizer, captions)
    empty = world_model.tokenize(tokenizer, [""])[0]
    params = list(unet.parameters()) + list(text_encoder.parameters())
    fn = caption_batch_fn(mean, std, ids, batch, empty_ids=empty)
    loss = train_diffusion(unet, text_encoder, scheduler, params, fn, steps_unet, lr=2e-3, seed=seed + 1, log=log, label="base")
    for m in (text_encoder, unet):
        m.requires_grad_(False)
    pipe = world_model.assemble(text_encoder, vae, unet, tokenizer, scheduler)
    pipe.set_progress_bar_config(disable=True)
    return pipe, {"base_final_loss": round(loss, 4)}
