"""Unpickle network checkpoints as plain data, without running anything they carry.

A normal `pickle.load` of an NVIDIA snapshot `exec`s the Python source embedded in each network
record, and any pickle can name an arbitrary callable (`os.system`, `builtins.exec`) to be run
while loading. This unpickler resolves only what a checkpoint needs, and each name resolves to a
stand-in that checks its arguments: NVIDIA's persistence records become `PersistentRecord`s (the
source is kept as inert text), TF-era networks `TFNetworkRecord`s, numpy values plain numeric
arrays (`safe_numpy`), tensors checked views of checked storages (`torch_storage`). Nothing that
takes a size from the file (`bytearray(n)`, `range`, an ndarray shape) is reachable, only those
stand-ins may have their state set, and the opcodes are scanned against the file's memory budget
before any of them runs (`pickle_limits`).
Every other global is refused with a `CheckpointError`.
"""

from __future__ import annotations

import _compat_pickle
import argparse
import codecs
import collections
import functools
import os
import pickle
import struct
from dataclasses import dataclass
from typing import Any, BinaryIO, Callable, Iterator

import torch

from explorer.checkpoints import safe_numpy
from explorer.checkpoints.load_budget import LoadBudget
from explorer.checkpoints.pickle_limits import check_structure, scan_opcodes, truncated_error
from explorer.checkpoints.torch_storage import (STORAGE_DTYPES, StorageKind, checked_device, checked_size,
                                                rebuild_parameter, rebuild_tensor)
from explorer.errors import CheckpointError

MAX_CONSTRUCTED_ITEMS = 1_000_000  # items one set/frozenset/OrderedDict call may copy
_ITEM_COST = 128


@dataclass
class PersistentRecord:
    """One NVIDIA network object: its class name, its module's source (never executed) and __dict__."""

    class_name: str
    module_src: str
    state: dict[str, Any]

    def pickled_children(self) -> Iterator[Any]:
        yield self.state


class TFNetworkRecord:
    """Stands in for `dnnlib.tflib.network.Network`; pickle fills `state` through __setstate__."""

    def __init__(self) -> None:
        self.state: dict[str, Any] = {}

    def __setstate__(self, state: Any) -> None:
        if not isinstance(state, dict):
            raise CheckpointError("malformed TensorFlow network record in the pickle")
        self.state = state

    def pickled_children(self) -> Iterator[Any]:
        yield self.state


class AttrDict(dict):
    """Stands in for `dnnlib.util.EasyDict`: only its dict contents matter."""


class NamespaceRecord(argparse.Namespace):
    """Stands in for `argparse.Namespace` (rosinality's training args): string keys, plain data."""

    def __setstate__(self, state: Any) -> None:
        if not isinstance(state, dict) or not all(isinstance(k, str) for k in state):
            raise CheckpointError("malformed argparse.Namespace in the checkpoint")
        self.__dict__.update(state)

    def pickled_children(self) -> Iterator[Any]:
        yield self.__dict__


def _persistent_record(meta: Any) -> PersistentRecord:
    """Replaces `torch_utils.persistence._reconstruct_persistent_obj`: keep the record, run nothing."""
    if not isinstance(meta, dict) or meta.get("type") != "class" or not isinstance(meta.get("state"), dict):
        raise CheckpointError("malformed NVIDIA persistence record in the pickle")
    src = meta.get("module_src")
    name = meta.get("class_name", "")
    return PersistentRecord(class_name=name if isinstance(name, str) else "",
                            module_src=src if isinstance(src, str) else "",
                            state=meta["state"])


def _items(value: Any, budget: LoadBudget, what: str) -> list[Any] | tuple[Any, ...]:
    """The items a constructor call copies, charged (a memo'd list may be copied many times)."""
    if not isinstance(value, (list, tuple)) or len(value) > MAX_CONSTRUCTED_ITEMS:
        raise CheckpointError(f"refusing to load: the pickle builds a {what} from a "
                              f"{type(value).__name__} (only short lists are allowed)")
    budget.charge(_ITEM_COST * (len(value) + 1), f"a {what}")
    return value


def _constructors(budget: LoadBudget) -> dict[tuple[str, str], Callable[..., Any]]:
    """Checked stand-ins for the builtins older pickle protocols call by name."""

    def make_set(items: Any = ()) -> set:
        return set(_items(items, budget, "set"))

    def make_frozenset(items: Any = ()) -> frozenset:
        return frozenset(_items(items, budget, "frozenset"))

    def make_ordered_dict(items: Any = ()) -> collections.OrderedDict:
        return collections.OrderedDict(_items(items, budget, "OrderedDict"))

    def make_bytes(*args: Any) -> bytes:
        if args:  # protocol 2 spells only the empty bytes this way
            raise CheckpointError("refusing to load: the pickle calls bytes() with an argument "
                                  "(it could allocate any size)")
        return b""

    def make_complex(real: Any = 0.0, imag: Any = 0.0) -> complex:
        if not all(isinstance(v, (int, float)) for v in (real, imag)):
            raise CheckpointError("refusing to load: complex() with non-number arguments")
        return complex(real, imag)

    def latin1_encode(text: Any, encoding: Any = "utf-8") -> bytes:
        """Python 2-era pickles spell bytes as `_codecs.encode(text, 'latin1')`; allow only that."""
        if encoding not in ("latin1", "latin-1") or not isinstance(text, str):
            raise CheckpointError(f"refusing to load: the pickle asks for the {str(encoding)[:20]!r} codec")
        budget.charge(len(text) + _ITEM_COST, "a byte string")
        return codecs.encode(text, "latin1")

    def load_from_bytes(data: Any) -> Any:
        from explorer.checkpoints.torch_file import storage_from_legacy_bytes
        return storage_from_legacy_bytes(data, budget)

    return {
        ("builtins", "set"): make_set, ("builtins", "frozenset"): make_frozenset,
        ("builtins", "bytes"): make_bytes, ("builtins", "complex"): make_complex,
        ("collections", "OrderedDict"): make_ordered_dict, ("_codecs", "encode"): latin1_encode,
        ("torch.storage", "_load_from_bytes"): load_from_bytes,
    }


@functools.lru_cache(maxsize=4)
def _allowed_globals(budget: LoadBudget) -> dict[tuple[str, str], Any]:
    """The stand-ins, bound to one file's budget (cached: a pickle embeds hundreds of storages)."""
    allowed: dict[tuple[str, str], Any] = {
        ("torch_utils.persistence", "_reconstruct_persistent_obj"): _persistent_record,
        ("dnnlib.util", "EasyDict"): AttrDict,
        ("dnnlib.tflib.network", "Network"): TFNetworkRecord,
        ("argparse", "Namespace"): NamespaceRecord,
        ("torch._utils", "_rebuild_tensor"): rebuild_tensor,
        ("torch._utils", "_rebuild_tensor_v2"): rebuild_tensor,
        ("torch._utils", "_rebuild_parameter"): rebuild_parameter,
        ("torch._utils", "_rebuild_parameter_with_state"): rebuild_parameter,
        ("torch", "Size"): checked_size,
        ("torch", "device"): checked_device,
        ("numpy", "dtype"): safe_numpy.DtypeSpec,
        ("numpy", "ndarray"): safe_numpy.NdarrayMarker,
        **_constructors(budget),
    }
    numpy_functions = {("multiarray", "_reconstruct"): safe_numpy.reconstruct_array(budget),
                       ("multiarray", "scalar"): safe_numpy.scalar_from_bytes(budget),
                       ("numeric", "_frombuffer"): safe_numpy.array_from_buffer(budget)}
    for (module, name), function in numpy_functions.items():
        for spelling in ("numpy.core", "numpy._core"):  # pickles name whichever numpy wrote them
            allowed[(f"{spelling}.{module}", name)] = function
    for name, dtype in STORAGE_DTYPES.items():
        allowed[("torch", name)] = allowed[("torch.cuda", name)] = StorageKind(dtype)
    return allowed


# The only objects whose state a pickle may set (BUILD): the ones numpy and NVIDIA pickle that
# way, each checking what it is given. Setting the state of anything else (a tensor: `set_` to
# any size; a class: rewriting it for every later load) is refused.
_BUILDABLE = (safe_numpy.DtypeSpec, safe_numpy.CheckedArray, TFNetworkRecord, NamespaceRecord, AttrDict)


class RestrictedUnpickler(pickle._Unpickler):
    """An unpickler that resolves only `_allowed_globals()` (plus torch dtypes) and sets the state
    only of `_BUILDABLE` objects.

    It is Python's own pure-Python unpickler (the C one cannot be told which objects BUILD may
    reach); checkpoints have few opcodes, their bulk is tensor bytes read in one go.
    `persistent` resolves persistent ids (torch files use them for storages); without it they
    are refused.
    """

    dispatch = dict(pickle._Unpickler.dispatch)

    def __init__(self, file: BinaryIO, budget: LoadBudget,
                 persistent: Callable[[Any], Any] | None = None) -> None:
        super().__init__(file)
        self._allowed = _allowed_globals(budget)
        self._persistent = persistent

    def load_build(self) -> None:
        target = self.stack[-2] if len(self.stack) >= 2 else None
        if not isinstance(target, _BUILDABLE):
            raise CheckpointError(f"refusing to load: the pickle sets the state of a "
                                  f"{type(target).__name__}, which checkpoints never do")
        super().load_build()

    dispatch[pickle.BUILD[0]] = load_build

    def find_class(self, module: str, name: str) -> Any:
        # Protocol 0-2 pickles spell Python 2 names (__builtin__.set); read them as Python 3's.
        module, name = _compat_pickle.NAME_MAPPING.get((module, name), (module, name))
        module = _compat_pickle.IMPORT_MAPPING.get(module, module)
        found = self._allowed.get((module, name))
        if found is not None:
            return found
        if module == "torch" and isinstance(getattr(torch, name, None), torch.dtype):
            return getattr(torch, name)
        raise CheckpointError(f"refusing to load: the pickle asks for {module}.{name}, which a "
                              "network checkpoint never needs (it could run code or allocate "
                              "without bound)")

    def persistent_load(self, pid: Any) -> Any:
        if self._persistent is None:
            raise CheckpointError("refusing to load: the pickle uses persistent ids, which network "
                                  "pickles never do")
        return self._persistent(pid)


def file_end(file: BinaryIO) -> int:
    """The size of `file` (an open file or BytesIO), without moving its position."""
    here = file.tell()
    end = file.seek(0, os.SEEK_END)
    file.seek(here)
    return end


def load_restricted(file: BinaryIO, budget: LoadBudget | None = None, end: int | None = None,
                    persistent: Callable[[Any], Any] | None = None) -> Any:
    """Scan, then unpickle one pickle from `file` with the allow-list, then check what it built.

    Without a `budget`, one is sized from the file. Truncation and corruption become
    `CheckpointError`.
    """
    end = file_end(file) if end is None else end
    budget = budget or LoadBudget.for_file_size(end)
    scan_opcodes(file, end, budget)
    return unpickle_scanned(file, budget, persistent)


def unpickle_scanned(file: BinaryIO, budget: LoadBudget,
                     persistent: Callable[[Any], Any] | None = None) -> Any:
    """Unpickle a pickle that `scan_opcodes` has passed, and check the structure it built."""
    try:
        result = RestrictedUnpickler(file, budget, persistent).load()
    except CheckpointError:
        raise
    except EOFError as e:
        raise truncated_error() from e
    except (pickle.UnpicklingError, ValueError, TypeError, KeyError, IndexError, AttributeError,
            RuntimeError, OverflowError, MemoryError, UnicodeDecodeError, struct.error) as e:
        raise CheckpointError(f"the pickle is damaged: {_first_line(e)}") from e
    check_structure(result)
    return result


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__
