"""The artifact doctor's wall time on CPU, check by check, against plain rendering of its seeds.

    python bench/diagnose.py [CKPT ...] [--seeds 32] [--threads 0]

Default checkpoints: the shipped model and the sg2_32 / sg3t_32 fixtures. For each model and
check: seconds, severity and value; the baseline, measured in the same run, is rendering the
same seeds once (what any look at N samples costs). Prints a table and one JSON line.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
import explorer  # noqa: E402 - first: it sets the OpenMP wait policy the app runs with
import torch  # noqa: E402

from bench.common import print_json_line, print_table  # noqa: E402
from explorer.diagnose import diagnose_model  # noqa: E402
from explorer.diagnose.doctor import MODEL_CHECKS  # noqa: E402
from explorer.diagnose.samples import render, seed_ws  # noqa: E402

DEFAULTS = [ROOT / "assets" / "model.safetensors", ROOT / "tests" / "fixtures" / "sg2_32" / "network-snapshot.pkl",
            ROOT / "tests" / "fixtures" / "sg3t_32" / "network-snapshot.pkl"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoints", nargs="*", default=[str(p) for p in DEFAULTS if p.is_file()])
    parser.add_argument("--seeds", type=int, default=32)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: leave as is)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    rows = []
    for ckpt in args.checkpoints:
        model = explorer.load(ckpt, device="cpu")
        name = Path(ckpt).parent.name if Path(ckpt).name == "network-snapshot.pkl" else Path(ckpt).name
        t0 = time.perf_counter()
        render(model, seed_ws(model, list(range(args.seeds))), None, "")
        baseline = time.perf_counter() - t0
        total = 0.0
        for check in MODEL_CHECKS:
            t0 = time.perf_counter()
            finding = diagnose_model(model, args.seeds, (check,))[0]
            seconds = time.perf_counter() - t0
            total += seconds
            rows.append({"model": name, "check": check, "seconds": round(seconds, 2), "severity": finding.severity,
                         "value": None if finding.value is None else round(finding.value, 3)})
        rows.append({"model": name, "check": "all", "seconds": round(total, 2),
                     "value": f"render {args.seeds} seeds: {baseline:.2f} s ({total / baseline:.0f}x)"})
    print_table(rows, ["model", "check", "seconds", "severity", "value"])
    print_json_line("diagnose", {"seeds": args.seeds, "threads": torch.get_num_threads(), "rows": rows})


if __name__ == "__main__":
    main()
