"""The format writers both world generators use: PNG, safetensors, torch zips, model layouts, metadata.

make_dev.py and make_versions_dev.py import these (build_world copies this file next to them), so one
writer serves both worlds; numpy + safetensors only, no torch.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import struct
import sys
import unicodedata
import zipfile
import zlib
from pathlib import Path

import numpy as np
from safetensors.numpy import save as st_save

FIXED_EPOCH = 1718000000  # all generated mtimes are derived from this


def rng_for(seed, key):
    h = hashlib.sha256(f"{seed}:{key}".encode("utf-8")).digest()
    return np.random.default_rng(int.from_bytes(h[:8], "little"))


def sha256_file(p):
    h = hashlib.sha256()
    with open(p, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def nfc(s):
    return unicodedata.normalize("NFC", s)


def ensure_parent(p):
    Path(p).parent.mkdir(parents=True, exist_ok=True)


def set_mtime(p, offset_days):
    t = FIXED_EPOCH + int(offset_days) * 86400
    os.utime(p, (t, t), follow_symlinks=False)


# ----------------------------- PNG -----------------------------------------
def png_solid(rgb, w=8, h=8):
    raw = b"".join(b"\x00" + bytes(rgb) * w for _ in range(h))

    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


# ----------------------------- safetensors ---------------------------------
def f16(rng, shape, scale=0.02):
    return (rng.standard_normal(shape) * scale).astype(np.float16)


def f32(rng, shape, scale=0.02):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def write_st(path, tensors, metadata=None, dtype="F16"):
    """tensors: dict name -> np.ndarray. dtype 'BF16' converts float arrays to bfloat16
    using a raw writer (numpy has no bfloat16); otherwise the official
    safetensors.numpy.save() lays out the tensors."""
    ensure_parent(path)
    if dtype != "BF16":
        # Tensor layout/header from the official writer; __metadata__ is then inserted with a
        # stable key order (the Rust writer serializes it from a HashMap, i.e. in random order,
        # which would make the fixture non-reproducible byte-for-byte).
        b = st_save({k: np.ascontiguousarray(v) for k, v in tensors.items()})
        n = struct.unpack("<Q", b[:8])[0]
        h = json.loads(b[8:8 + n].decode("utf-8"))
        h.pop("__metadata__", None)
        h2 = {"__metadata__": dict(metadata)} if metadata else {}
        h2.update(h)
        hb = json.dumps(h2, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        hb += b" " * ((8 - len(hb) % 8) % 8)
        Path(path).write_bytes(struct.pack("<Q", len(hb)) + hb + b[8 + n:])
        return
    raw = {}
    for k, v in tensors.items():
        a32 = np.ascontiguousarray(v.astype(np.float32))
        b = (a32.view(np.uint32) >> 16).astype(np.uint16).tobytes()
        raw[k] = ("BF16", list(v.shape), b)
    Path(path).write_bytes(st_raw_bytes(raw, metadata))


def st_raw_bytes(raw, metadata=None, header_extra=None):
    """raw: dict name -> (dtype_str, shape, bytes). Layout follows the safetensors spec:
    u64 little-endian header length, UTF-8 JSON header padded with spaces to 8 bytes,
    then the byte buffer. Tensors sorted by name."""
    header = {}
    if metadata is not None:
        header["__metadata__"] = metadata
    off = 0
    blobs = []
    for name in sorted(raw):
        dt, shape, b = raw[name]
        header[name] = {"dtype": dt, "shape": list(shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    if header_extra:
        header.update(header_extra)
    hb = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    hb += b" " * ((8 - len(hb) % 8) % 8)
    return struct.pack("<Q", len(hb)) + hb + b"".join(blobs)


def read_st_header(path):
    """Independent minimal header reader used for self-checks."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        return json.loads(f.read(n).decode("utf-8"))


# ----------------------------- torch pickle (.pt/.ckpt) without torch -------
# torch.save() zip layout: <archive>/data.pkl (pickle protocol 2, tensors reduced via
# torch._utils._rebuild_tensor_v2 with persistent ids ('storage', torch.XStorage, key,
# 'cpu', numel)), <archive>/byteorder, <archive>/data/<key>, <archive>/version.
class _PK:
    def __init__(self):
        self.out = io.BytesIO()
        self.storages = []  # list of (key, bytes)

    def w(self, b):
        self.out.write(b)

    def global_(self, mod, name):
        self.w(b"c" + mod.encode() + b"\n" + name.encode() + b"\n")

    def obj(self, o):
        if o is None:
            self.w(b"N")
        elif o is True:
            self.w(b"\x88")
        elif o is False:
            self.w(b"\x89")
        elif isinstance(o, int):
            if 0 <= o < 256:
                self.w(b"K" + bytes([o]))
            elif 0 <= o < 65536:
                self.w(b"M" + struct.pack("<H", o))
            else:
                self.w(b"J" + struct.pack("<i", o))
        elif isinstance(o, float):
            self.w(b"G" + struct.pack(">d", o))
        elif isinstance(o, str):
            b = o.encode("utf-8")
            self.w(b"X" + struct.pack("<I", len(b)) + b)
        elif isinstance(o, tuple):
            if len(o) == 0:
                self.w(b")")
            elif len(o) <= 3:
                for x in o:
                    self.obj(x)
                self.w({1: b"\x85", 2: b"\x86", 3: b"\x87"}[len(o)])
            else:
                self.w(b"(")
                for x in o:
                    self.obj(x)
                self.w(b"t")
        elif isinstance(o, dict):
            self.w(b"}")
            if o:
                self.w(b"(")
                for k, v in o.items():
                    self.obj(k)
                    self.obj(v)
                self.w(b"u")
        elif isinstance(o, np.ndarray):
            self.tensor(o)
        else:
            raise TypeError(type(o))

    def tensor(self, a):
        a = np.ascontiguousarray(a)
        stype = {np.dtype(np.float16): "HalfStorage", np.dtype(np.float32): "FloatStorage"}[a.dtype]
        key = str(len(self.storages))
        self.storages.append((key, a.tobytes()))
        stride = []
        acc = 1
        for d in reversed(a.shape):
            stride.insert(0, acc)
            acc *= d
        self.global_("torch._utils", "_rebuild_tensor_v2")
        self.w(b"(")
        # persistent id tuple -> BINPERSID
        self.w(b"(")
        self.obj("storage")
        self.global_("torch", stype)
        self.obj(key)
        self.obj("cpu")
        self.obj(int(a.size))
        self.w(b"t")
        self.w(b"Q")
        self.obj(0)                      # storage_offset
        self.obj(tuple(int(x) for x in a.shape))
        self.obj(tuple(stride))
        self.obj(False)                  # requires_grad
        self.global_("collections", "OrderedDict")
        self.w(b")R")                    # backward_hooks = OrderedDict()
        self.w(b"t")
        self.w(b"R")

    def dumps(self, o):
        self.w(b"\x80\x02")
        self.obj(o)
        self.w(b".")
        return self.out.getvalue()


def _zip_write_aligned(zf, name, data, align=64):
    zi = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    zi.compress_type = zipfile.ZIP_STORED
    # pad local-header extra field so the payload starts on a 64-byte boundary (as torch does)
    pos = zf.fp.tell()
    base = pos + 30 + len(name.encode("utf-8")) + 4
    pad = (-base) % align
    zi.extra = struct.pack("<HH", 0x4246, pad) + b"Z" * pad  # 'FB' extra id used by torch
    zf.writestr(zi, data)


def torch_zip_bytes(obj, archive_name):
    pk = _PK()
    pkl = pk.dumps(obj)
    bio = io.BytesIO()
    with zipfile.ZipFile(bio, "w", zipfile.ZIP_STORED) as zf:
        _zip_write_aligned(zf, f"{archive_name}/data.pkl", pkl)
        _zip_write_aligned(zf, f"{archive_name}/byteorder", b"little")
        for key, b in pk.storages:
            _zip_write_aligned(zf, f"{archive_name}/data/{key}", b)
        _zip_write_aligned(zf, f"{archive_name}/version", b"3\n")
    return bio.getvalue()


def safe_unpickle_torch_zip(path):
    """Self-check loader: parses a torch zip checkpoint with a whitelist unpickler
    (no arbitrary code); returns nested dicts with numpy arrays."""
    import pickle

    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        prefix = names[0].split("/")[0]
        pkl = zf.read(f"{prefix}/data.pkl")

        class Storage:
            def __init__(self, dtype):
                self.dtype = dtype

        def rebuild(storage, offset, size, stride, requires_grad, hooks, *rest):
            key, dt = storage
            arr = np.frombuffer(zf.read(f"{prefix}/data/{key}"), dtype=dt)
            n = int(np.prod(size)) if size else 1
            return arr[offset:offset + n].reshape(size)

        allowed = {
            ("torch._utils", "_rebuild_tensor_v2"): rebuild,
            ("collections", "OrderedDict"): dict,
            ("torch", "HalfStorage"): np.float16,
            ("torch", "FloatStorage"): np.float32,
        }

        class U(pickle.Unpickler):
            def find_class(self, mod, name):
                if (mod, name) in allowed:
                    return allowed[(mod, name)]
                raise pickle.UnpicklingError(f"blocked global {mod}.{name}")

            def persistent_load(self, pid):
                tag, stype, key, loc, numel = pid
                return (key, stype)

        return U(io.BytesIO(pkl)).load()


# ----------------------------- model layouts -------------------------------
CTX = {"sd15": 768, "sd21": 1024, "sdxl": 2048}
TE_HIDDEN = {"sd15": 768, "sd21": 1024}

# attention (Transformer2DModel) locations, diffusers naming: (path, channels, depth)
SD12_ATTN = [
    ("down_blocks.0.attentions.0", 320, 1), ("down_blocks.0.attentions.1", 320, 1),
    ("down_blocks.1.attentions.0", 640, 1), ("down_blocks.1.attentions.1", 640, 1),
    ("down_blocks.2.attentions.0", 1280, 1), ("down_blocks.2.attentions.1", 1280, 1),
    ("mid_block.attentions.0", 1280, 1),
    ("up_blocks.1.attentions.0", 1280, 1), ("up_blocks.1.attentions.1", 1280, 1), ("up_blocks.1.attentions.2", 1280, 1),
    ("up_blocks.2.attentions.0", 640, 1), ("up_blocks.2.attentions.1", 640, 1), ("up_blocks.2.attentions.2", 640, 1),
    ("up_blocks.3.attentions.0", 320, 1), ("up_blocks.3.attentions.1", 320, 1), ("up_blocks.3.attentions.2", 320, 1),
]
SDXL_ATTN_DIFFUSERS = [
    ("down_blocks.1.attentions.0", 640, 2), ("down_blocks.1.attentions.1", 640, 2),
    ("down_blocks.2.attentions.0", 1280, 10), ("down_blocks.2.attentions.1", 1280, 10),
    ("mid_block.attentions.0", 1280, 10),
    ("up_blocks.0.attentions.0", 1280, 10), ("up_blocks.0.attentions.1", 1280, 10), ("up_blocks.0.attentions.2", 1280, 10),
    ("up_blocks.1.attentions.0", 640, 2), ("up_blocks.1.attentions.1", 640, 2), ("up_blocks.1.attentions.2", 640, 2),
]
# kohya sd-scripts trains SDXL on the original (sgm) UNet, so its LoRA keys use these names
SDXL_ATTN_SGM = [
    ("input_blocks.4.1", 640, 2), ("input_blocks.5.1", 640, 2),
    ("input_blocks.7.1", 1280, 10), ("input_blocks.8.1", 1280, 10),
    ("middle_block.1", 1280, 10),
    ("output_blocks.0.1", 1280, 10), ("output_blocks.1.1", 1280, 10), ("output_blocks.2.1", 1280, 10),
    ("output_blocks.3.1", 640, 2), ("output_blocks.4.1", 640, 2), ("output_blocks.5.1", 640, 2),
]


def lora_linear_targets(base, naming, rng, te=True):
    """Return list of (module_path, in_features, out_features, group) for a LoRA.
    group in {'unet','te','te1','te2'}. naming: 'diffusers' or 'sgm'."""
    out = []
    ctx = CTX[base]
    if base == "sdxl":
        blocks = SDXL_ATTN_SGM if naming == "sgm" else SDXL_ATTN_DIFFUSERS
    else:
        blocks = SD12_ATTN
    for path, ch, depth in blocks:
        n_tb = 1 if depth == 1 else (2 if rng.random() < 0.5 else 1)
        for tb in range(n_tb):
            pre = f"{path}.transformer_blocks.{tb}"
            out.append((f"{pre}.attn2.to_k", ctx, ch, "unet"))
            out.append((f"{pre}.attn2.to_v", ctx, ch, "unet"))
            if ch == 320 or (ch == 640 and base == "sdxl" and tb == 0):
                out.append((f"{pre}.attn1.to_q", ch, ch, "unet"))
                out.append((f"{pre}.attn2.to_out.0", ch, ch, "unet"))
    if te:
        n_layers = int(rng.integers(1, 3))
        if base == "sdxl":
            groups = [("te1", 768), ("te2", 1280)]
        else:
            groups = [("te", TE_HIDDEN[base])]
        for g, hid in groups:
            for i in range(n_layers):
                for proj in ("q_proj", "k_proj", "v_proj", "out_proj"):
                    out.append((f"text_model.encoder.layers.{i}.self_attn.{proj}", hid, hid, g))
    return out


def kohya_lora_tensors(base, rng, rank, alpha, te=True, algo="lora", conv=False):
    naming = "sgm" if base == "sdxl" else "diffusers"
    t = {}
    prefix = {"unet": "lora_unet", "te": "lora_te", "te1": "lora_te1", "te2": "lora_te2"}
    for mod, fin, fout, g in lora_linear_targets(base, naming, rng, te=te):
        name = prefix[g] + "_" + mod.replace(".", "_")
        if algo == "loha":
            t[name + ".hada_w1_a"] = f16(rng, (fout, rank))
            t[name + ".hada_w1_b"] = f16(rng, (rank, fin))
            t[name + ".hada_w2_a"] = f16(rng, (fout, rank))
            t[name + ".hada_w2_b"] = f16(rng, (rank, fin))
        else:
            t[name + ".lora_down.weight"] = f16(rng, (rank, fin))
            t[name + ".lora_up.weight"] = f16(rng, (fout, rank))
        t[name + ".alpha"] = np.array(alpha, dtype=np.float16)
    if base != "sdxl" and naming == "diffusers":
        # SD1 proj_in is a 1x1 Conv2d, SD2 uses Linear (use_linear_projection)
        name = "lora_unet_down_blocks_0_attentions_0_proj_in"
        if base == "sd15":
            t[name + ".lora_down.weight"] = f16(rng, (rank, 320, 1, 1))
            t[name + ".lora_up.weight"] = f16(rng, (320, rank, 1, 1))
        else:
            t[name + ".lora_down.weight"] = f16(rng, (rank, 320))
            t[name + ".lora_up.weight"] = f16(rng, (320, rank))
        t[name + ".alpha"] = np.array(alpha, dtype=np.float16)
    if conv:
        # LoCon: 3x3 conv in a ResNet block
        cname = "lora_unet_input_blocks_1_0_in_layers_2" if base == "sdxl" else "lora_unet_down_blocks_0_resnets_0_conv1"
        t[cname + ".lora_down.weight"] = f16(rng, (rank, 320, 3, 3))
        t[cname + ".lora_up.weight"] = f16(rng, (320, rank, 1, 1))
        t[cname + ".alpha"] = np.array(alpha, dtype=np.float16)
    return t


def peft_lora_tensors(base, rng, rank, te=True, style="diffusers"):
    """style: 'diffusers' (unet./text_encoder./text_encoder_2. prefixes, lora_A/lora_B),
    'peft_adapter' (PEFT save_pretrained of the bare UNet: base_model.model.*),
    'legacy' (diffusers <=0.16 attention-processor keys: ...processor.to_k_lora.down.weight)."""
    t = {}
    for mod, fin, fout, g in lora_linear_targets(base, "diffusers", rng, te=(te and style == "diffusers")):
        if style == "legacy":
            parent, leaf = mod.rsplit(".", 1)
            if leaf == "0":  # to_out.0
                parent, leaf = parent.rsplit(".", 1)[0], "to_out"
            key = f"{parent}.processor.{leaf}_lora"
            t[key + ".down.weight"] = f16(rng, (rank, fin))
            t[key + ".up.weight"] = f16(rng, (fout, rank))
            continue
        if style == "peft_adapter":
            pre = "base_model.model."
        else:
            pre = {"unet": "unet.", "te": "text_encoder.", "te1": "text_encoder.", "te2": "text_encoder_2."}[g]
        t[f"{pre}{mod}.lora_A.weight"] = f16(rng, (rank, fin))
        t[f"{pre}{mod}.lora_B.weight"] = f16(rng, (fout, rank))
    return t


def checkpoint_tensors(base, rng, inpaint=False, dtype=np.float16):
    """A handful of identifying tensors of an original-layout (ldm/sgm) single-file checkpoint,
    at their real shapes."""
    mk = (lambda s: f16(rng, s)) if dtype == np.float16 else (lambda s: f32(rng, s))
    dm = "model.diffusion_model."
    t = {}
    t[dm + "input_blocks.0.0.weight"] = mk((320, 9 if inpaint else 4, 3, 3))
    t[dm + "input_blocks.0.0.bias"] = mk((320,))
    t[dm + "out.2.weight"] = mk((4, 320, 3, 3))
    t["first_stage_model.decoder.conv_in.weight"] = mk((512, 4, 3, 3))
    t["first_stage_model.encoder.conv_in.weight"] = mk((128, 3, 3, 3))
    t["first_stage_model.quant_conv.weight"] = mk((8, 8, 1, 1))
    if base == "sdxl":
        t[dm + "input_blocks.4.1.transformer_blocks.0.attn2.to_k.weight"] = mk((640, 2048))
        t[dm + "input_blocks.4.1.proj_in.bias"] = mk((640,))
        t[dm + "label_emb.0.0.bias"] = mk((1280,))
        t["conditioner.embedders.0.transformer.text_model.embeddings.position_embedding.weight"] = mk((77, 768))
        t["conditioner.embedders.0.transformer.text_model.final_layer_norm.weight"] = mk((768,))
        t["conditioner.embedders.1.model.positional_embedding"] = mk((77, 1280))
        t["conditioner.embedders.1.model.ln_final.weight"] = mk((1280,))
        t["conditioner.embedders.1.model.transformer.resblocks.0.ln_1.weight"] = mk((1280,))
    else:
        ctx = CTX[base]
        t[dm + "input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight"] = mk((320, ctx))
        t[dm + "input_blocks.1.1.proj_in.weight"] = mk((320, 320, 1, 1)) if base == "sd15" else mk((320, 320))
        t["alphas_cumprod"] = np.linspace(0.9991, 0.0047, 1000).astype(np.float32)
        if base == "sd15":
            tm = "cond_stage_model.transformer.text_model."
            t[tm + "embeddings.position_embedding.weight"] = mk((77, 768))
            t[tm + "final_layer_norm.weight"] = mk((768,))
            t[tm + "encoder.layers.0.layer_norm1.weight"] = mk((768,))
        else:
            cm = "cond_stage_model.model."
            t[cm + "positional_embedding"] = mk((77, 1024))
            t[cm + "ln_final.weight"] = mk((1024,))
            t[cm + "transformer.resblocks.0.ln_1.weight"] = mk((1024,))
    return t


# ----------------------------- metadata builders ---------------------------
MODEL_VERSION = {"sd15": "sd_v1", "sd21": "sd_v2", "sdxl": "sdxl_base_v1-0"}
SD_MODEL_NAME = {
    "sd15": ["v1-5-pruned-emaonly.safetensors", "runwayml/stable-diffusion-v1-5", "realisticVisionV51_v51VAE.safetensors",
             "anything-v3-fp16-pruned.safetensors", "dreamshaper_8.safetensors"],
    "sd21": ["v2-1_512-ema-pruned.safetensors", "stabilityai/stable-diffusion-2-1-base"],
    "sd21v": ["v2-1_768-ema-pruned.safetensors", "stabilityai/stable-diffusion-2-1"],
    "sdxl": ["sd_xl_base_1.0.safetensors", "stabilityai/stable-diffusion-xl-base-1.0", "juggernautXL_v9Rundiffusionphoto2.safetensors"],
    "pony": ["ponyDiffusionV6XL_v6StartWithThisOne.safetensors"],
}
A1111_SDVER = {"sd15": "SD1", "sd21": "SD2", "sdxl": "SDXL"}
CIVITAI_BASE = {"sd15": "SD 1.5", "sd21": "SD 2.1", "sdxl": "SDXL 1.0"}
CIVITAI_TYPE = {"lora": "LORA", "locon": "LoCon", "ti": "TextualInversion", "checkpoint": "Checkpoint"}


def hexs(rng, n):
    return "".join("0123456789abcdef"[int(x)] for x in rng.integers(0, 16, n))


def kohya_metadata(e, base, rng, rank, alpha, ts, v_param=False, algo="lora", conv=False, old_style=False):
    """ss_* metadata as written by kohya-ss sd-scripts train_network.py
    (every value str()-converted; ss_tag_frequency / ss_dataset_dirs are JSON strings)."""
    sdxl = base == "sdxl"
    v2 = base == "sd21"
    n_img = int(e.get("n_images", rng.integers(12, 60)))
    repeats = int(e.get("repeats", rng.integers(4, 20)))
    epochs = int(e.get("epochs", 10))
    bs = 1 if sdxl else 2
    steps_per_epoch = (n_img * repeats + bs - 1) // bs
    dirname = e.get("dataset_dir") or f"{repeats}_{e['tag_trigger']} {e.get('class_token', '')}".strip()
    freq = dict(e.get("tags", {}))
    res = 1024 if sdxl else (768 if v_param else 512)
    md = {
        "ss_session_id": str(int(rng.integers(10**8, 4 * 10**9))),
        "ss_training_started_at": str(ts),
        "ss_output_name": e["output_name"],
        "ss_learning_rate": "0.0001",
        "ss_text_encoder_lr": "5e-05" if e.get("te", True) else "None",
        "ss_unet_lr": "0.0001",
        "ss_num_train_images": str(n_img * repeats),
        "ss_num_reg_images": "0",
        "ss_num_batches_per_epoch": str(steps_per_epoch),
        "ss_num_epochs": str(epochs),
        "ss_gradient_checkpointing": "True",
        "ss_gradient_accumulation_steps": "1",
        "ss_max_train_steps": str(steps_per_epoch * epochs),
        "ss_lr_warmup_steps": "0",
        "ss_lr_scheduler": str(rng.choice(["cosine_with_restarts", "constant", "cosine"])),
        "ss_network_module": "lycoris.kohya" if algo != "lora" else "networks.lora",
        "ss_network_dim": str(rank),
        "ss_network_alpha": str(float(alpha)) if not float(alpha).is_integer() or rng.random() < 0.5 else str(int(alpha)),
        "ss_mixed_precision": "bf16" if e.get("bf16") else "fp16",
        "ss_full_fp16": "False",
        "ss_v2": str(v2),
        "ss_clip_skip": "None" if sdxl else str(rng.choice(["1", "2"])),
        "ss_max_token_length": "225" if rng.random() < 0.5 else "None",
        "ss_cache_latents": "True",
        "ss_seed": str(int(rng.integers(1, 10**9))),
        "ss_lowram": "False",
        "ss_noise_offset": "None" if rng.random() < 0.5 else "0.0357",
        "ss_training_comment": e.get("training_comment") or "None",
        "ss_optimizer": str(rng.choice(["bitsandbytes.optim.adamw.AdamW8bit", "prodigyopt.prodigy.Prodigy(decouple=True,weight_decay=0.01)", "torch.optim.adamw.AdamW"])),
        "ss_max_grad_norm": "1.0",
        "ss_caption_dropout_rate": "0.0",
        "ss_caption_dropout_every_n_epochs": "0",
        "ss_caption_tag_dropout_rate": "0.0",
        "ss_face_crop_aug_range": "None",
        "ss_prior_loss_weight": "1.0",
        "ss_min_snr_gamma": "5.0" if rng.random() < 0.5 else "None",
        "ss_batch_size_per_device": str(bs),
        "ss_total_batch_size": str(bs),
        "ss_resolution": f"({res}, {res})",
        "ss_color_aug": "False",
        "ss_flip_aug": str(rng.random() < 0.4),
        "ss_random_crop": "False",
        "ss_shuffle_caption": "True",
        "ss_enable_bucket": "True",
        "ss_bucket_no_upscale": "True",
        "ss_min_bucket_reso": "256",
        "ss_max_bucket_reso": "2048" if sdxl else "1024",
        "ss_keep_tokens": "1",
        "ss_dataset_dirs": json.dumps({dirname: {"n_repeats": repeats, "img_count": n_img}}),
        "ss_reg_dataset_dirs": json.dumps({}),
        "ss_tag_frequency": json.dumps({dirname: freq}),
        "ss_bucket_info": json.dumps({"buckets": {"0": {"resolution": [res, res], "count": n_img * repeats}}, "mean_img_ar_error": 0.0}),
        "ss_sd_model_name": e.get("sd_model_name") or str(rng.choice(SD_MODEL_NAME["sd21v" if v_param else base])),
        "ss_new_sd_model_hash": hexs(rng, 64),
        "ss_sd_model_hash": hexs(rng, 8),
        "ss_epoch": str(e.get("epoch", epochs)),
        "ss_steps": str(steps_per_epoch * int(e.get("epoch", epochs))),
        "ss_training_finished_at": str(ts + int(rng.integers(1800, 20000))),
        "sshs_model_hash": hexs(rng, 64),
        "sshs_legacy_hash": hexs(rng, 8),
    }
    if not old_style:
        md["ss_base_model_version"] = MODEL_VERSION[base] + ("_v" if v_param else "")
        md["ss_sd_scripts_commit_hash"] = hexs(rng, 40)
        md["ss_network_dropout"] = "None"
    if algo != "lora" or conv:
        args = {"algo": algo if algo != "lora" else "locon"}
        if conv:
            args.update({"conv_dim": str(rank), "conv_alpha": str(alpha)})
        md["ss_network_args"] = json.dumps(args)
    return md


def modelspec_metadata(base, kind_arch, title, ts, description=None, trigger=None, tags=None, author=None,
                       v_param=False, arch_style="slash", extra=None, impl=None):
    """modelspec.* keys (Stability-AI/ModelSpec; as emitted by kohya library/sai_model_spec.py).
    kind_arch: '' (full model), 'lora', 'textual-inversion'."""
    arch = {"sd15": "stable-diffusion-v1", "sd21": "stable-diffusion-v2-768-v" if v_param else "stable-diffusion-v2-512",
            "sdxl": "stable-diffusion-xl-v1-base"}[base]
    if kind_arch:
        arch += ("/" if arch_style == "slash" else "-") + kind_arch
    if impl is None:
        impl = ("https://github.com/Stability-AI/generative-models"
                if (kind_arch == "lora" and base == "sdxl") or kind_arch == "textual-inversion" or kind_arch == "" else "diffusers")
    import datetime
    res = "1024x1024" if base == "sdxl" else ("768x768" if v_param else "512x512")
    md = {
        "modelspec.sai_model_spec": "1.0.0",
        "modelspec.architecture": arch,
        "modelspec.implementation": impl,
        "modelspec.title": title,
        "modelspec.resolution": res,
        "modelspec.date": datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S"),
        "modelspec.prediction_type": "v" if v_param else "epsilon",
    }
    if description:
        md["modelspec.description"] = description
    if trigger:
        md["modelspec.trigger_phrase"] = trigger
    if tags:
        md["modelspec.tags"] = tags
    if author:
        md["modelspec.author"] = author
    if extra:
        md.update(extra)
    return md


def civitai_info(e, base, model_path, rng, kind):
    """Civitai-Helper sidecar NAME.civitai.info = Civitai REST response of
    GET /api/v1/model-versions/by-hash/:hash (a *model version* object):
    top-level "name" is the VERSION name; the model's title is model.name."""
    sha = sha256_file(model_path)
    crc = zlib.crc32(Path(model_path).read_bytes()) & 0xFFFFFFFF
    vid = int(rng.integers(10000, 900000))
    mid = int(rng.integers(1000, 300000))
    created = f"2024-{int(rng.integers(1, 13)):02d}-{int(rng.integers(1, 28)):02d}T{int(rng.integers(0, 24)):02d}:{int(rng.integers(0, 60)):02d}:11.{int(rng.integers(100, 999))}Z"
    fname = Path(model_path).name
    fmt = "PickleTensor" if fname.endswith((".pt", ".ckpt")) else "SafeTensor"
    info = {
        "id": vid,
        "modelId": mid,
        "name": e.get("civitai_version", "v1.0"),
        "createdAt": created,
        "updatedAt": created,
        "status": "Published",
        "publishedAt": created,
        "trainedWords": list(e.get("trained_words", [])),
        "trainingStatus": None,
        "trainingDetails": None,
        "baseModel": e.get("civitai_base") or CIVITAI_BASE[base],
        "baseModelType": "Standard",
        "earlyAccessTimeFrame": 0,
        "description": e.get("civitai_description"),
        "vaeId": None,
        "stats": {"downloadCount": int(rng.integers(10, 50000)), "ratingCount": 0, "rating": 0, "thumbsUpCount": int(rng.integers(0, 900))},
        "model": {"name": e["civitai_name"], "type": CIVITAI_TYPE[kind], "nsfw": False, "poi": False},
        "files": [{
            "id": vid + 1, "sizeKB": round(os.path.getsize(model_path) / 1024, 6), "name": fname, "type": "Model",
            "pickleScanResult": "Success", "pickleScanMessage": "No Pickle imports", "virusScanResult": "Success",
            "virusScanMessage": None, "scannedAt": created,
            "metadata": {"format": fmt, "size": "pruned" if kind == "checkpoint" else None, "fp": "fp16"},
            "hashes": {"AutoV2": sha[:10].upper(), "SHA256": sha.upper(), "CRC32": f"{crc:08X}"},
            "primary": True, "downloadUrl": f"https://civitai.com/api/download/models/{vid}",
        }],
        "images": [{
            "url": f"https://image.civitai.com/xG1nkqKTMzGDvpLrqFT7WA/{hexs(rng, 8)}-{hexs(rng, 4)}-{hexs(rng, 4)}/width=450/{int(rng.integers(10**5, 10**7))}.jpeg",
            "nsfwLevel": 1, "width": 512 if base != "sdxl" else 1024, "height": 768 if base != "sdxl" else 1024,
            "hash": "U" + hexs(rng, 25), "type": "image",
            "meta": {"prompt": e.get("civitai_example_prompt", ", ".join(e.get("trained_words", [])) or "sample"), "steps": 25,
                     "sampler": "DPM++ 2M Karras", "cfgScale": 7, "seed": int(rng.integers(1, 2**31))},
        }],
        "downloadUrl": f"https://civitai.com/api/download/models/{vid}",
    }
    if e.get("civitai_tags"):
        info["model"]["tags"] = list(e["civitai_tags"])
    return info


def a1111_user_metadata(e, base, kind):
    """A1111 extra-networks user metadata sidecar NAME.json
    (modules/ui_extra_networks_user_metadata.py + extensions-builtin/Lora/ui_edit_user_metadata.py)."""
    d = {"description": e.get("a1111_description", e.get("description", ""))}
    if kind == "lora":
        d["sd version"] = e.get("a1111_sd_version", A1111_SDVER[base])
        d["activation text"] = e.get("activation_text", ", ".join(e.get("trigger_words", [])))
        d["preferred weight"] = e.get("preferred_weight", 0.8)
        d["negative text"] = e.get("negative_text", "")
    d["notes"] = e.get("notes", "")
    if e.get("a1111_minimal"):
        d = {"description": d["description"]}
        if kind == "lora" and e.get("activation_text") is not None:
            d["activation text"] = e["activation_text"]
    return d


def diffusers_readme(base_model_repo, instance_prompt, title, body, lora=True):
    tags = ["stable-diffusion-xl" if "xl" in base_model_repo else "stable-diffusion",
            "stable-diffusion-xl-diffusers" if "xl" in base_model_repo else "stable-diffusion-diffusers",
            "text-to-image", "diffusers"] + (["lora", "template:sd-lora"] if lora else ["dreambooth"])
    y = "---\n" + "tags:\n" + "".join(f"- {t}\n" for t in tags) + f"base_model: {base_model_repo}\ninstance_prompt: {instance_prompt}\nlicense: openrail++\n---\n"
    return y + f"\n# {title}\n\n{body}\n\n## Trigger words\n\nYou should use {instance_prompt} to trigger the image generation.\n"


def unet_config(base):
    if base == "sdxl":
        return {"_class_name": "UNet2DConditionModel", "_diffusers_version": "0.25.0", "act_fn": "silu",
                "addition_embed_type": "text_time", "addition_embed_type_num_heads": 64, "addition_time_embed_dim": 256,
                "attention_head_dim": [5, 10, 20], "block_out_channels": [320, 640, 1280], "center_input_sample": False,
                "cross_attention_dim": 2048, "down_block_types": ["DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"],
                "downsample_padding": 1, "flip_sin_to_cos": True, "freq_shift": 0, "in_channels": 4, "layers_per_block": 2,
                "mid_block_scale_factor": 1, "norm_eps": 1e-05, "norm_num_groups": 32, "out_channels": 4,
                "projection_class_embeddings_input_dim": 2816, "sample_size": 128,
                "transformer_layers_per_block": [1, 2, 10],
                "up_block_types": ["CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"], "use_linear_projection": True}
    cfg = {"_class_name": "UNet2DConditionModel", "_diffusers_version": "0.21.4", "act_fn": "silu",
           "attention_head_dim": 8 if base == "sd15" else [5, 10, 20, 20], "block_out_channels": [320, 640, 1280, 1280],
           "center_input_sample": False, "cross_attention_dim": CTX[base],
           "down_block_types": ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
           "downsample_padding": 1, "flip_sin_to_cos": True, "freq_shift": 0, "in_channels": 4, "layers_per_block": 2,
           "mid_block_scale_factor": 1, "norm_eps": 1e-05, "norm_num_groups": 32, "out_channels": 4,
           "sample_size": 64 if base == "sd15" else 96,
           "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"]}
    if base == "sd21":
        cfg["use_linear_projection"] = True
    return cfg


def model_index(base):
    if base == "sdxl":
        return {"_class_name": "StableDiffusionXLPipeline", "_diffusers_version": "0.25.0", "force_zeros_for_empty_prompt": True,
                "scheduler": ["diffusers", "EulerDiscreteScheduler"], "text_encoder": ["transformers", "CLIPTextModel"],
                "text_encoder_2": ["transformers", "CLIPTextModelWithProjection"], "tokenizer": ["transformers", "CLIPTokenizer"],
                "tokenizer_2": ["transformers", "CLIPTokenizer"], "unet": ["diffusers", "UNet2DConditionModel"],
                "vae": ["diffusers", "AutoencoderKL"]}
    return {"_class_name": "StableDiffusionPipeline", "_diffusers_version": "0.21.4",
            "feature_extractor": ["transformers", "CLIPImageProcessor"], "requires_safety_checker": False,
            "safety_checker": [None, None], "scheduler": ["diffusers", "PNDMScheduler" if base == "sd15" else "DDIMScheduler"],
            "text_encoder": ["transformers", "CLIPTextModel"], "tokenizer": ["transformers", "CLIPTokenizer"],
            "unet": ["diffusers", "UNet2DConditionModel"], "vae": ["diffusers", "AutoencoderKL"]}


def text_encoder_config(base):
    hid = {"sd15": 768, "sd21": 1024, "sdxl": 768}[base]
    return {"_name_or_path": "openai/clip-vit-large-patch14" if hid == 768 else "laion/CLIP-ViT-H-14-laion2B-s32B-b79K",
            "architectures": ["CLIPTextModel"], "hidden_act": "quick_gelu" if hid == 768 else "gelu",
            "hidden_size": hid, "intermediate_size": hid * 4, "max_position_embeddings": 77, "model_type": "clip_text_model",
            "num_attention_heads": hid // 64, "num_hidden_layers": 12 if hid == 768 else 23, "projection_dim": 768 if hid == 768 else 1024,
            "torch_dtype": "float16", "vocab_size": 49408}


def write_json(p, obj, indent=2):
    ensure_parent(p)
    Path(p).write_text(json.dumps(obj, ensure_ascii=False, indent=indent) + "\n", encoding="utf-8")


def build_tags(e, rng):
    n = int(e.get("n_images") or rng.integers(14, 48))
    e["n_images"] = n
    freq = {}
    if e.get("tag_trigger"):
        freq[e["tag_trigger"]] = n
    if e.get("class_token"):
        freq[e["class_token"]] = n - int(rng.integers(0, 3))
    for t in e.get("extra_tags", []):
        freq[t] = int(rng.integers(max(1, n // 5), n))
    return freq


def infer_base_from_header(h):
    """Independent base-model probe from tensor names/shapes (used only for self-checks)."""
    shapes = {k: v.get("shape") for k, v in h.items() if k != "__metadata__"}
    if "clip_l" in shapes and "clip_g" in shapes:
        return "sdxl"
    if "emb_params" in shapes or len(shapes) == 1:
        d = list(shapes.values())[0][-1]
        return {768: "sd15", 1024: "sd21"}.get(d)
    for k in shapes:
        if k.startswith(("lora_te1_", "lora_te2_", "text_encoder_2.", "conditioner.embedders.1")):
            return "sdxl"
    for k, s in shapes.items():
        if ("attn2.to_k" in k or "attn2_to_k" in k or "attn2.processor.to_k_lora" in k) and ("lora_down" in k or "lora_A" in k or "hada_w1_b" in k or ".down." in k):
            return {768: "sd15", 1024: "sd21", 2048: "sdxl"}[s[-1]]
        if k.endswith("attn2.to_k.weight") and len(s) == 2:
            return {768: "sd15", 1024: "sd21", 2048: "sdxl"}[s[-1]]
    return None


def write_jsonl(p, rows):
    with open(p, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def report(summary, problems):
    """Print a world's summary; exit 1 listing the self-check problems, if any."""
    print(json.dumps(summary, ensure_ascii=False, indent=1))
    if problems:
        print("PROBLEMS:")
        for p in problems:
            print("  ", p)
        sys.exit(1)
    print("ok")
