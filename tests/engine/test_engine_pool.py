"""The pipeline pool: LRU by bytes, LoRA swaps on one resident base, one generation per device at a time."""
from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import torch

torch.set_num_threads(1)  # the test machine is shared; oversubscribed threads make tiny models crawl

from engine import loading, lora  # noqa: E402
from engine.pipeline_tiny import build_tiny_pipeline, write_single_file_checkpoint, write_tiny_lora  # noqa: E402
from engine.pool import ModelRef, PipelinePool, pipeline_bytes  # noqa: E402


@pytest.fixture(scope="module")
def files(tiny_pipe, tmp_path_factory):
    root = tmp_path_factory.mktemp("pool")
    pipe = tiny_pipe
    return {
        "pipe": pipe,
        "ckpt": write_single_file_checkpoint(pipe, root / "base.safetensors"),
        "lora_a": write_tiny_lora(pipe, root / "a.safetensors", "kohya", seed=11),
        "lora_b": write_tiny_lora(pipe, root / "b.safetensors", "diffusers", seed=12),
    }


def image(pipe, prompt="a photo of a dog"):
    gen = torch.Generator().manual_seed(0)
    return pipe(prompt, num_inference_steps=2, height=64, width=64, generator=gen, output_type="np").images[0]


def seeded_loader(path, ref, dtype):
    """Real tiny pipelines, one seed per name: cheaper than loading files for the LRU test."""
    return build_tiny_pipeline(seed=int(str(path).rsplit("-", 1)[-1]))


def test_budget_evicts_least_recently_used():
    one = pipeline_bytes(build_tiny_pipeline())
    pool = PipelinePool(budget_bytes=int(2.5 * one), loader=seeded_loader)
    refs = [ModelRef(path=f"/models/m-{i}") for i in range(3)]
    first = pool.get(refs[0])
    pool.get(refs[1])
    assert pool.get(refs[0]) is first and pool.loads == 2  # resident: no reload; now most recent
    pool.get(refs[2])  # over budget: m-1 is least recently used
    assert [k[0].rsplit("-", 1)[-1] for k in pool.resident()] == ["0", "2"]
    assert pool.used_bytes <= pool.budget_bytes
    pool.get(refs[1])
    assert pool.loads == 4
    pool.clear()
    assert pool.resident() == []


def test_lora_swap_on_pooled_base_equals_fresh_load(files):
    pool = PipelinePool(budget_bytes=2**30)
    lora_a = ModelRef(path=str(files["lora_a"]), kind="lora", base_model="sd15", base_path=str(files["ckpt"]))
    lora_b = ModelRef(path=str(files["lora_b"]), kind="lora", base_model="sd15", base_path=str(files["ckpt"]))
    base = ModelRef(path=str(files["ckpt"]), kind="checkpoint")
    with pool.session(lora_a) as pipe:
        img_a = image(pipe)
    with pool.session(lora_b) as pipe:
        img_b = image(pipe)
    with pool.session(base) as pipe:
        img_base = image(pipe)
    with pool.session(lora_a) as pipe:
        img_a_again = image(pipe)
    assert pool.loads == 1 and len(pool.resident()) == 1  # one resident base served all four
    fresh_b = loading.load_pipeline(files["lora_b"], "lora", "sd15", base_path=files["ckpt"])
    np.testing.assert_allclose(img_b, image(fresh_b), atol=1e-6)
    np.testing.assert_allclose(img_base, image(files["pipe"]), atol=1e-6)
    np.testing.assert_allclose(img_a, img_a_again, atol=1e-6)
    assert np.abs(img_a - img_b).max() > 0.01


def test_lora_swap_on_quantized_pooled_base_equals_fresh_quantize(files):
    """TAQ int8 base: LoRAs go on as hooks over the quantized layers; the base is quantized once."""
    from engine.quantize import apply_quant_spec, quant_spec_of

    pool = PipelinePool(budget_bytes=2**30)
    ref = lambda lora: ModelRef(path=str(files[lora]), kind="lora", base_path=str(files["ckpt"]), quant_spec="taq-w8a8")  # noqa: E731
    with pool.session(ref("lora_a")) as pipe:
        assert quant_spec_of(pipe) == "taq-w8a8"
        img_a = image(pipe)
    with pool.session(ref("lora_b")) as pipe:
        img_b = image(pipe)
    assert pool.loads == 1 and np.abs(img_a - img_b).max() > 0.01
    fresh = loading.load_base(files["ckpt"])
    apply_quant_spec(fresh, "taq-w8a8")
    lora.apply_lora(fresh, files["lora_b"])
    np.testing.assert_allclose(img_b, image(fresh), atol=1e-6)
    again = PipelinePool(budget_bytes=2**30)  # a new pool reads the quantize-on-import artifact
    with again.session(ref("lora_b")) as pipe:
        np.testing.assert_allclose(image(pipe), img_b, atol=1e-6)


def test_two_loras_at_once_each_with_its_weight_on_one_resident_base(files):
    """A subject and a style together: both hooks add up; weights matter; dropping one gives the other alone."""
    pool = PipelinePool(budget_bytes=2**30)
    a, b = str(files["lora_a"]), str(files["lora_b"])
    ref = lambda **kw: ModelRef(path=a, kind="lora", base_path=str(files["ckpt"]), **kw)  # noqa: E731
    with pool.session(ref()) as pipe:
        img_a = image(pipe)
    with pool.session(ref(addons=(("lora", b, 1.0),))) as pipe:
        img_ab = image(pipe)
    with pool.session(ref(addons=(("lora", b, 0.3),))) as pipe:
        img_ab_light = image(pipe)
    with pool.session(ref()) as pipe:
        img_a_again = image(pipe)
    assert pool.loads == 1
    np.testing.assert_allclose(img_a, img_a_again, atol=1e-6)  # the style went away with its chip
    assert np.abs(img_ab - img_a).max() > 0.01 and np.abs(img_ab - img_ab_light).max() > 0.001
    fresh = loading.load_base(files["ckpt"])
    lora.apply_loras(fresh, [(a, 1.0), (b, 1.0)])
    np.testing.assert_allclose(img_ab, image(fresh), atol=1e-6)  # the same as both applied by hand


def test_addon_without_base_is_a_clear_error(files):
    pool = PipelinePool(budget_bytes=2**30)
    with pytest.raises(loading.BaseModelMissing, match="sd15"):
        pool.get(ModelRef(path=str(files["lora_a"]), kind="lora", base_model="sd15"))


def test_one_generation_per_device_others_queue_in_order():
    pool = PipelinePool(budget_bytes=2**34, loader=seeded_loader)
    ref = ModelRef(path="/models/m-0")
    pool.get(ref)
    running, peak, order = [0], [0], []
    guard = threading.Lock()

    def worker(i):
        with pool.session(ref):
            with guard:
                running[0] += 1
                peak[0] = max(peak[0], running[0])
                order.append(i)
            time.sleep(0.05)
            with guard:
                running[0] -= 1

    threads = []
    for i in range(4):
        threads.append(threading.Thread(target=worker, args=(i,)))
        threads[-1].start()
        time.sleep(0.01)  # arrive in order
    for t in threads:
        t.join(10)
    assert peak[0] == 1 and sorted(order) == [0, 1, 2, 3]
    assert order == [0, 1, 2, 3]


def test_a_loading_warning_is_told_once_by_take_warning(monkeypatch):
    """A full cache while quantizing: the pool keeps the warning beside the entry (not on the pipeline)
    and the first generation on it takes it; the next one is not told again."""
    import types

    from engine import artifacts

    def quantized_in_memory(source, spec, load_source, dtype, device):
        pipe = load_source()
        return types.SimpleNamespace(unet=pipe.unet, seconds=0.0, reason="test", warning="not kept: cache full")

    monkeypatch.setattr(artifacts, "quantize_on_import", quantized_in_memory)
    pool = PipelinePool(budget_bytes=2**30, loader=seeded_loader)
    ref = ModelRef(path="/models/m-0", quant_spec="taq-w8a8")
    with pool.session(ref) as pipe:
        assert pool.take_warning(ref) == "not kept: cache full"
        assert "_pq_warning" not in pipe.__dict__
    assert pool.take_warning(ref) is None
    assert pool.take_warning(ModelRef(path="/models/never-loaded")) is None
