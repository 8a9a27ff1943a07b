"""Quantization specs by name (`taq-w4a8`, `quanto-w8`, ...): adding one is one function + one entry.

A spec is plain data; engine/quantize.py applies it. No torch here.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class QuantSpec:
    """What to do to a UNet. method: none | quanto | taq (own int8/int4 layers + TAQ attn2 processor)."""

    name: str
    method: str
    weight_bits: int | None = None  # 8 or 4 for Linear/Conv weights
    act_bits: int | None = None  # static, calibrated activation fake-quant of layer inputs
    group_size: int = 128  # int4 weights: one fp16 scale per this many inputs
    protect_trigger: bool = False  # keep trigger K/V rows and prob columns in compute dtype
    kv_bits: int | None = None  # per-token-row K/V quantization in attn2
    prob_bits: int | None = None  # attention-probability quantization in attn2
    prob_quantizer: str = "linear"  # linear | log2
    kv_weights_high_precision: bool = True  # attn2 to_k/to_v stay float (computed once per prompt)
    kv_weights_dtype: str = "float16"  # storage dtype of those high-precision to_k/to_v weights
    cache_kv: bool = True  # compute attn2 K/V once per prompt
    # layers whose input activation stays float (weights still quantized): conv_in reads the noisy latent
    # itself, and one int8 scale over it cost most of the w8a8 loss (docs/decisions.md, variant taq-w8a8-qin)
    float_inputs: tuple[str, ...] = ("conv_in",)
    # which of a prompt's triggers TAQ keeps (PROTECTED_TRIGGERS): "all" of them (a subject's and a style's
    # alike), or only the "first" one, the subject's, as TAQ did before composition (the ablation of #30)
    protected_triggers: str = "all"

    def __post_init__(self):
        if self.protected_triggers not in PROTECTED_TRIGGERS:
            raise ValueError(f"unknown protected_triggers {self.protected_triggers!r}; known: {', '.join(PROTECTED_TRIGGERS)}")

    @property
    def calibrated(self) -> bool:
        return bool(self.act_bits)

    def to_dict(self) -> dict:
        """JSON-shaped (tuples as lists), so a spec read back from an artifact manifest compares equal.

        A field added after artifacts were first written is left out while at its default, so those
        artifacts stay valid (protected_triggers changes which positions are kept per prompt, not the weights).
        """
        out = {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}
        for key, default in _ADDED_LATER.items():
            if out.get(key) == default:
                del out[key]
        return out

    def protected(self, triggers: list[str]) -> list[str]:
        """The triggers (in the request's order: the subject's first) whose token positions TAQ keeps."""
        return PROTECTED_TRIGGERS[self.protected_triggers](list(triggers))


# which triggers of a prompt TAQ keeps in high precision, by name: one function each
PROTECTED_TRIGGERS = {
    "all": lambda triggers: triggers,
    "first": lambda triggers: triggers[:1],
}
_ADDED_LATER = {"protected_triggers": "all"}


def spec_none() -> QuantSpec:
    """Unquantized baseline."""
    return QuantSpec("none", "none")


def spec_quanto_w8() -> QuantSpec:
    """optimum-quanto qint8 weights (per-channel), float activations."""
    return QuantSpec("quanto-w8", "quanto", weight_bits=8)


def spec_quanto_w4() -> QuantSpec:
    """Plain int4 weights (group-wise, packed), float activations, every layer incl. attn2 K/V.

    Stored by our own packed-int4 layers, not quanto's qint4, which compiles a C++ extension on first use
    (docs/decisions.md).
    """
    return QuantSpec("quanto-w4", "taq", weight_bits=4, kv_weights_high_precision=False, cache_kv=False)


# int4 group size of the a8 specs (naive and TAQ alike, so the ablation differs only in protection):
# one fp16 scale per 32 weights, as llama.cpp's Q4_0 (docs/decisions.md, variant taq-w4a8-g128).
A8_INT4_GROUP = 32


def _taq(name: str, weight_bits: int, act_bits: int, protect: bool, **extra) -> QuantSpec:
    extra.setdefault("group_size", A8_INT4_GROUP)
    return QuantSpec(name, "taq", weight_bits=weight_bits, act_bits=act_bits, protect_trigger=protect,
                     kv_bits=act_bits, prob_bits=act_bits, **extra)


def spec_naive_w8a8() -> QuantSpec:
    """W8A8 with K/V rows and probabilities quantized everywhere (the ablation: no trigger protection)."""
    return _taq("naive-w8a8", 8, 8, protect=False)


def spec_naive_w4a8() -> QuantSpec:
    """W4A8, no trigger protection."""
    return _taq("naive-w4a8", 4, 8, protect=False)


def spec_taq_w8a8() -> QuantSpec:
    """W8A8 with trigger K/V rows and probability columns kept in compute dtype."""
    return _taq("taq-w8a8", 8, 8, protect=True)


def spec_taq_w4a8() -> QuantSpec:
    """W4A8 (group-wise int4 weights) with trigger protection."""
    return _taq("taq-w4a8", 4, 8, protect=True)


def spec_taq_w8a8_first() -> QuantSpec:
    """taq-w8a8 keeping only the first trigger (the subject's) of a composed prompt: what protecting every
    trigger buys over protecting the main concept's alone."""
    return _taq("taq-w8a8-first", 8, 8, protect=True, protected_triggers="first")


def spec_taq_w4a8_first() -> QuantSpec:
    """taq-w4a8 keeping only the first trigger of a composed prompt."""
    return _taq("taq-w4a8-first", 4, 8, protect=True, protected_triggers="first")


def spec_taq_w4a8_kvq() -> QuantSpec:
    """taq-w4a8 with attn2 to_k/to_v weights quantized too (measures what keeping them float costs)."""
    return _taq("taq-w4a8-kvq", 4, 8, protect=True, kv_weights_high_precision=False)


def spec_taq_w4a8_log() -> QuantSpec:
    """taq-w4a8 with the log2 probability quantizer instead of the linear one."""
    return _taq("taq-w4a8-log", 4, 8, protect=True, prob_quantizer="log2")


def spec_taq_w4a8_g128() -> QuantSpec:
    """taq-w4a8 with one int4 scale per 128 weights (what the group size of 32 buys)."""
    return _taq("taq-w4a8-g128", 4, 8, protect=True, group_size=128)


def spec_taq_w8a8_qin() -> QuantSpec:
    """taq-w8a8 with the UNet's first conv reading an int8 latent too (what `float_inputs` buys)."""
    return _taq("taq-w8a8-qin", 8, 8, protect=True, float_inputs=())


def spec_taq_w8a4() -> QuantSpec:
    """The paper's W8A4 setting: 4-bit activations, log2 probability quantizer."""
    return _taq("taq-w8a4", 8, 4, protect=True, prob_quantizer="log2")


def spec_naive_w8a4() -> QuantSpec:
    """W8A4 without trigger protection (ablation of taq-w8a4)."""
    return _taq("naive-w8a4", 8, 4, protect=False, prob_quantizer="log2")


SPECS = {
    "none": spec_none,
    "quanto-w8": spec_quanto_w8,
    "quanto-w4": spec_quanto_w4,
    "naive-w8a8": spec_naive_w8a8,
    "naive-w4a8": spec_naive_w4a8,
    "taq-w8a8": spec_taq_w8a8,
    "taq-w4a8": spec_taq_w4a8,
    "taq-w8a8-first": spec_taq_w8a8_first,
    "taq-w4a8-first": spec_taq_w4a8_first,
    "taq-w4a8-kvq": spec_taq_w4a8_kvq,
    "taq-w4a8-log": spec_taq_w4a8_log,
    "taq-w4a8-g128": spec_taq_w4a8_g128,
    "taq-w8a8-qin": spec_taq_w8a8_qin,
    "taq-w8a4": spec_taq_w8a4,
    "naive-w8a4": spec_naive_w8a4,
}

# the names the issue fixes; the others are measurement variants
CORE_SPECS = ("none", "quanto-w8", "quanto-w4", "naive-w8a8", "naive-w4a8", "taq-w8a8", "taq-w4a8")


class UnknownQuantSpec(ValueError):
    pass


def get_spec(spec: str | QuantSpec) -> QuantSpec:
    """Resolve a spec name (or pass a QuantSpec through); unknown names raise with the known list."""
    if isinstance(spec, QuantSpec):
        return spec
    if spec not in SPECS:
        raise UnknownQuantSpec(f"unknown quant spec {spec!r}; known: {', '.join(SPECS)}")
    return SPECS[spec]()
