"""How the render thread shares the CPU with the UI thread.

Torch's intra-op (OpenMP) threads take every core while a frame renders, so on a 2-core machine
the UI thread waits for a time slice and its frames stretch out while a slider is dragged. The
render thread therefore lowers its own scheduling priority before its first torch op: the OpenMP
workers it starts inherit it, the UI thread (which needs little CPU, but needs it now) gets a core
as soon as it wants one, and renders still use every cycle the UI leaves idle.
"""

from __future__ import annotations

import os
import sys
import threading

import torch

# CFS weight 335 against the UI's 1024: the UI wins a contended core ~3 times in 4, while renders
# are not starved by other programs as they are at 10. EXPLORER_RENDER_NICE=0 turns it off.
RENDER_NICE = int(os.environ.get("EXPLORER_RENDER_NICE", "5"))


def lower_this_thread(nice: int) -> bool:
    """Raise the calling thread's nice value by `nice` (Linux only: there it is per thread, and
    threads it creates later inherit it). False where that is not possible."""
    if nice <= 0 or not sys.platform.startswith("linux"):
        return False
    tid = threading.get_native_id()
    try:
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + nice))
    except OSError:
        return False
    return True


def configure_render_thread(nice: int = RENDER_NICE, threads: int | None = None) -> None:
    """Call first thing on the render thread: priority, then (optionally) its torch thread count."""
    lower_this_thread(nice)
    if threads is not None:
        torch.set_num_threads(max(1, int(threads)))
