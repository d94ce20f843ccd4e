"""Tensor storages and tensor views from a pickle, with every size and offset checked.

torch's own rebuild functions trust the file's sizes: a storage size allocates memory, and a
view's size and stride may reach past its storage or repeat one element a billion times.
Here a storage is allocated only after its size is charged to the file's budget and matched to
the bytes present, and a view must lie inside its storage and hold no more elements than it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from explorer.errors import CheckpointError

MAX_NDIM = 32

# torch's legacy storage class names -> the dtype of their elements.
STORAGE_DTYPES: dict[str, torch.dtype] = {
    "FloatStorage": torch.float32, "DoubleStorage": torch.float64, "HalfStorage": torch.float16,
    "BFloat16Storage": torch.bfloat16, "ByteStorage": torch.uint8, "CharStorage": torch.int8,
    "ShortStorage": torch.int16, "IntStorage": torch.int32, "LongStorage": torch.int64,
    "BoolStorage": torch.bool, "UntypedStorage": torch.uint8,
}


@dataclass(frozen=True)
class StorageKind:
    """What the pickle gets for `torch.FloatStorage` and friends: just the element type."""

    dtype: torch.dtype

    @property
    def element_size(self) -> int:
        return torch.empty((), dtype=self.dtype).element_size()


@dataclass
class LoadedStorage:
    """A storage's elements as a flat tensor (filled in later for the legacy format)."""

    flat: torch.Tensor

    @property
    def numel(self) -> int:
        return self.flat.numel()


def _refuse(what: str) -> CheckpointError:
    return CheckpointError(f"refusing to load: {what}")


def _int_tuple(value: Any, what: str) -> tuple[int, ...]:
    if isinstance(value, torch.Size):
        value = tuple(value)
    if not isinstance(value, tuple) or len(value) > MAX_NDIM or not all(
            type(n) is int and n >= 0 for n in value):
        raise _refuse(f"a tensor has an invalid {what} {str(value)[:60]}")
    return value


def checked_view(storage: Any, offset: Any, size: Any, stride: Any) -> torch.Tensor:
    """storage.flat viewed with (offset, size, stride), refused unless it fits inside the storage."""
    if not isinstance(storage, LoadedStorage):
        raise _refuse(f"a tensor is built on a {type(storage).__name__}, not on a storage from the file")
    size, stride = _int_tuple(size, "size"), _int_tuple(stride, "stride")
    if type(offset) is not int or offset < 0 or len(size) != len(stride):
        raise _refuse("a tensor has an invalid offset or stride")
    count = math.prod(size)
    if count:
        last = offset + sum((n - 1) * s for n, s in zip(size, stride))
        if last >= storage.numel or count > storage.numel:
            raise CheckpointError(f"a tensor of size {list(size)} does not fit its storage of "
                                  f"{storage.numel} elements; the file is damaged")
    return storage.flat.as_strided(size, stride, offset)


def rebuild_tensor(storage: Any, storage_offset: Any, size: Any, stride: Any, *rest: Any) -> torch.Tensor:
    """Replaces `torch._utils._rebuild_tensor(_v2)`; requires_grad and hooks are ignored."""
    return checked_view(storage, storage_offset, size, stride)


def rebuild_parameter(data: Any, *rest: Any) -> torch.Tensor:
    """Replaces `torch._utils._rebuild_parameter(_with_state)`: inference needs the tensor only."""
    if not isinstance(data, torch.Tensor):
        raise _refuse(f"a parameter holds a {type(data).__name__}, not a tensor")
    return data


def checked_size(value: Any = ()) -> torch.Size:
    """Replaces `torch.Size(...)`: a short tuple of non-negative ints."""
    return torch.Size(_int_tuple(tuple(value) if isinstance(value, list) else value, "size"))


def checked_device(value: Any = "cpu", index: Any = None) -> torch.device:
    """Replaces `torch.device(...)`; where a tensor was saved does not matter, we load to the CPU."""
    if not isinstance(value, str) or len(value) > 32:
        raise _refuse("a device name in the pickle is not a short string")
    return torch.device("cpu")
