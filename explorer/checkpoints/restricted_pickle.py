"""Unpickle NVIDIA network pickles as plain data, without running anything they carry.

A normal `pickle.load` of an NVIDIA snapshot `exec`s the Python source embedded in each network
record, and any pickle can name an arbitrary callable (`os.system`, `builtins.exec`) to be run
while loading. This unpickler resolves only an allow-list of globals: NVIDIA's persistence
records become `PersistentRecord`s (the source is kept as inert text), TF-era networks become
`TFNetworkRecord`s, and tensors, numpy values and containers are rebuilt by the same functions
torch and numpy use. Every other global is refused with a `CheckpointError`.
"""

from __future__ import annotations

import builtins
import codecs
import collections
import importlib
import io
import pickle
import re
import warnings
from dataclasses import dataclass
from typing import Any, BinaryIO, Callable

import numpy as np
import torch

from explorer.errors import CheckpointError


@dataclass
class PersistentRecord:
    """One NVIDIA network object: its class name, its module's source (never executed) and __dict__."""

    class_name: str
    module_src: str
    state: dict[str, Any]


class TFNetworkRecord:
    """Stands in for `dnnlib.tflib.network.Network`; pickle fills `state` through __setstate__."""

    def __init__(self) -> None:
        self.state: dict[str, Any] = {}

    def __setstate__(self, state: Any) -> None:
        if not isinstance(state, dict):
            raise CheckpointError("malformed TensorFlow network record in the pickle")
        self.state = state


class AttrDict(dict):
    """Stands in for `dnnlib.util.EasyDict`: only its dict contents matter."""


def _persistent_record(meta: Any) -> PersistentRecord:
    """Replaces `torch_utils.persistence._reconstruct_persistent_obj`: keep the record, run nothing."""
    if not isinstance(meta, dict) or meta.get("type") != "class" or not isinstance(meta.get("state"), dict):
        raise CheckpointError("malformed NVIDIA persistence record in the pickle")
    src = meta.get("module_src")
    return PersistentRecord(class_name=str(meta.get("class_name", "")),
                            module_src=src if isinstance(src, str) else "",
                            state=meta["state"])


def _storage_from_bytes(data: bytes) -> Any:
    """Replaces `torch.storage._load_from_bytes`, whose own torch.load would trust the bytes."""
    if not isinstance(data, (bytes, bytearray)):
        raise CheckpointError("malformed tensor storage in the pickle")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TypedStorage deprecation chatter from old formats
        try:
            return torch.load(io.BytesIO(bytes(data)), map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as e:
            raise CheckpointError(f"refusing to load: a tensor storage in the pickle "
                                  f"{describe_weights_only_refusal(e)}") from e


def _latin1_encode(text: str, encoding: str = "utf-8") -> bytes:
    """Python 2-era pickles spell bytes as `_codecs.encode(text, 'latin1')`; allow only that."""
    if encoding not in ("latin1", "latin-1"):
        raise CheckpointError(f"refusing to load: the pickle asks for the {encoding!r} codec")
    return codecs.encode(text, "latin1")


def _numpy_function(module: str, name: str) -> Any:
    """numpy 2 moved `numpy.core` to `numpy._core`; resolve from whichever this numpy has."""
    for base in ("numpy._core", "numpy.core"):
        try:
            return getattr(importlib.import_module(f"{base}.{module}"), name)
        except (ImportError, AttributeError):
            continue
    raise ImportError(f"numpy has no {module}.{name}")


def _allowed_globals() -> dict[tuple[str, str], Callable[..., Any] | type]:
    allowed: dict[tuple[str, str], Any] = {
        ("torch_utils.persistence", "_reconstruct_persistent_obj"): _persistent_record,
        ("dnnlib.util", "EasyDict"): AttrDict,
        ("dnnlib.tflib.network", "Network"): TFNetworkRecord,
        ("torch.storage", "_load_from_bytes"): _storage_from_bytes,
        ("torch._utils", "_rebuild_tensor"): torch._utils._rebuild_tensor,
        ("torch._utils", "_rebuild_tensor_v2"): torch._utils._rebuild_tensor_v2,
        ("torch._utils", "_rebuild_parameter"): torch._utils._rebuild_parameter,
        ("torch._utils", "_rebuild_parameter_with_state"): torch._utils._rebuild_parameter_with_state,
        ("torch", "Size"): torch.Size,
        ("torch", "device"): torch.device,
        ("collections", "OrderedDict"): collections.OrderedDict,
        ("_codecs", "encode"): _latin1_encode,
        ("numpy", "dtype"): np.dtype,
        ("numpy", "ndarray"): np.ndarray,
    }
    for module, name in (("multiarray", "scalar"), ("multiarray", "_reconstruct"),
                         ("numeric", "_frombuffer")):
        function = _numpy_function(module, name)
        for spelling in ("numpy.core", "numpy._core"):  # pickles name whichever numpy wrote them
            allowed[(f"{spelling}.{module}", name)] = function
    for name in ("set", "frozenset", "list", "dict", "tuple", "int", "float", "complex", "bool",
                 "str", "bytes", "bytearray", "slice", "range"):
        allowed[("builtins", name)] = getattr(builtins, name)
    return allowed


class RestrictedUnpickler(pickle.Unpickler):
    """A pickle.Unpickler that resolves only `_allowed_globals()` (plus torch dtypes)."""

    def __init__(self, file: BinaryIO) -> None:
        super().__init__(file)
        self._allowed = _allowed_globals()

    def find_class(self, module: str, name: str) -> Any:
        found = self._allowed.get((module, name))
        if found is not None:
            return found
        if module == "torch" and isinstance(getattr(torch, name, None), torch.dtype):
            return getattr(torch, name)
        raise CheckpointError(f"refusing to load: the pickle asks for {module}.{name}, which a "
                              "network pickle never needs (it could run code)")

    def persistent_load(self, pid: Any) -> Any:
        raise CheckpointError("refusing to load: the pickle uses persistent ids, which network "
                              "pickles never do")


def load_restricted(file: BinaryIO) -> Any:
    """Unpickle `file` with the allow-list; truncation and corruption become CheckpointError."""
    try:
        return RestrictedUnpickler(file).load()
    except CheckpointError:
        raise
    except EOFError as e:
        raise CheckpointError("the pickle ends too early; the file is truncated") from e
    except (pickle.UnpicklingError, ValueError, TypeError, KeyError, IndexError, AttributeError,
            RuntimeError, OverflowError, MemoryError, UnicodeDecodeError) as e:
        raise CheckpointError(f"the pickle is damaged: {_first_line(e)}") from e


def describe_weights_only_refusal(e: pickle.UnpicklingError) -> str:
    """torch's weights-only refusals run to many lines; name just the global it refused."""
    found = re.search(r"GLOBAL (\S+)", str(e))
    what = found.group(1) if found else "an object"
    return f"asks for {what}, which plain tensor data never needs (it could run code)"


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__
