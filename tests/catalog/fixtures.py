"""Write tiny but realistically shaped model files, sidecars and hostile files for catalog tests.

No torch: safetensors through common.tensor_files (zero data), hostile ones byte by byte, and
torch zip pickles (.pt/.ckpt) with a small opcode writer, exactly as torch.save lays them out.
Identifying tensors keep their real shapes (cross-attention 768/1024/2048, text widths
768/1024/1280); LoRA ranks are 1-2 so every file stays a few KB.

    expected = write_library(root)      # {relative path (NFC): {kind, base_model, format, ...}}
    hostile = write_hostile_files(root) # {relative path: substring the probe error must contain}
"""
from __future__ import annotations

import calendar
import json
import struct
import time
import zipfile
from pathlib import Path

from bench.corpus.formats import checkpoint_tensors
from common.tensor_files import write_zero_safetensors as write_safetensors
from common.tensor_files import zero_safetensors_bytes as safetensors_bytes

# ---------------------------------------------------------------------------------------------
# torch zip pickles, written opcode by opcode (protocol 2, the layout torch.save uses)

class Global:
    """A pickle GLOBAL reference, e.g. Global('torch._utils', '_rebuild_tensor_v2')."""

    def __init__(self, module: str, name: str):
        self.module, self.name = module, name


class Call:
    """GLOBAL + args tuple + REDUCE: how pickles spell a function call."""

    def __init__(self, func: Global, *args):
        self.func, self.args = func, args


class FakeTensor:
    def __init__(self, shape, storage="HalfStorage", key="0"):
        self.shape, self.storage, self.key = tuple(shape), storage, key


class PickleWriter:
    """Emit pickle opcodes for dicts/str/int/float/bool/None/tuple/list, tensors and raw calls."""

    ITEMSIZE = {"HalfStorage": 2, "FloatStorage": 4, "BFloat16Storage": 2}

    def __init__(self):
        self.out = bytearray(b"\x80\x02")
        self.storages: dict[str, int] = {}  # key -> nbytes

    def dump(self, obj) -> bytes:
        self.write(obj)
        self.out += b"."
        return bytes(self.out)

    def write(self, obj):
        o = self.out
        if obj is None:
            o += b"N"
        elif obj is True:
            o += b"\x88"
        elif obj is False:
            o += b"\x89"
        elif isinstance(obj, int):
            if -(2 ** 31) <= obj < 2 ** 31:
                o += b"J" + struct.pack("<i", obj)
            else:
                data = obj.to_bytes((obj.bit_length() + 8) // 8, "little", signed=True)
                o += b"\x8a" + bytes([len(data)]) + data
        elif isinstance(obj, float):
            o += b"G" + struct.pack(">d", obj)
        elif isinstance(obj, str):
            data = obj.encode("utf-8")
            o += b"X" + struct.pack("<I", len(data)) + data
        elif isinstance(obj, tuple):
            o += b"("
            for item in obj:
                self.write(item)
            o += b"t"
        elif isinstance(obj, list):
            o += b"]("
            for item in obj:
                self.write(item)
            o += b"e"
        elif isinstance(obj, dict):
            o += b"}"
            if obj:
                o += b"("
                for k, v in obj.items():
                    self.write(k)
                    self.write(v)
                o += b"u"
        elif isinstance(obj, Global):
            o += b"c" + f"{obj.module}\n{obj.name}\n".encode()
        elif isinstance(obj, Call):
            self.write(obj.func)
            self.write(tuple(obj.args))
            o += b"R"
        elif isinstance(obj, FakeTensor):
            self._tensor(obj)
        else:
            raise TypeError(f"cannot write {type(obj)}")

    def _tensor(self, t: FakeTensor):
        numel = 1
        for s in t.shape:
            numel *= s
        stride, acc = [], 1
        for s in reversed(t.shape):
            stride.insert(0, acc)
            acc *= s
        self.storages[t.key] = numel * self.ITEMSIZE[t.storage]
        o = self.out
        self.write(Global("torch._utils", "_rebuild_tensor_v2"))
        o += b"("
        self.write(("storage", Global("torch", t.storage), t.key, "cpu", numel))
        o += b"Q"  # BINPERSID
        self.write(0)
        self.write(tuple(t.shape))
        self.write(tuple(stride))
        self.write(False)
        self.write(Call(Global("collections", "OrderedDict")))
        o += b"tR"


def torch_zip_bytes(obj, archive: str = "archive") -> bytes:
    """A torch.save-style zip: archive/data.pkl + archive/data/<key> + version/byteorder."""
    import io

    writer = PickleWriter()
    pkl = writer.dump(obj)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr(f"{archive}/data.pkl", pkl)
        zf.writestr(f"{archive}/byteorder", "little")
        for key, nbytes in writer.storages.items():
            zf.writestr(f"{archive}/data/{key}", bytes(nbytes))
        zf.writestr(f"{archive}/version", "3\n")
    return buf.getvalue()


def write_torch_zip(path: Path, obj) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(torch_zip_bytes(obj, archive=path.stem))
    return path


# ---------------------------------------------------------------------------------------------
# identifying tensor sets

def kohya_lora(base: str, rank: int = 2, te: bool = True, algo: str = "lora") -> dict:
    ctx = {"sd15": 768, "sd21": 1024, "sdxl": 2048}[base]
    if base == "sdxl":
        unet = "lora_unet_input_blocks_4_1_transformer_blocks_0_attn2_to_k"
        q_out = 640
    else:
        unet = "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k"
        q_out = 320
    t: dict = {f"{unet}.alpha": ([], "F16")}
    if algo == "loha":
        t.update({f"{unet}.hada_w1_a": ([q_out, rank], "F16"), f"{unet}.hada_w1_b": ([rank, ctx], "F16"),
                  f"{unet}.hada_w2_a": ([q_out, rank], "F16"), f"{unet}.hada_w2_b": ([rank, ctx], "F16")})
    else:
        t.update({f"{unet}.lora_down.weight": ([rank, ctx], "F16"), f"{unet}.lora_up.weight": ([q_out, rank], "F16")})
    if algo == "locon":
        conv = "lora_unet_down_blocks_0_resnets_0_conv1" if base != "sdxl" else "lora_unet_input_blocks_1_0_in_layers_2"
        t[f"{conv}.lora_down.weight"] = ([rank, 320, 3, 3], "F16")
        t[f"{conv}.lora_up.weight"] = ([320, rank, 1, 1], "F16")
        t[f"{conv}.alpha"] = ([], "F16")
    if te:
        if base == "sdxl":
            for prefix, width in (("lora_te1", 768), ("lora_te2", 1280)):
                key = f"{prefix}_text_model_encoder_layers_0_self_attn_q_proj"
                t[f"{key}.lora_down.weight"] = ([rank, width], "F16")
                t[f"{key}.lora_up.weight"] = ([width, rank], "F16")
        else:
            width = 768 if base == "sd15" else 1024
            key = "lora_te_text_model_encoder_layers_0_self_attn_q_proj"
            t[f"{key}.lora_down.weight"] = ([rank, width], "F16")
            t[f"{key}.lora_up.weight"] = ([width, rank], "F16")
    return t


def peft_lora(base: str, rank: int = 2, prefix: str = "unet.") -> dict:
    ctx = {"sd15": 768, "sd21": 1024, "sdxl": 2048}[base]
    block = "down_blocks.1.attentions.0.transformer_blocks.0.attn2.to_k"
    return {f"{prefix}{block}.lora_A.weight": ([rank, ctx], "F16"), f"{prefix}{block}.lora_B.weight": ([640, rank], "F16")}


def peft_legacy(base: str, rank: int = 2) -> dict:
    ctx = {"sd15": 768, "sd21": 1024, "sdxl": 2048}[base]
    key = "down_blocks.0.attentions.0.transformer_blocks.0.attn2.processor.to_k_lora"
    return {f"{key}.down.weight": ([rank, ctx], "F16"), f"{key}.up.weight": ([320, rank], "F16")}


def kohya_metadata(output_name: str, token: str, cls: str = "", base: str = "sd15", started: float | None = None,
                   comment: str = "None", extra: dict | None = None) -> dict[str, str]:
    folder = f"10_{token} {cls}".strip()
    tags = {token: 20, **({cls: 19} if cls else {}), "smile": 12, "outdoors": 7}
    meta = {
        "ss_output_name": output_name, "ss_network_module": "networks.lora", "ss_network_dim": "2",
        "ss_network_alpha": "1.0", "ss_training_comment": comment,
        "ss_base_model_version": {"sd15": "sd_v1", "sd21": "sd_v2", "sdxl": "sdxl_base_v1-0"}[base],
        "ss_tag_frequency": json.dumps({folder: tags}), "ss_dataset_dirs": json.dumps({folder: {"n_repeats": 10, "img_count": 20}}),
        "ss_resolution": "(512, 512)",
    }
    if started is not None:
        meta["ss_training_started_at"] = str(started)
        meta["ss_training_finished_at"] = str(started + 3600)
    meta.update(extra or {})
    return meta


def _json(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=4, ensure_ascii=False), encoding="utf-8")


def _ts(iso: str) -> float:
    return float(calendar.timegm(time.strptime(iso, "%Y-%m-%dT%H:%M:%S")))


PNG_1PX = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                        "1f15c4890000000d4944415478da63f8cfc0f01f0005000201a5f1d9b90000000049454e44ae426082")


# ---------------------------------------------------------------------------------------------
# the library

def write_library(root) -> dict[str, dict]:
    """Write one file per supported format (+ sidecars) under root; return the expected cards by relative path."""
    root = Path(root)
    exp: dict[str, dict] = {}

    def add(rel, kind, base, fmt, name, triggers, **more):
        exp[rel] = dict(kind=kind, base_model=base, format=fmt, name=name, triggers=triggers, **more)

    # kohya LoRAs, one per base, with name/trigger/version/date from the header only
    write_safetensors(root / "Lora/pets/rex_corgi_v2.safetensors", kohya_lora("sd15"),
                      kohya_metadata("rex_corgi_v2", "rxcorgi", "dog", started=_ts("2024-03-05T10:00:00")))
    add("Lora/pets/rex_corgi_v2.safetensors", "lora", "sd15", "kohya", "rex_corgi_v2", ["rxcorgi"],
        version_number=2.0, created="2024-03-05")
    write_safetensors(root / "Lora/sd2/fern_fronds.safetensors", kohya_lora("sd21"),
                      kohya_metadata("fern_run", "fernfrnd", base="sd21", comment="Fern fronds in mist. trigger: fernfrnd"))
    add("Lora/sd2/fern_fronds.safetensors", "lora", "sd21", "kohya", "fern_run", ["fernfrnd"])
    write_safetensors(root / "Lora/xl/harbor_lights_xl.safetensors", kohya_lora("sdxl"),
                      {**kohya_metadata("harbor_lights_xl", "hbrlights", base="sdxl"),
                       "modelspec.sai_model_spec": "1.0.0", "modelspec.architecture": "stable-diffusion-xl-v1-base/lora",
                       "modelspec.title": "Harbor Lights XL v3", "modelspec.trigger_phrase": "hbrlights, harbor at night",
                       "modelspec.date": "2025-06-01T09:30:00", "modelspec.description": "Night harbor lights.",
                       "modelspec.tags": "night, harbor"})
    add("Lora/xl/harbor_lights_xl.safetensors", "lora", "sdxl", "kohya", "Harbor Lights XL v3",
        ["hbrlights", "harbor at night"], version_number=3.0, created="2025-06-01")
    # LyCORIS
    write_safetensors(root / "Lora/lyco/moss_loha.safetensors", kohya_lora("sd15", algo="loha", te=False),
                      kohya_metadata("moss_loha", "mossy", extra={"ss_network_module": "lycoris.kohya"}))
    add("Lora/lyco/moss_loha.safetensors", "lora", "sd15", "kohya_loha", "moss_loha", ["mossy"])
    write_safetensors(root / "Lora/lyco/sparks_locon.safetensors", kohya_lora("sdxl", algo="locon"), {})
    add("Lora/lyco/sparks_locon.safetensors", "lora", "sdxl", "kohya_locon", "sparks_locon", [])
    # A1111 + civitai sidecars, a preview, a txt
    write_safetensors(root / "Lora/people/nora.safetensors", kohya_lora("sd15"),
                      kohya_metadata("nora_run3", "nrgirl", "woman"))
    _json(root / "Lora/people/nora.json", {"description": "My niece Nora.", "sd version": "SD1",
                                           "activation text": "nrgirl, red scarf", "notes": "v3"})
    (root / "Lora/people/nora.preview.png").write_bytes(PNG_1PX)
    add("Lora/people/nora.safetensors", "lora", "sd15", "kohya", "nora_run3", ["nrgirl", "red scarf"],
        description="My niece Nora.", preview="Lora/people/nora.preview.png", sidecars=["Lora/people/nora.json"])
    write_safetensors(root / "Lora/styles/inkWash_v20XL.safetensors", kohya_lora("sdxl", te=False), {})
    _json(root / "Lora/styles/inkWash_v20XL.civitai.info", {
        "name": "v2.0 XL", "createdAt": "2025-02-03T04:05:06.789Z", "trainedWords": ["inkwsh"], "baseModel": "SDXL 1.0",
        "description": "<p>Sumi-e <b>ink wash</b>.</p>", "model": {"name": "Ink Wash", "type": "LORA", "tags": ["style", "ink"]}})
    add("Lora/styles/inkWash_v20XL.safetensors", "lora", "sdxl", "kohya", "Ink Wash", ["inkwsh"],
        version_number=2.0, created="2025-02-03", description="Sumi-e ink wash.", tags=["style", "ink"])
    write_safetensors(root / "Lora/styles/mosaicTiles_v12.safetensors", kohya_lora("sd15", te=False), {})
    add("Lora/styles/mosaicTiles_v12.safetensors", "lora", "sd15", "kohya", "mosaicTiles_v12", [], version_number=1.2)
    write_safetensors(root / "Lora/styles/plain_txt.safetensors", kohya_lora("sd15", te=False), {})
    (root / "Lora/styles/plain_txt.txt").write_text("Watercolor wash. trigger: wtrclr", encoding="utf-8")
    add("Lora/styles/plain_txt.safetensors", "lora", "sd15", "kohya", "plain_txt", ["wtrclr"])
    # a placeholder modelspec title falls back to ss_output_name
    write_safetensors(root / "Lora/misc/placeholder.safetensors", kohya_lora("sd15"),
                      {**kohya_metadata("kite_flyer", "kiteflr"), "modelspec.title": "LoRA@1709251200.4471",
                       "modelspec.architecture": "stable-diffusion-v1/lora"})
    add("Lora/misc/placeholder.safetensors", "lora", "sd15", "kohya", "kite_flyer", ["kiteflr"])
    # diffusers / PEFT layouts
    write_safetensors(root / "diffusers/lantern-lora/pytorch_lora_weights.safetensors", peft_lora("sd15"),
                      {"format": "pt"})
    (root / "diffusers/lantern-lora/README.md").write_text(
        "---\nbase_model: runwayml/stable-diffusion-v1-5\ninstance_prompt: a photo of lntrn lantern\ntags:\n- lora\n"
        "- lanterns\n---\n\n# LoRA DreamBooth - lantern-lora\n\nPaper lanterns at dusk.\n", encoding="utf-8")
    add("diffusers/lantern-lora/pytorch_lora_weights.safetensors", "lora", "sd15", "peft", "lantern-lora", ["lntrn"],
        description="Paper lanterns at dusk.")
    write_safetensors(root / "Lora/old/duck_legacy.safetensors", peft_legacy("sd21"), None)
    add("Lora/old/duck_legacy.safetensors", "lora", "sd21", "peft_legacy", "duck_legacy", [])
    write_safetensors(root / "adapters/tulips/adapter_model.safetensors", peft_lora("sdxl", prefix="base_model.model."), None)
    _json(root / "adapters/tulips/adapter_config.json", {"peft_type": "LORA", "r": 2, "lora_alpha": 2,
                                                          "base_model_name_or_path": "stabilityai/stable-diffusion-xl-base-1.0"})
    add("adapters/tulips/adapter_model.safetensors", "lora", "sdxl", "peft_adapter", "tulips", [])
    # textual inversions
    write_torch_zip(root / "embeddings/glowcat.pt", {
        "string_to_token": {"*": 265}, "string_to_param": {"*": FakeTensor((4, 768), "FloatStorage")},
        "name": "glowcat_old", "step": 1200, "sd_checkpoint": "6ce0161689", "sd_checkpoint_name": "v1-5-pruned-emaonly"})
    add("embeddings/glowcat.pt", "textual_inversion", "sd15", "ti_pt", "glowcat", ["glowcat"])
    write_safetensors(root / "embeddings/sd2/frost.safetensors", {"emb_params": ([3, 1024], "F32")}, {})
    add("embeddings/sd2/frost.safetensors", "textual_inversion", "sd21", "ti_st", "frost", ["frost"])
    write_safetensors(root / "embeddings/xl/prism.safetensors", {"clip_l": ([2, 768], "F32"), "clip_g": ([2, 1280], "F32")})
    add("embeddings/xl/prism.safetensors", "textual_inversion", "sdxl", "ti_xl", "prism", ["prism"])
    write_safetensors(root / "embeddings/amber/learned_embeds.safetensors", {"<amber-resin>": ([768], "F32")})
    add("embeddings/amber/learned_embeds.safetensors", "textual_inversion", "sd15", "ti_diffusers", "amber",
        ["<amber-resin>"])
    write_safetensors(root / "embeddings/negative/ugly_hands_neg.safetensors", {"emb_params": ([8, 768], "F16")},
                      {"modelspec.is_negative_embedding": "True", "modelspec.architecture": "stable-diffusion-v1/textual-inversion"})
    add("embeddings/negative/ugly_hands_neg.safetensors", "textual_inversion", "sd15", "ti_st", "ugly_hands_neg",
        ["ugly_hands_neg"], is_negative_embedding=True)
    # full checkpoints
    write_safetensors(root / "Stable-diffusion/toycar_sd15.safetensors", checkpoint_tensors("sd15"), {})
    _json(root / "Stable-diffusion/toycar_sd15.json", {"description": "DreamBooth of my toy car.",
                                                       "notes": "instance prompt: tcar toy"})
    add("Stable-diffusion/toycar_sd15.safetensors", "checkpoint", "sd15", "ckpt_st", "toycar_sd15", ["tcar", "tcar toy"])
    write_safetensors(root / "Stable-diffusion/dunes_sd21.safetensors", checkpoint_tensors("sd21"),
                      {"modelspec.architecture": "stable-diffusion-v2-768-v", "modelspec.prediction_type": "v"})
    add("Stable-diffusion/dunes_sd21.safetensors", "checkpoint", "sd21", "ckpt_st", "dunes_sd21", [], prediction_type="v")
    write_safetensors(root / "Stable-diffusion/xl/loft_xl.safetensors", checkpoint_tensors("sdxl"),
                      {"modelspec.title": "Loft XL", "modelspec.trigger_phrase": "loftxl"})
    add("Stable-diffusion/xl/loft_xl.safetensors", "checkpoint", "sdxl", "ckpt_st", "Loft XL", ["loftxl"])
    write_safetensors(root / "Stable-diffusion/inpaint/porch_inpainting.safetensors", checkpoint_tensors("sd15", 9), {})
    add("Stable-diffusion/inpaint/porch_inpainting.safetensors", "checkpoint", "sd15", "ckpt_st", "porch_inpainting", [],
        variant="inpaint")
    ckpt_state = {"model.diffusion_model.input_blocks.0.0.weight": FakeTensor((320, 4, 3, 3), key="0"),
                  "cond_stage_model.model.ln_final.weight": FakeTensor((1024,), key="1")}
    write_torch_zip(root / "Stable-diffusion/canyon_sd21.ckpt", {"epoch": 3, "global_step": 1500, "state_dict": ckpt_state})
    _json(root / "Stable-diffusion/canyon_sd21.json", {"description": "Slot canyon.", "notes": "token: cnynslot"})
    add("Stable-diffusion/canyon_sd21.ckpt", "checkpoint", "sd21", "ckpt_pickle", "canyon_sd21", ["cnynslot"])
    # a VAE
    write_safetensors(root / "VAE/soft_vae.safetensors", {"encoder.conv_in.weight": ([128, 3, 3, 3], "F16"),
                                                         "decoder.conv_out.weight": ([3, 128, 3, 3], "F16")})
    add("VAE/soft_vae.safetensors", "vae", "unknown", "vae", "soft_vae", [])
    # a diffusers pipeline folder (ONE entry)
    folder = root / "diffusers/models/owl-dreambooth"
    _json(folder / "model_index.json", {"_class_name": "StableDiffusionXLPipeline", "unet": ["diffusers", "UNet2DConditionModel"],
                                        "text_encoder_2": ["transformers", "CLIPTextModelWithProjection"]})
    _json(folder / "unet/config.json", {"_class_name": "UNet2DConditionModel", "cross_attention_dim": 2048, "in_channels": 4})
    _json(folder / "scheduler/scheduler_config.json", {"prediction_type": "epsilon"})
    write_safetensors(folder / "unet/diffusion_pytorch_model.fp16.safetensors",
                      {"down_blocks.1.attentions.0.transformer_blocks.0.attn2.to_k.weight": ([640, 2048], "F16")})
    (folder / "README.md").write_text("---\ninstance_prompt: a photo of owlbk owl\n---\n\n# DreamBooth - owl\n\nOur barn owl.\n",
                                      encoding="utf-8")
    add("diffusers/models/owl-dreambooth", "diffusers_model", "sdxl", "diffusers_folder", "owl-dreambooth", ["owlbk"],
        description="Our barn owl.", prediction_type="epsilon")
    # a non-ASCII name
    write_safetensors(root / "Lora/family/abuela_María.safetensors", kohya_lora("sd15"),
                      kohya_metadata("abuela_maría", "abuelamaria", "woman"))
    add("Lora/family/abuela_María.safetensors", "lora", "sd15", "kohya", "abuela_maría", ["abuelamaria"])
    return exp


# ---------------------------------------------------------------------------------------------
# broken and hostile files

def hostile_pickle(action: str, marker: Path) -> bytes:
    """A pickle that would create `marker` if unpickled with the standard loader."""
    w = PickleWriter()
    if action == "open":
        payload = Call(Global("builtins", "open"), str(marker), "w")
    elif action == "system":
        payload = Call(Global("os", "system"), f"touch '{marker}'")
    elif action == "subprocess":
        payload = Call(Global("subprocess", "call"), ["touch", str(marker)])
    elif action == "nested":  # hidden inside an otherwise normal state dict
        payload = {"state_dict": {"w": FakeTensor((2, 2))}, "callbacks": Call(Global("builtins", "open"), str(marker), "w")}
    else:
        raise ValueError(action)
    return w.dump(payload)


def write_hostile_files(root) -> dict[str, str]:
    """Write broken/hostile model files; return {relative path: text the probe error must contain}."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    out: dict[str, str] = {}
    marker_dir = root / "markers"
    marker_dir.mkdir(exist_ok=True)

    def put(rel: str, data: bytes, expect: str):
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
        out[rel] = expect

    good = safetensors_bytes({"emb_params": ([2, 768], "F16")})
    put("broken/empty.safetensors", b"", "too short")
    put("broken/short.safetensors", b"\x01\x02\x03", "too short")
    put("broken/len_past_end.safetensors", struct.pack("<Q", 5000) + b"{}", "past the end")
    put("broken/len_huge.safetensors", struct.pack("<Q", 200_000_000) + b"{}", "over 100000000")
    put("broken/len_max.safetensors", b"\xff" * 8 + b"{}", "over 100000000")
    put("broken/not_json.safetensors", struct.pack("<Q", 6) + b"{nope!", "not JSON")
    put("broken/not_utf8.safetensors", struct.pack("<Q", 4) + b"\xff\xfe\xfd\xfc", "not JSON")
    put("broken/json_list.safetensors", struct.pack("<Q", 2) + b"[]", "not an object")
    hdr = json.dumps({"w": {"dtype": "F16", "shape": [4, 4], "data_offsets": [0, 999999]}}).encode()
    put("broken/offsets_outside.safetensors", struct.pack("<Q", len(hdr)) + hdr + bytes(32), "outside the file")
    hdr = json.dumps({"w": {"dtype": "F16", "shape": [4, 4], "data_offsets": [-8, 32]}}).encode()
    put("broken/offsets_negative.safetensors", struct.pack("<Q", len(hdr)) + hdr + bytes(32), "outside the file")
    hdr = json.dumps({"w": {"dtype": "F16", "shape": "big", "data_offsets": [0, 32]}}).encode()
    put("broken/bad_shape.safetensors", struct.pack("<Q", len(hdr)) + hdr + bytes(32), "bad shape")
    hdr = json.dumps({"w": {"dtype": "F16", "shape": [4, 4], "data_offsets": [0, 30]}, "__metadata__": {"a": "b"}}).encode()
    put("broken/size_mismatch.safetensors", struct.pack("<Q", len(hdr)) + hdr + bytes(30), "does not match")
    hdr = json.dumps({"w": {"dtype": "F16", "shape": [1], "data_offsets": [0, 2]}, "__metadata__": ["x"]}).encode()
    put("broken/meta_list.safetensors", struct.pack("<Q", len(hdr)) + hdr + bytes(2), "__metadata__")
    put("broken/truncated_data.safetensors", good[:-10], "outside the file")
    # pickles
    put("hostile/open.pt", _zip_with_pkl(hostile_pickle("open", marker_dir / "open.txt")),
        "unsafe pickle: builtins.open")
    put("hostile/system.ckpt", _zip_with_pkl(hostile_pickle("system", marker_dir / "system.txt")), "unsafe pickle: os.system")
    put("hostile/subprocess.bin", _zip_with_pkl(hostile_pickle("subprocess", marker_dir / "subprocess.txt")),
        "unsafe pickle: subprocess.call")
    put("hostile/nested.ckpt", _zip_with_pkl(hostile_pickle("nested", marker_dir / "nested.txt")),
        "unsafe pickle: builtins.open")
    put("hostile/legacy_open.pt", hostile_pickle("open", marker_dir / "legacy_open.txt"), "unsafe pickle: builtins.open")
    put("hostile/ext_opcode.pt", b"\x80\x02\x82\x01.", "extension opcode")
    put("broken/garbage.ckpt", b"this is not a pickle at all" * 10, "not a pickle")
    put("broken/zip_no_pkl.pt", _zip_with({"archive/data/0": b"\x00" * 4}), "without data.pkl")
    put("broken/truncated.ckpt", torch_zip_bytes({"w": FakeTensor((2, 2))})[:60], "")
    put("broken/bad_pkl.pt", _zip_with({"archive/data.pkl": b"\x80\x02}(X\x01\x00\x00\x00a"}), "malformed pickle")
    return out


def hostile_markers(root) -> list[Path]:
    """Files the hostile pickles would create if they were ever executed."""
    d = Path(root) / "markers"
    return [d / n for n in ("open.txt", "system.txt", "subprocess.txt", "nested.txt", "legacy_open.txt")]


def _zip_with(entries: dict[str, bytes]) -> bytes:
    import io

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _zip_with_pkl(pkl: bytes) -> bytes:
    return _zip_with({"archive/data.pkl": pkl, "archive/version": b"3\n"})
