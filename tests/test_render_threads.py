"""The render thread's CPU manners: it lowers its own priority (not the caller's) before its first
torch op, so the OpenMP workers it starts inherit it and the UI thread wins a contended core."""

from __future__ import annotations

import os
import sys
import threading

import pytest

from explorer.engine.threads import lower_this_thread


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice is Linux-only")
def test_lowering_affects_only_the_calling_thread_and_its_children() -> None:
    main_before = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    seen: dict[str, int] = {}

    def child() -> None:
        seen["child"] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    def worker() -> None:
        tid = threading.get_native_id()
        before = os.getpriority(os.PRIO_PROCESS, tid)
        seen["lowered"] = lower_this_thread(3)
        seen["delta"] = os.getpriority(os.PRIO_PROCESS, tid) - before
        t = threading.Thread(target=child)  # started after: inherits the lower priority
        t.start()
        t.join()
        seen["child_delta"] = seen["child"] - before

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    if main_before >= 17:
        pytest.skip("already at the lowest priority")
    assert seen["lowered"] and seen["delta"] == 3 and seen["child_delta"] == 3
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == main_before
    assert not lower_this_thread(0)


def test_importing_explorer_sets_short_openmp_spins_unless_the_user_chose() -> None:
    """Unset: PASSIVE with GNU OpenMP's spin count cut to 30000 (threads stay awake within a
    forward, asleep between frames). A user's OMP_WAIT_POLICY or GOMP_SPINCOUNT wins."""
    import subprocess
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = os.pathsep.join([root, env.get("PYTHONPATH", "")])  # this checkout's explorer
    code = "import explorer, os; print(os.environ['OMP_WAIT_POLICY'], os.environ.get('GOMP_SPINCOUNT'))"

    def policy(**given: str) -> str:
        out = subprocess.run([sys.executable, "-c", code], env={**env, **given}, capture_output=True,
                             text=True, check=True)
        return out.stdout.strip()

    assert policy() == "PASSIVE 30000"
    assert policy(GOMP_SPINCOUNT="0") == "PASSIVE 0"
    assert policy(OMP_WAIT_POLICY="ACTIVE") == "ACTIVE None"  # ACTIVE's own long spin stays


def test_importing_explorer_keeps_freed_memory_for_the_next_frame() -> None:
    """After a frame-sized set of blocks is freed, allocating it again faults no pages in
    (glibc's default returns the freed heap top to the kernel); EXPLORER_KEEP_FREED_MEMORY=0
    restores the default, which does fault them in."""
    import subprocess
    if not sys.platform.startswith("linux"):
        pytest.skip("glibc only")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("MALLOC_") and k not in ("GLIBC_TUNABLES", "EXPLORER_KEEP_FREED_MEMORY")}
    env["PYTHONPATH"] = os.pathsep.join([root, env.get("PYTHONPATH", "")])
    code = ("import explorer, resource, torch\n"
            "def frame():\n"
            "    blocks = [torch.ones(512 * 1024) for _ in range(24)]  # 24 x 2 MiB\n"
            "    del blocks\n"
            "frame()\n"
            "before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt\n"
            "frame()\n"
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)\n")
    faults = int(subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                                text=True, check=True).stdout)
    env["EXPLORER_KEEP_FREED_MEMORY"] = "0"
    default_faults = int(subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                                        text=True, check=True).stdout)
    # 48 MiB is 12288 pages, all faulted in again by default. Kept, most come back without a
    # fault: typically 512, but a few blocks may still grow the heap (up to ~3,000 seen in CI).
    assert default_faults > 10_000 and faults < default_faults / 2, (faults, default_faults)


def test_the_render_thread_leaves_the_ui_a_core(monkeypatch) -> None:
    import torch

    from explorer.engine.threads import configure_render_thread, default_render_threads
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    monkeypatch.delenv("EXPLORER_RENDER_THREADS", raising=False)
    assert default_render_threads() == max(1, cores - 1)
    monkeypatch.setenv("EXPLORER_RENDER_THREADS", "3")
    assert default_render_threads() == 3
    before = torch.get_num_threads()
    try:
        assert configure_render_thread(0, None) == 3 and torch.get_num_threads() == 3
        assert configure_render_thread(0, 0) == 1  # at least one
    finally:
        torch.set_num_threads(before)


def test_the_ui_gets_the_cores_the_render_thread_leaves(monkeypatch) -> None:
    from explorer.engine.threads import ui_cores
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(8)), raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    monkeypatch.delenv("EXPLORER_RENDER_THREADS", raising=False)
    assert ui_cores() == 1
    monkeypatch.setenv("EXPLORER_RENDER_THREADS", "5")
    assert ui_cores() == 3
    monkeypatch.setenv("EXPLORER_RENDER_THREADS", "20")
    assert ui_cores() == 1  # at least one


def test_software_gl_is_told_the_ui_cores_unless_the_user_chose(monkeypatch) -> None:
    pytest.importorskip("imgui_bundle")
    from explorer.app.window import give_software_gl_the_ui_cores
    from explorer.engine.threads import ui_cores
    monkeypatch.delenv("LP_NUM_THREADS", raising=False)
    give_software_gl_the_ui_cores()
    assert os.environ["LP_NUM_THREADS"] == str(ui_cores())
    monkeypatch.setenv("LP_NUM_THREADS", "4")
    give_software_gl_the_ui_cores()
    assert os.environ["LP_NUM_THREADS"] == "4"
