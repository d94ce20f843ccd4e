"""An adversarial corpus of checkpoint files, built here so the loader tests need no downloads.

Each builder writes one file that a careless or hostile source could hand a user: pickles that
crash numpy, ask for gigabytes from a few bytes, nest without end, or declare network settings
their tensors contradict; torch files whose storages lie about their size; safetensors whose
metadata does. `CASES` maps a case name to (builder, words the refusal must contain).
"""

from __future__ import annotations

import codecs
import io
import json
import pickle
import struct
import zipfile
from collections import OrderedDict
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from safetensors.torch import save_file

from explorer.nets import build_generator
from tests import checkpoint_builders as cb

class Call:
    """Pickles as `func(*args)`, optionally followed by BUILD with `state`."""

    def __init__(self, func: Any, *args: Any, state: Any = None) -> None:
        self.func, self.args, self.state = func, args, state

    def __reduce__(self) -> tuple:
        return (self.func, self.args) if self.state is None else (self.func, self.args, self.state)


def _numpy_function(module: str, name: str) -> Any:
    import importlib
    for base in ("numpy._core", "numpy.core"):
        try:
            return getattr(importlib.import_module(f"{base}.{module}"), name)
        except (ImportError, AttributeError):
            continue
    raise ImportError(name)


RECONSTRUCT = _numpy_function("multiarray", "_reconstruct")
SCALAR = _numpy_function("multiarray", "scalar")
FROMBUFFER = _numpy_function("numeric", "_frombuffer")


def _dtype_with_state(spec: str, state: tuple) -> Call:
    """A numpy dtype exactly as numpy pickles one, but with a state of our choosing."""
    return Call(np.dtype, spec, False, True, state=state)


def object_field_array() -> Call:
    """An array whose dtype has an object field over raw bytes: reading it follows 0xdeadbeef."""
    dtype = _dtype_with_state("V8", (3, "|", None, ("a",), {"a": (np.dtype("O"), 0)}, 8, 1, 0))
    return Call(RECONSTRUCT, np.ndarray, (0,), b"b",
                state=(1, (1,), dtype, False, struct.pack("<Q", 0xDEADBEEF)))


def object_dtype_array() -> Call:
    """A plain object array whose state claims raw bytes instead of a list of objects."""
    dtype = _dtype_with_state("O8", (3, "|", None, None, None, -1, -1, 0))
    return Call(RECONSTRUCT, np.ndarray, (0,), b"b", state=(1, (2,), dtype, False, b"\xef\xbe\xad\xde" * 4))


def tiny_generator(architecture: str = "stylegan2") -> torch.nn.Module:
    torch.manual_seed(0)
    if architecture == "stylegan3":
        kwargs = dict(z_dim=8, c_dim=0, w_dim=8, img_resolution=16, img_channels=3, channel_base=64,
                      channel_max=8, num_layers=4, num_critical=1, mapping_kwargs=dict(num_layers=1))
    else:
        kwargs = dict(z_dim=8, c_dim=0, w_dim=8, img_resolution=16, img_channels=3, channel_base=64,
                      channel_max=8, mapping_kwargs=dict(num_layers=2))
    return build_generator(architecture, kwargs)


def snapshot(kwargs_update: dict[str, Any] | None = None, architecture: str = "stylegan2",
             **extra: Any) -> dict[str, Any]:
    """A valid tiny NVIDIA snapshot, its generator kwargs updated, with `extra` entries added."""
    g = tiny_generator(architecture)
    kwargs = {**g.init_kwargs, **(kwargs_update or {})}
    return {"G_ema": cb.nvidia_record(g.state_dict(), kwargs, ""), "augment_pipe": None, **extra}


def legacy_storage_bytes(dtype_name: str, declared: int, data: bytes, stored: int | None = None) -> bytes:
    """The payload of `torch.storage._load_from_bytes`: a pre-1.6 torch.save of one storage."""
    kind = getattr(torch, dtype_name)

    class _Marker:
        pass

    marker = _Marker()

    class _Pickler(pickle.Pickler):
        def persistent_id(self, obj: Any) -> Any:
            return ("storage", kind, "0", "cpu", declared, None) if obj is marker else None

    out = io.BytesIO()
    for value in (0x1950A86A20F9469CFC6C, 1001, {"protocol_version": 1001, "little_endian": True}):
        pickle.dump(value, out, protocol=2)
    _Pickler(out, protocol=2).dump(marker)
    pickle.dump(["0"], out, protocol=2)
    out.write(struct.pack("<q", declared if stored is None else stored) + data)
    return out.getvalue()


def torch_zip(pickled: bytes, records: dict[str, bytes], compress: bool = False) -> bytes:
    """A torch.save zip: archive/data.pkl plus archive/data/<key> records."""
    out = io.BytesIO()
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(out, "w", method) as archive:
        archive.writestr("archive/data.pkl", pickled)
        archive.writestr("archive/byteorder", "little")
        for key, data in records.items():
            archive.writestr(f"archive/data/{key}", data)
    return out.getvalue()


def zip_pickle(obj: Any, storages: dict[int, tuple[str, str, int]]) -> bytes:
    """Pickle `obj`, where id(x) in `storages` marks x as a storage reference (kind, key, numel)."""

    class _Pickler(pickle.Pickler):
        def persistent_id(self, value: Any) -> Any:
            found = storages.get(id(value))
            return None if found is None else ("storage", getattr(torch, found[0]), found[1], "cpu", found[2])

    out = io.BytesIO()
    _Pickler(out, protocol=2).dump(obj)
    return out.getvalue()


def _tensor_in_zip(numel_declared: int, data: bytes, compress: bool = False) -> bytes:
    marker = object()
    g_ema = {"style.1.weight": Call(torch._utils._rebuild_tensor_v2, marker, 0, (1,), (1,), False, OrderedDict())}
    pickled = zip_pickle({"g_ema": g_ema}, {id(marker): ("FloatStorage", "0", numel_declared)})
    return torch_zip(pickled, {"0": data}, compress)


def _patched_zip_directory_size(data: bytes, claimed: int) -> bytes:
    at = data.rfind(b"PK\x05\x06")
    return data[:at + 12] + struct.pack("<I", claimed) + data[at + 16:]


def safetensors_file(path: Path, kwargs: Any, architecture: str = "stylegan2", raw_kwargs: str | None = None) -> None:
    g = tiny_generator(architecture)
    tensors = {f"G_ema.{k}": v.contiguous() for k, v in g.state_dict().items()}
    metadata = {"format": "stylegan-explorer", "format_version": "1", "architecture": architecture,
                "generator_kwargs": raw_kwargs if raw_kwargs is not None else json.dumps({**g.init_kwargs, **kwargs}),
                "groups": json.dumps(["G_ema"])}
    save_file(tensors, str(path), metadata=metadata)


def rosinality_file(path: Path, extra_styles: int = 0, bad_shape: bool = False) -> None:
    g = tiny_generator()
    state = cb.nvidia_to_rosinality(g.state_dict(), 16)
    n = 2
    for i in range(extra_styles):
        state[f"style.{n + 1 + i}.weight"] = torch.zeros(8, 8)
        state[f"style.{n + 1 + i}.bias"] = torch.zeros(8)
    if bad_shape:
        state["style.2.weight"] = torch.zeros(8, 3)
    torch.save({"g_ema": state, "latent_avg": torch.zeros(8)}, path)


def tf_file(path: Path, static_kwargs: dict[str, Any]) -> None:
    net = cb.TFNetwork(version=4, name="Gs", static_kwargs=static_kwargs, components={}, variables=[])
    cb.write_pickle_of((net, net, net), path)


def _storage(numel: int) -> Call:
    return Call(torch.storage._load_from_bytes, legacy_storage_bytes("FloatStorage", numel, b"\0" * 4 * numel))


def _pickle(obj: Any) -> Callable[[Path], None]:
    return lambda path: cb.write_pickle_of(obj, path)


def _raw(data: bytes) -> Callable[[Path], None]:
    return lambda path: path.write_bytes(data)


def _nested(depth: int) -> bytes:
    return b"\x80\x04" + b"]" * depth + b"a" * (depth - 1) + b"."


def _laughs() -> list:
    x: list = [None]
    for _ in range(64):
        x = [x, x]
    return x


def _self_containing() -> dict:
    d: dict = {}
    d["self"] = d
    return d


_MIB = 2**20
_BIG_LIST = list(range(200_000))
_PAIRS = [(i, i) for i in range(100_000)]
_ONE_MIB_TEXT = "x" * _MIB
_ONE_MIB_STORAGE = legacy_storage_bytes("FloatStorage", _MIB // 4, b"\0" * _MIB)

# case -> (builder writing the file, words the one-line refusal must contain)
CASES: dict[str, tuple[Callable[[Path], None], str]] = {
    # numpy arrays that are not plain numbers
    "object-field array (top level)": (_pickle(object_field_array()), "numpy dtype 'V8'"),
    "object-field array in training_set_kwargs": (
        _pickle(snapshot(training_set_kwargs={"path": "x.zip", "labels": object_field_array()})), "numpy dtype 'V8'"),
    "object-dtype array over raw bytes": (_pickle(object_dtype_array()), "numpy dtype 'O8'"),
    # constructors that would take a size from the file
    "bytearray(3 GiB)": (_pickle(Call(bytearray, 3 << 30)), "builtins.bytearray"),
    "list(range(1e9))": (_pickle(Call(list, Call(range, 10**9))), "builtins.list"),
    "bytes(3 GiB)": (_pickle(Call(bytes, 3 << 30)), "bytes() with an argument"),
    "ndarray shape (1e9,)": (_pickle(Call(RECONSTRUCT, np.ndarray, (10**9,), b"b")), "numpy array other than"),
    "array state 1e10 floats over 4 bytes": (
        _pickle(Call(RECONSTRUCT, np.ndarray, (0,), b"b", state=(1, (100_000, 100_000), np.dtype("f4"), False, b"\0" * 4))),
        "needs 40000000000 bytes"),
    "_frombuffer shape (1e9,) over 4 bytes": (
        _pickle(Call(FROMBUFFER, bytearray(4), np.dtype("f4"), (10**9,), "C")), "needs 4000000000 bytes"),
    "numpy scalar with 1 MiB of data": (_pickle(Call(SCALAR, np.dtype("f8"), b"\0" * _MIB)), "needs 8 bytes"),
    "torch.Size with 100 dimensions": (_pickle(Call(torch.Size, tuple(range(100)))), "invalid size"),
    "storage declaring 1e10 floats": (
        _pickle(Call(torch.storage._load_from_bytes, legacy_storage_bytes("FloatStorage", 10**10, b"\0" * 16))),
        "declare more bytes than the file holds"),
    "storage whose data count disagrees": (
        _pickle(Call(torch.storage._load_from_bytes, legacy_storage_bytes("FloatStorage", 4, b"\0" * 16, stored=5))),
        "holds 5 elements but is declared with 4"),
    "tensor view 1e10 elements over 1 float": (
        _pickle(Call(torch._utils._rebuild_tensor_v2,
                     Call(torch.storage._load_from_bytes, legacy_storage_bytes("FloatStorage", 1, b"\0" * 4)),
                     0, (100_000, 100_000), (0, 0), False, OrderedDict())), "does not fit its storage"),
    # BUILD (setting an object's state) on objects that must not take one
    "BUILD re-pointing a tensor at 1e10 elements": (
        _pickle(Call(torch._utils._rebuild_tensor_v2, _storage(1), 0, (1,), (1,), False, OrderedDict(),
                     state=(Call(torch._utils._rebuild_tensor_v2, _storage(1), 0, (1,), (1,), False, OrderedDict()),
                            0, (100_000, 100_000), (0, 0)))), "sets the state of a Tensor"),
    "BUILD of an object array on a plain ndarray": (
        _pickle(Call(FROMBUFFER, bytearray(8), np.dtype("f8"), (1,), "C", state=(1, (2,), "O", False, [1, 2]))),
        "sets the state of a ndarray"),
    "BUILD rewriting an allowed class for later loads": (
        _raw(b"\x80\x02cdnnlib.tflib.network\nNetwork\n(N}X\x01\x00\x00\x00xK\x01stb."), "sets the state of a type"),
    # memo re-use: one copy in the file, hundreds of copies in memory
    "1 MiB storage re-used 500 times": (
        _pickle([Call(torch.storage._load_from_bytes, _ONE_MIB_STORAGE) for _ in range(500)]), "memory budget"),
    "1 MiB string encoded 1000 times": (
        _pickle([Call(codecs.encode, _ONE_MIB_TEXT, "latin1") for _ in range(1000)]), "memory budget"),
    "set of 200k items built 500 times": (_pickle([Call(set, _BIG_LIST) for _ in range(500)]), "memory budget"),
    "frozenset of 200k items built 500 times": (
        _pickle([Call(frozenset, _BIG_LIST) for _ in range(500)]), "memory budget"),
    "OrderedDict of 100k pairs built 500 times": (
        _pickle([Call(OrderedDict, _PAIRS) for _ in range(500)]), "memory budget"),
    # opcodes that make the C unpickler allocate from a number
    "memo slot 2**31": (_raw(b"\x80\x04N" + b"r" + struct.pack("<I", 2**31 - 1) + b"."), "memo slot"),
    "bytes8 claiming 3 GiB": (_raw(b"\x80\x04\x8e" + struct.pack("<Q", 3 << 30) + b"abc."), "truncated"),
    "frame claiming 3 GiB": (_raw(b"\x80\x04\x95" + struct.pack("<Q", 3 << 30) + b"N."), "truncated"),
    "3 million empty dicts": (_raw(b"\x80\x04" + b"}" * 3_000_000 + b"."), "memory budget"),
    # nesting
    "lists nested 1000 deep": (_raw(_nested(1000)), "nested more than"),
    "lists nested 1 million deep": (_raw(_nested(1_000_000)), "memory budget"),
    "dict containing itself": (_pickle(snapshot(training_set_kwargs=_self_containing())), "contains itself"),
    "2**64 items through shared lists": (_pickle(snapshot(training_set_kwargs={"x": _laughs()})), "expands to more than 1,000,000"),
    # network settings the tensors contradict, or out of any sane range (pickle)
    "pkl channel_max 6000": (_pickle(snapshot({"channel_base": 2**20, "channel_max": 6000})), "settings imply [6000"),
    "pkl mapping num_layers 1e7": (_pickle(snapshot({"mapping_kwargs": {"num_layers": 10**7}})), "num_layers=10000000"),
    "pkl img_resolution 3000": (_pickle(snapshot({"img_resolution": 3000})), "power of two"),
    "pkl z_dim -1": (_pickle(snapshot({"z_dim": -1})), "z_dim=-1"),
    "pkl w_dim 4096 (tensors have 8)": (_pickle(snapshot({"w_dim": 4096})), "settings imply"),
    "pkl StyleGAN3 num_layers 1e6": (_pickle(snapshot({"num_layers": 10**6}, "stylegan3")), "num_layers=1000000"),
    "pkl StyleGAN3 channel_max 6000": (_pickle(snapshot({"channel_base": 2**20, "channel_max": 6000}, "stylegan3")),
                                       "settings imply [6000"),
    "TF pickle resolution 'huge'": (lambda p: tf_file(p, {"resolution": "huge"}), "unreadable TensorFlow"),
    "TF pickle 10 million mapping layers": (lambda p: tf_file(p, {"mapping_layers": 10**7, "resolution": 16}),
                                            "num_layers=10000000"),
    # the same in .safetensors metadata
    "safetensors channel_max 6000": (lambda p: safetensors_file(p, {"channel_base": 2**20, "channel_max": 6000}), "settings imply [6000"),
    "safetensors mapping num_layers 1e7": (
        lambda p: safetensors_file(p, {"mapping_kwargs": {"num_layers": 10**7}}), "num_layers=10000000"),
    "safetensors img_resolution 3000": (lambda p: safetensors_file(p, {"img_resolution": 3000}), "power of two"),
    "safetensors StyleGAN3 num_layers 1e6": (
        lambda p: safetensors_file(p, {"num_layers": 10**6}, "stylegan3"), "num_layers=1000000"),
    "safetensors kwargs nested 100000 deep": (
        lambda p: safetensors_file(p, {}, raw_kwargs="[" * 100_000 + "]" * 100_000), "nested too deeply"),
    "safetensors kwargs not a table": (lambda p: safetensors_file(p, {}, raw_kwargs="[1, 2]"), "not a small table"),
    # rosinality / torch zip files
    "rosinality with 70 mapping layers": (lambda p: rosinality_file(p, extra_styles=68), "num_layers=70"),
    "rosinality with a mis-shaped layer": (lambda p: rosinality_file(p, bad_shape=True), "settings imply"),
    "torch zip storage declaring 1e9 floats": (_raw(_tensor_in_zip(10**9, b"\0" * 16)), "declared with 4000000000"),
    "torch zip deflate bomb (100 MiB of zeros)": (
        _raw(_tensor_in_zip(25 * _MIB, b"\0" * (100 * _MIB), compress=True)), "memory budget"),
    "torch zip asking for bytearray": (
        _raw(torch_zip(pickle.dumps({"g_ema": Call(bytearray, 3 << 30)}, protocol=2), {})), "builtins.bytearray"),
    "torch zip directory claiming 4 GiB": (
        _raw(_patched_zip_directory_size(_tensor_in_zip(4, b"\0" * 16), 2**32 - 1)), "zip directory claims"),
    "legacy torch file declaring 1e10 floats": (
        _raw(legacy_storage_bytes("FloatStorage", 10**10, b"\0" * 16)), "declare more bytes than the file holds"),
}
