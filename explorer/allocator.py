"""Tell glibc's malloc to keep the memory torch frees, so the next frame does not fault it in.

By default glibc hands big freed blocks back to the kernel: blocks above its (adaptive) mmap
threshold are unmapped, and a free top of the heap beyond twice that is trimmed. A network frees
its activations after every forward, so the next forward faults each page in again, zero-filled
by the kernel: on the shared 2-core box a 64 px StyleGAN2 frame took ~1500 page faults and ~4 ms
of kernel time out of ~37 ms. With the settings below it takes none (best of 12 frames, interleaved
with the 2048^2 peak matmul: 37.0 -> 35.0 ms). What is kept is bounded: a free heap top beyond
`TRIM_THRESHOLD` is still returned, and blocks over `MMAP_THRESHOLD` are still mapped apart.

Only glibc (Linux) has these knobs; elsewhere, or when the user set glibc's own MALLOC_* or
GLIBC_TUNABLES variables, or EXPLORER_KEEP_FREED_MEMORY=0, nothing changes.
"""

from __future__ import annotations

import ctypes
import os
import sys

M_TRIM_THRESHOLD = -1  # mallopt parameter numbers from glibc's malloc.h
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 << 20  # glibc's own ceiling for the adaptive threshold on 64-bit
TRIM_THRESHOLD = 256 << 20
USER_SETTINGS = ("MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TOP_PAD_",
                 "GLIBC_TUNABLES")


def keep_freed_memory() -> bool:
    """Apply the thresholds above once per process; True when they were applied."""
    if (not sys.platform.startswith("linux") or os.environ.get("EXPLORER_KEEP_FREED_MEMORY") == "0"
            or any(name in os.environ for name in USER_SETTINGS)):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the C library the interpreter already uses
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD,
                                                                           TRIM_THRESHOLD))
