"""numpy values in a pickle, rebuilt only as plain numeric arrays and scalars.

numpy's own pickle hooks trust the file: a dtype's pickled state may declare object fields over
raw bytes, and reading such an array follows addresses the file chose (a crash, or worse). The
stand-ins here accept only what numpy writes for plain numbers (bool, int, uint, float, complex)
and check every size against the bytes actually present before anything is allocated.
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np

from explorer.checkpoints.load_budget import LoadBudget
from explorer.errors import CheckpointError

MAX_NDIM = 32
_PLAIN_SPEC = re.compile(r"([biufc])(\d{1,2})")
_BYTE_ORDERS = ("<", ">", "|", "=")
_OBJECT_COST = 128


def _refuse(what: str) -> CheckpointError:
    return CheckpointError(f"refusing to load: {what} (only plain numeric numpy arrays are allowed)")


class NdarrayMarker:
    """What the pickle gets for `numpy.ndarray`: only `reconstruct` accepts it, nothing calls it."""


class DtypeSpec:
    """Stands in for `numpy.dtype(spec, align, copy)` until its pickled state has been checked."""

    def __init__(self, spec: Any, align: Any = False, copy: Any = False) -> None:
        match = _PLAIN_SPEC.fullmatch(spec) if isinstance(spec, str) else None
        if match is None:
            raise _refuse(f"the pickle asks for numpy dtype {str(spec)[:20]!r}")
        try:
            self._base = np.dtype(spec)
        except TypeError:
            raise _refuse(f"the pickle asks for numpy dtype {spec!r}") from None
        self._byteorder = "="

    def __setstate__(self, state: Any) -> None:
        # numpy writes (3, byteorder, subarray, names, fields, elsize, alignment, flags) for
        # plain types; anything with fields, sub-arrays, flags or metadata is not a plain number.
        if not isinstance(state, tuple) or len(state) != 8 or state[0] != 3:
            raise _refuse("a numpy dtype has an unexpected pickled state")
        _, byteorder, subarray, names, fields, elsize, alignment, flags = state
        if subarray is not None or names is not None or fields is not None:
            raise _refuse("a numpy dtype has fields or sub-arrays (a structured dtype)")
        if byteorder not in _BYTE_ORDERS or elsize != -1 or alignment != -1 or flags != 0:
            raise _refuse("a numpy dtype has object or flexible flags")
        self._byteorder = byteorder

    @property
    def dtype(self) -> np.dtype:
        if self._byteorder in ("<", ">"):
            return self._base.newbyteorder(self._byteorder)
        return self._base


def checked_dtype(value: Any) -> np.dtype:
    if not isinstance(value, DtypeSpec):
        raise _refuse(f"a numpy array or scalar has a {type(value).__name__} where a dtype belongs")
    return value.dtype


def checked_shape(value: Any) -> tuple[int, ...]:
    if not isinstance(value, tuple) or len(value) > MAX_NDIM or not all(
            type(n) is int and n >= 0 for n in value):
        raise _refuse(f"a numpy array has an invalid shape {str(value)[:60]}")
    return value


def _expect_bytes(shape: tuple[int, ...], dtype: np.dtype, data: Any) -> None:
    if not isinstance(data, (bytes, bytearray)):
        raise _refuse(f"a numpy array's data is a {type(data).__name__}, not raw bytes")
    needed = math.prod(shape) * dtype.itemsize
    if needed != len(data):
        raise CheckpointError(f"a numpy array of shape {list(shape)} needs {needed} bytes but the "
                              f"file holds {len(data)}; the file is damaged")


class CheckedArray(np.ndarray):
    """An empty array that `__setstate__` fills only with checked plain numeric data."""

    _budget: LoadBudget

    def __setstate__(self, state: Any) -> None:
        # numpy writes (version, shape, dtype, is_fortran, raw bytes); 4-tuples omit the version.
        if isinstance(state, tuple) and len(state) == 5 and state[0] == 1:
            state = state[1:]
        if not isinstance(state, tuple) or len(state) != 4:
            raise _refuse("a numpy array has an unexpected pickled state")
        shape, dtype, fortran, data = checked_shape(state[0]), checked_dtype(state[1]), state[2], state[3]
        _expect_bytes(shape, dtype, data)
        self._budget.charge(len(data) + _OBJECT_COST, "a numpy array")
        super().__setstate__((1, shape, dtype, bool(fortran), bytes(data)))


def reconstruct_array(budget: LoadBudget):
    """Replaces numpy's `_reconstruct(ndarray, (0,), typecode)`: an empty array awaiting its state."""

    def reconstruct(cls: Any, shape: Any, typecode: Any) -> CheckedArray:
        if cls is not NdarrayMarker or shape != (0,):
            raise _refuse("the pickle builds a numpy array other than the way numpy writes one")
        budget.charge(_OBJECT_COST, "a numpy array")
        array = np.ndarray.__new__(CheckedArray, (0,), np.uint8)
        array._budget = budget
        return array

    return reconstruct


def scalar_from_bytes(budget: LoadBudget):
    """Replaces numpy's `scalar(dtype, bytes)`: one plain number."""

    def scalar(dtype: Any, data: Any = b"") -> np.generic:
        dt = checked_dtype(dtype)
        _expect_bytes((), dt, data)
        budget.charge(_OBJECT_COST, "a numpy scalar")
        return np.frombuffer(bytes(data), dtype=dt)[0]

    return scalar


def array_from_buffer(budget: LoadBudget):
    """Replaces numpy's `_frombuffer(buffer, dtype, shape, order)` (pickle protocol 5)."""

    def frombuffer(buffer: Any, dtype: Any, shape: Any, order: Any = "C") -> np.ndarray:
        dt, shape = checked_dtype(dtype), checked_shape(shape)
        _expect_bytes(shape, dt, buffer)
        if order not in ("C", "F"):
            raise _refuse(f"a numpy array has memory order {str(order)[:8]!r}")
        budget.charge(_OBJECT_COST, "a numpy array")
        return np.frombuffer(buffer, dtype=dt).reshape(shape, order=order)

    return frombuffer
