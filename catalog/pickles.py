"""Read torch pickles (.ckpt/.pt/.bin/.pth) without executing them.

A pickle is a program: unpickling one with the standard loader can run any callable it names
(os.system, builtins.open, ...). This module never does that. Its unpickler resolves globals
only from a short allow-list, and even those are replaced by inert stand-ins: a tensor becomes
a `TensorInfo` (shape + dtype name, no data), a storage a `StorageRef`. Anything else stops
the read with `UnsafePickle("unsafe pickle: module.name")`. Before unpickling, an opcode scan
(pickletools) rejects the copyreg extension opcodes, which name globals by number.
"""
from __future__ import annotations

import io
import pickle
import pickletools
import zipfile
from collections import OrderedDict
from dataclasses import dataclass

MAX_PICKLE_BYTES = 64 * 1024 * 1024  # a real SDXL .ckpt data.pkl is well under 2 MB
TORCH_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C


class PickleError(ValueError):
    """The file is not a pickle we can read (corrupt, truncated, not a torch file)."""


class UnsafePickle(PickleError):
    """The pickle names a global outside the allow-list; it was not executed."""


@dataclass(frozen=True)
class StorageRef:
    """Stand-in for a torch storage: its dtype name and nothing else."""

    dtype: str = ""


@dataclass
class TensorInfo:
    """Stand-in for a tensor: the shape and dtype read from `_rebuild_tensor_v2` arguments."""

    shape: tuple[int, ...]
    dtype: str = ""


class Inert:
    """Stand-in for a harmless known class (e.g. a Lightning callback); holds its state, runs nothing."""

    stand_in_for = "inert"

    def __new__(cls, *args, **_kw):  # NEWOBJ calls only __new__; arguments are kept, never interpreted
        obj = super().__new__(cls)
        obj.args, obj.state, obj.items = args, None, {}
        return obj

    def __init__(self, *args, **_kw):  # REDUCE calls the class
        pass

    def __setstate__(self, state):  # BUILD
        self.state = state

    def __setitem__(self, key, value):  # SETITEM(S) on dict subclasses such as ParameterDict
        self.items[key] = value

    def append(self, value):  # APPEND on list subclasses
        self.items[len(self.items)] = value

    def extend(self, values):
        for value in values:
            self.append(value)

    def contents(self) -> dict:
        """The dict-like payload: set items, a module's _parameters, or a dict state."""
        if self.items:
            return self.items
        state = self.state
        if isinstance(state, tuple) and state and isinstance(state[0], dict):
            state = state[0]
        if isinstance(state, dict):
            params = state.get("_parameters")
            return params if isinstance(params, dict) and params else state
        return {}

    def __repr__(self):
        return f"Inert({self.stand_in_for})"


def _rebuild_tensor(storage, storage_offset=0, size=(), stride=(), *_rest, **_kw):
    dtype = storage.dtype if isinstance(storage, StorageRef) else ""
    try:
        shape = tuple(int(s) for s in size)
    except (TypeError, ValueError):
        raise PickleError(f"tensor size is not a tuple of ints: {size!r}") from None
    return TensorInfo(shape=shape, dtype=dtype)


def _rebuild_parameter(data, *_rest, **_kw):
    if not isinstance(data, TensorInfo):
        raise PickleError("parameter without a tensor")
    return data


def _codecs_encode(obj, encoding="utf-8", errors="strict"):
    # numpy scalars in old checkpoints pickle their bytes through _codecs.encode(str, "latin1")
    if not isinstance(obj, str) or not isinstance(encoding, str):
        raise UnsafePickle("unsafe pickle: _codecs.encode with non-string arguments")
    return obj.encode(encoding, errors)


def _bytearray(source=b"", *args):
    # bytearray(10**12) would allocate: only copies of existing bytes/str/lists are allowed
    if isinstance(source, int):
        raise UnsafePickle("unsafe pickle: builtins.bytearray with a size")
    return bytearray(source, *args)


def _inert(name):
    """A fresh Inert subclass (NEWOBJ needs a type) named after what it stands in for."""
    return type(f"Inert_{name.replace('.', '_')}", (Inert,), {"stand_in_for": name})


_STORAGE_NAMES = {
    "FloatStorage": "F32", "HalfStorage": "F16", "BFloat16Storage": "BF16", "DoubleStorage": "F64",
    "LongStorage": "I64", "IntStorage": "I32", "ShortStorage": "I16", "CharStorage": "I8",
    "ByteStorage": "U8", "BoolStorage": "BOOL", "UntypedStorage": "", "Float8_e4m3fnStorage": "F8_E4M3",
    "Float8_e5m2Storage": "F8_E5M2",
}
_DTYPE_NAMES = {"float32": "F32", "float16": "F16", "bfloat16": "BF16", "float64": "F64", "int64": "I64",
                "int32": "I32", "int8": "I8", "uint8": "U8", "bool": "BOOL", "float": "F32", "half": "F16"}

ALLOWED: dict[tuple[str, str], object] = {
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    ("collections", "OrderedDict"): OrderedDict,
    ("_codecs", "encode"): _codecs_encode,
    ("torch", "Size"): tuple,
    ("builtins", "set"): set,  # protocol-2 pickles spell containers as calls
    ("builtins", "frozenset"): frozenset,
    ("builtins", "bytearray"): _bytearray,
    # Known data-only classes seen in real checkpoints/embeddings: rebuilt as inert records.
    ("torch.nn.modules.container", "ParameterDict"): _inert("ParameterDict"),
    ("pytorch_lightning.callbacks.model_checkpoint", "ModelCheckpoint"): _inert("ModelCheckpoint"),
    ("numpy.core.multiarray", "scalar"): _inert("numpy.scalar"),
    ("numpy._core.multiarray", "scalar"): _inert("numpy.scalar"),
    ("numpy", "dtype"): _inert("numpy.dtype"),
    ("numpy.core.multiarray", "_reconstruct"): _inert("numpy.ndarray"),
    ("numpy._core.multiarray", "_reconstruct"): _inert("numpy.ndarray"),
    ("numpy", "ndarray"): _inert("numpy.ndarray"),
}
for _name, _dt in _STORAGE_NAMES.items():
    ALLOWED[("torch", _name)] = StorageRef(_dt)
for _name, _dt in _DTYPE_NAMES.items():
    ALLOWED[("torch", _name)] = StorageRef(_dt)  # torch.float16 etc. as the dtype of an UntypedStorage

_FORBIDDEN_OPCODES = {"EXT1", "EXT2", "EXT4"}


class SafeUnpickler(pickle.Unpickler):
    """An unpickler that resolves only allow-listed globals, each to an inert stand-in."""

    def find_class(self, module, name):
        module = {"__builtin__": "builtins", "copy_reg": "copyreg"}.get(module, module)  # protocol-2 names
        try:
            return ALLOWED[(module, name)]
        except (KeyError, TypeError):
            raise UnsafePickle(f"unsafe pickle: {module}.{name}") from None

    def persistent_load(self, pid):
        # zip format: ('storage', storage_type, key, location, numel); legacy adds view metadata
        if isinstance(pid, tuple) and pid and pid[0] == "storage" and len(pid) >= 2:
            storage_type = pid[1]
            return storage_type if isinstance(storage_type, StorageRef) else StorageRef("")
        if isinstance(pid, tuple) and len(pid) >= 2 and pid[0] == "module":
            # legacy format names a module class this way; its class was already allow-listed by find_class
            cls = pid[1]
            return cls if isinstance(cls, type) and issubclass(cls, Inert) else Inert
        raise PickleError(f"unknown persistent id {str(pid)[:80]!r}")


def scan_opcodes(data: bytes) -> None:
    """Reject opcodes that resolve globals outside find_class; raise PickleError on garbage."""
    try:
        for opcode, _arg, _pos in pickletools.genops(data):
            if opcode.name in _FORBIDDEN_OPCODES:
                raise UnsafePickle(f"unsafe pickle: extension opcode {opcode.name}")
    except UnsafePickle:
        raise
    except Exception as exc:  # pickletools raises ValueError and friends on malformed input
        raise PickleError(f"malformed pickle: {exc}") from None


def loads_safe(data: bytes):
    """Unpickle bytes with the allow-list; the result holds only primitives and stand-ins."""
    scan_opcodes(data)
    return _load_one(io.BytesIO(data))


def _load_one(stream):
    try:
        return SafeUnpickler(stream, encoding="latin1").load()
    except PickleError:
        raise
    except RecursionError:
        raise PickleError("malformed pickle: nesting too deep") from None
    except Exception as exc:
        raise PickleError(f"malformed pickle: {type(exc).__name__}: {exc}") from None


def read_torch_file(path: str):
    """Return the object a torch.save file holds, with tensors as TensorInfo; never executes code."""
    try:
        is_zip = zipfile.is_zipfile(path)
    except OSError as exc:
        raise PickleError(f"cannot read {path}: {exc}") from None
    if is_zip:
        return _read_zip(path)
    return _read_legacy(path)


def _read_zip(path: str):
    try:
        with zipfile.ZipFile(path) as zf:
            names = [n for n in zf.namelist() if n.endswith("data.pkl")]
            if not names:
                raise PickleError(f"{path}: zip archive without data.pkl (not a torch file)")
            name = min(names, key=len)
            info = zf.getinfo(name)
            if info.file_size > MAX_PICKLE_BYTES:
                raise PickleError(f"{path}: data.pkl is {info.file_size} bytes (over {MAX_PICKLE_BYTES})")
            data = zf.read(name)
    except PickleError:
        raise
    except (zipfile.BadZipFile, OSError, RuntimeError, ValueError, EOFError) as exc:
        raise PickleError(f"{path}: broken zip archive: {exc}") from None
    return loads_safe(data)


def _read_legacy(path: str):
    """Old torch.save format (magic, protocol, sys_info, object) or a plain pickle."""
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_PICKLE_BYTES + 1)
    except OSError as exc:
        raise PickleError(f"cannot read {path}: {exc}") from None
    if not data or data[:1] != b"\x80":
        raise PickleError(f"{path}: not a pickle or torch zip archive")
    stream = io.BytesIO(data)
    first_end = _pickle_end(data, 0)
    scan_opcodes(data[:first_end])
    first = _load_one(stream)
    if first != TORCH_LEGACY_MAGIC:
        return first  # a plain pickle of one object
    objects = []
    for _ in range(3):  # protocol version, sys_info, the object itself
        start = stream.tell()
        end = _pickle_end(data, start)
        scan_opcodes(data[start:end])
        objects.append(_load_one(stream))
    return objects[-1]


def _pickle_end(data: bytes, start: int) -> int:
    """Offset just past the STOP opcode of the pickle starting at `start`."""
    try:
        for opcode, _arg, pos in pickletools.genops(io.BytesIO(data[start:])):
            if opcode.name == "STOP":
                return start + pos + 1
    except Exception as exc:
        raise PickleError(f"malformed pickle: {exc}") from None
    raise PickleError("malformed pickle: no STOP opcode")


def flatten_tensors(obj, prefix: str = "", out: dict | None = None, depth: int = 0) -> dict[str, TensorInfo]:
    """Map dotted key paths to the TensorInfo leaves of nested dicts (state_dict, string_to_param, ...)."""
    out = {} if out is None else out
    if depth > 8:
        return out
    if isinstance(obj, Inert):
        obj = obj.contents()
    if isinstance(obj, TensorInfo):
        out[prefix] = obj
    elif isinstance(obj, dict):
        for key, value in obj.items():
            flatten_tensors(value, f"{prefix}.{key}" if prefix else str(key), out, depth + 1)
    return out


def scalar_fields(obj) -> dict[str, str]:
    """Top-level primitive fields of a pickled dict (e.g. a TI's `name`, `step`, `sd_checkpoint_name`)."""
    if not isinstance(obj, dict):
        return {}
    return {str(k): str(v) for k, v in obj.items() if isinstance(v, (str, int, float, bool))}
