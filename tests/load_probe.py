"""Run as a child process: load each file named on the command line and report, one JSON line each.

The parent learns the outcome of every load and this process's peak RSS after it, and, from a
non-zero exit status after a "start" line, which file crashed the interpreter.
"""

from __future__ import annotations

import json
import resource
import sys
import time


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(paths: list[str]) -> int:
    import torch

    import explorer
    import explorer.nets.discriminator  # noqa: F401 - imported now so later peaks measure loading only
    import explorer.nets.stylegan2  # noqa: F401
    import explorer.nets.stylegan3  # noqa: F401
    torch.set_num_threads(1)
    print(json.dumps({"baseline_mb": _peak_mb()}), flush=True)
    for path in paths:
        print(json.dumps({"start": path}), flush=True)
        started = time.perf_counter()
        try:
            explorer.load(path)
            kind, message = "loaded", ""
        except Exception as e:  # noqa: BLE001 - the parent judges what was raised
            kind, message = type(e).__name__, str(e)
        print(json.dumps({"path": path, "type": kind, "message": message, "peak_mb": _peak_mb(),
                          "seconds": time.perf_counter() - started}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
