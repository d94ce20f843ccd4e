"""Limits on what a pickle may build: checked on its opcodes before it runs, and on the result after.

Before: `scan_opcodes` walks the opcode stream with `pickletools.genops`, which decodes but
executes nothing, and charges each opcode's worst-case memory (an object, its stack and memo
slots, its literal bytes) to the file's `LoadBudget`. It also refuses what would make the C
unpickler itself allocate from a number in the file: a memo index far past the objects made so
far, a frame or literal longer than what is left of the file.

After: `check_structure` walks the result iteratively, refusing nesting deeper than MAX_DEPTH
(which also catches an object that contains itself) and more than MAX_NODES visits (shared
references counted each time, so a few kilobytes of nested re-use cannot expand into billions
of items when the loader later converts settings to plain data).
"""

from __future__ import annotations

import pickletools
from typing import Any, BinaryIO, Iterable

from explorer.checkpoints.load_budget import LoadBudget
from explorer.errors import CheckpointError

MAX_OPCODES = 5_000_000
MAX_DEPTH = 100
MAX_NODES = 1_000_000
OPCODE_COST = 96                  # an object, a stack slot and a memo slot, generously
CONTAINER_COST = 256              # dicts and sets start larger than other objects
_CONTAINERS = {"EMPTY_DICT", "DICT", "EMPTY_SET", "FROZENSET"}
_MEMO_PUTS = {"PUT", "BINPUT", "LONG_BINPUT"}
_CHARGE_EVERY = 65_536


class _BoundedReader:
    """Reads a file up to `end` only, so a length field can never make a read allocate past it."""

    def __init__(self, file: BinaryIO, end: int) -> None:
        self.file = file
        self.position = file.tell()
        self.end = end

    def tell(self) -> int:
        return self.position

    def left(self) -> int:
        return max(self.end - self.position, 0)

    def read(self, n: int = -1) -> bytes:
        data = self.file.read(self.left() if n < 0 else min(n, self.left()))
        self.position += len(data)
        return data

    def readline(self) -> bytes:
        data = self.file.readline(self.left())
        self.position += len(data)
        return data


def truncated_error() -> CheckpointError:
    return CheckpointError("the pickle ends too early; the file is truncated")


def scan_opcodes(file: BinaryIO, end: int, budget: LoadBudget) -> int:
    """Check the pickle starting at `file.tell()` and return where it ends; the file is rewound."""
    start = file.tell()
    reader = _BoundedReader(file, end)
    count = pending = 0
    try:
        for opcode, arg, _ in pickletools.genops(reader):
            count += 1
            name = opcode.name
            cost = OPCODE_COST + (CONTAINER_COST if name in _CONTAINERS else 0)
            if isinstance(arg, (bytes, bytearray, str)):
                cost += len(arg)
            elif name in _MEMO_PUTS and arg > count:
                raise CheckpointError(f"refusing to load: the pickle stores into memo slot {arg} "
                                      f"after only {count} operations (a memory bomb)")
            elif name == "FRAME" and arg > reader.left():
                raise truncated_error()
            elif name == "PROTO" and arg > 5:
                raise CheckpointError(f"the pickle uses protocol {arg}, newer than any Python writes")
            pending += cost
            if count % _CHARGE_EVERY == 0:
                budget.charge(pending, "the objects the pickle makes")
                pending = 0
                if count > MAX_OPCODES:
                    raise CheckpointError(f"refusing to load: the pickle has more than {MAX_OPCODES:,} "
                                          "operations, far more than any network checkpoint")
    except ValueError as e:
        text = str(e)
        if any(word in text for word in ("remain", "exhausted", "EOF", "not enough data")):
            raise truncated_error() from e
        raise CheckpointError(f"the pickle is damaged: {text.splitlines()[0] if text else 'bad opcode'}") from e
    budget.charge(pending, "the objects the pickle makes")
    file.seek(start)
    return reader.position


def check_structure(root: Any) -> None:
    """Refuse results nested deeper than MAX_DEPTH or larger than MAX_NODES when expanded."""
    stack: list[tuple[Any, int]] = [(root, 0)]
    visits = 0
    while stack:
        value, depth = stack.pop()
        visits += 1
        if visits > MAX_NODES:
            raise CheckpointError(f"refusing to load: the pickle's data expands to more than "
                                  f"{MAX_NODES:,} items (shared references re-used over and over)")
        if depth > MAX_DEPTH:
            raise CheckpointError(f"refusing to load: the pickle's data is nested more than "
                                  f"{MAX_DEPTH} levels deep (or contains itself)")
        stack.extend((child, depth + 1) for child in _children(value))


def _children(value: Any) -> Iterable[Any]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield item
    elif isinstance(value, (list, tuple, set, frozenset)):
        yield from value
    else:
        children = getattr(type(value), "pickled_children", None)
        if children is not None:
            yield from children(value)
