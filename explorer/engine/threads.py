"""How the render thread shares the CPU with the UI thread.

Torch's intra-op (OpenMP) threads take every core while a frame renders, so on a 2-core machine
the UI thread waits for a time slice and its frames stretch out while a slider is dragged. The
render thread therefore lowers its own scheduling priority before its first torch op: the OpenMP
workers it starts inherit it, the UI thread (which needs little CPU, but needs it now) gets a core
as soon as it wants one, and renders still use every cycle the UI leaves idle.

It also leaves the UI a core: it renders with one torch thread fewer than there are cores. An
OpenMP team waits at every op for its slowest member, so a member that loses its core to the UI
stalls the whole team. On the shared 2-core box during a psi drag (bench/app.py, two runs each),
the UI's frame time over idle was 1.30/1.15 (64 px) and 1.19/1.15 (256 px) with one thread, and
1.20/1.18 and 1.44/1.38 with two; 64 px frames finished during the drag went from ~8 to ~11 per
second. The price: a 256 px frame with the UI idle takes ~1.3x as long (~320 ms against ~240).
torch's thread count is the process's, not the thread's: jobs started from the app run with it too.
The cores it leaves (`ui_cores`) are the UI's, its software rasterizer's included (see
`explorer.app.window.give_software_gl_the_ui_cores`).
"""

from __future__ import annotations

import os
import sys
import threading

import torch


def openmp_wait() -> str:
    """How OpenMP threads wait between ops, as the benches record it (`explorer/__init__.py` sets
    it): the policy, and GNU OpenMP's spin count where one is given."""
    policy = os.environ.get("OMP_WAIT_POLICY") or "default"
    spins = os.environ.get("GOMP_SPINCOUNT")
    return policy if spins is None else f"{policy}, GOMP_SPINCOUNT={spins}"


def usable_cores() -> int:
    """The cores this process may use (not torch.get_num_threads(): an earlier call set that)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def default_render_threads() -> int:
    """Torch threads for the render thread unless told: one per core but the UI's, at least one.
    EXPLORER_RENDER_THREADS sets it."""
    if os.environ.get("EXPLORER_RENDER_THREADS"):
        return max(1, int(os.environ["EXPLORER_RENDER_THREADS"]))
    return max(1, usable_cores() - 1)


def ui_cores() -> int:
    """The cores the render thread's default torch threads leave to the UI, at least one."""
    return max(1, usable_cores() - default_render_threads())


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


def configure_render_thread(nice: int = RENDER_NICE, threads: int | None = None) -> int:
    """Call first thing on the render thread: priority, then torch's thread count (None:
    `default_render_threads`). Returns that count."""
    lower_this_thread(nice)
    count = default_render_threads() if threads is None else max(1, int(threads))
    torch.set_num_threads(count)
    return count
