"""Pickles are read without executing them: shapes come out, payloads never run."""
from __future__ import annotations

import pickle

import pytest

from catalog.pickles import (
    PickleError,
    TensorInfo,
    UnsafePickle,
    flatten_tensors,
    loads_safe,
    read_torch_file,
)
from catalog.probe import probe_path
from tests.catalog.fixtures import (
    FakeTensor,
    hostile_markers,
    hostile_pickle,
    torch_zip_bytes,
    write_hostile_files,
    write_library,
)


def test_payload_is_live_with_the_standard_loader(tmp_path):
    """Proves the hostile fixture really creates a file when unpickled the unsafe way."""
    marker = tmp_path / "pwned.txt"
    handle = pickle.loads(hostile_pickle("open", marker))
    handle.close()
    assert marker.exists()


@pytest.mark.parametrize("action,global_name", [("open", "builtins.open"), ("system", "os.system"),
                                                ("subprocess", "subprocess.call"), ("nested", "builtins.open")])
def test_hostile_payload_is_refused_and_not_run(tmp_path, action, global_name):
    marker = tmp_path / f"{action}.txt"
    data = hostile_pickle(action, marker)
    with pytest.raises(UnsafePickle, match=f"unsafe pickle: {global_name}"):
        loads_safe(data)
    assert not marker.exists()


def test_probing_hostile_files_creates_nothing(tmp_path):
    expected = write_hostile_files(tmp_path)
    for rel, needle in expected.items():
        probe = probe_path(tmp_path / rel)
        assert needle in (probe.error or ""), (rel, probe.error)
    for marker in hostile_markers(tmp_path):
        assert not marker.exists(), marker


def test_extension_opcodes_are_refused():
    with pytest.raises(UnsafePickle, match="extension opcode"):
        loads_safe(b"\x80\x02\x82\x01.")


def test_malformed_pickles_raise_pickle_error():
    for data in (b"", b"\x80\x02", b"\x80\x02}(X\x01\x00\x00\x00a", b"garbage"):
        with pytest.raises(PickleError):
            loads_safe(data)


def test_tensor_shapes_come_from_rebuild_arguments(tmp_path):
    path = tmp_path / "emb.pt"
    path.write_bytes(torch_zip_bytes({"string_to_param": {"*": FakeTensor((5, 1024), "FloatStorage")}, "name": "x"}))
    obj = read_torch_file(str(path))
    assert obj["string_to_param"]["*"] == TensorInfo(shape=(5, 1024), dtype="F32")
    assert flatten_tensors(obj) == {"string_to_param.*": TensorInfo(shape=(5, 1024), dtype="F32")}


def test_ckpt_and_ti_from_the_fixture_library(tmp_path):
    expected = write_library(tmp_path)
    for rel in ("embeddings/glowcat.pt", "Stable-diffusion/canyon_sd21.ckpt"):
        probe = probe_path(tmp_path / rel)
        assert (probe.kind, probe.base_model, probe.format) == (
            expected[rel]["kind"], expected[rel]["base_model"], expected[rel]["format"])
    assert probe_path(tmp_path / "embeddings/glowcat.pt").metadata["pickle.name"] == "glowcat_old"


def test_files_written_by_real_torch_save(tmp_path):
    """Zip and legacy torch.save files, Parameters, ParameterDict, bf16, views: shapes match torch's."""
    import collections

    import torch

    torch.set_num_threads(1)
    obj = {
        "string_to_param": torch.nn.ParameterDict({"*": torch.nn.Parameter(torch.zeros(3, 768))}),
        "state": collections.OrderedDict(a=torch.zeros(2, 3, dtype=torch.bfloat16), b=torch.zeros(8)[2:6]),
        "name": "x", "step": 7, "big": 2 ** 70, "blob": b"\x00\x01",
    }
    for zipped in (True, False):
        path = tmp_path / f"t{int(zipped)}.pt"
        torch.save(obj, path, _use_new_zipfile_serialization=zipped)
        shapes = {k: v.shape for k, v in flatten_tensors(read_torch_file(str(path))).items()}
        assert shapes == {"string_to_param.*": (3, 768), "state.a": (2, 3), "state.b": (4,)}, zipped
        probe = probe_path(path)
        assert (probe.kind, probe.base_model, probe.format) == ("textual_inversion", "sd15", "ti_pt")


def test_a_module_object_outside_the_allow_list_is_refused(tmp_path):
    import torch

    path = tmp_path / "model.pt"
    torch.save({"net": torch.nn.Linear(2, 2)}, path)  # pickles the class torch.nn.modules.linear.Linear
    probe = probe_path(path)
    assert probe.error == "unsafe pickle: torch.nn.modules.linear.Linear"
    assert probe.kind == "unknown"


def test_allowed_constructors_cannot_allocate_huge_buffers():
    from tests.catalog.fixtures import Call, Global, PickleWriter

    data = PickleWriter().dump(Call(Global("__builtin__", "bytearray"), 10 ** 12))
    with pytest.raises(UnsafePickle, match="bytearray"):
        loads_safe(data)
