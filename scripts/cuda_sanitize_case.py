"""One small self-check case of one fused kernel, forward and gradients: a short program for
compute-sanitizer (racecheck, memcheck) to watch. Prints the case and its worst relative error.

    compute-sanitizer --tool memcheck python scripts/cuda_sanitize_case.py upfirdn2d
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import torch  # noqa: E402

from cuda_ops import fused, selfcheck  # noqa: E402
from cuda_ops.fused_ops import FusedOps  # noqa: E402


def main(op: str) -> int:
    if not torch.cuda.is_available():
        print(f"{op}: no CUDA device, nothing to sanitise")
        return 0
    ops = FusedOps(fused.load_extension())
    check = next(c for c in selfcheck.plan() if c.op == op and c.dtype == torch.float32 and c.grad)
    worst = max(m.error for m in selfcheck.measure(ops, "cuda", check))
    torch.cuda.synchronize()
    print(f"{check.describe()}: worst relative error {worst:.2e}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
