"""How much memory reading one checkpoint file may cost, charged before anything is allocated.

A pickle can ask for far more memory than it occupies: a length field, a storage size, a memo
index or a reused reference can each turn a few bytes of file into gigabytes. Every reader
charges what it is about to allocate to one `LoadBudget`, sized from the file, and the charge
that would cross the limit raises a one-line `CheckpointError` instead of allocating.
"""

from __future__ import annotations

from explorer.errors import CheckpointError

SIZE_FACTOR = 4                 # a file may make us hold at most this many times its size...
FIXED_ALLOWANCE = 64 * 2**20    # ...plus this, for the objects even a tiny valid file needs...
MAX_TOTAL = 4 * 2**30           # ...and never more than this.


def describe_bytes(n: int) -> str:
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} bytes"


class LoadBudget:
    """A running total of bytes charged against a fixed limit."""

    def __init__(self, limit: int) -> None:
        self.limit = int(limit)
        self.used = 0

    @classmethod
    def for_file_size(cls, size: int) -> "LoadBudget":
        return cls(min(MAX_TOTAL, FIXED_ALLOWANCE + SIZE_FACTOR * max(int(size), 0)))

    def charge(self, nbytes: int, what: str) -> None:
        """Account for `nbytes` about to be allocated for `what`; refuse past the limit."""
        nbytes = int(nbytes)
        if nbytes < 0:
            raise CheckpointError(f"refusing to load: {what} has a negative size")
        if self.used + nbytes > self.limit:
            raise CheckpointError(
                f"refusing to load: {what} ({describe_bytes(nbytes)}) would exceed the memory "
                f"budget for this file ({describe_bytes(self.limit)}: {SIZE_FACTOR}x its size plus "
                f"{describe_bytes(FIXED_ALLOWANCE)}, at most {describe_bytes(MAX_TOTAL)})")
        self.used += nbytes
