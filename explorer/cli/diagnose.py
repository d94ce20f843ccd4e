"""`stylegan-explorer diagnose CKPT|RUN_FOLDER [--seeds N] [--json] [--out DIR]`.

A readable summary by default; with --json one JSON object per finding and line on stdout
(progress goes to stderr either way); --out writes each finding's picture and report.html.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from explorer.cli_values import int_in
from explorer.cli.options import add_device
from explorer.jobs import Progress

MAX_SEEDS = 10_000


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from explorer.diagnose.doctor import DEFAULT_SEEDS
    from explorer.diagnose.findings import CHECKS
    p = subparsers.add_parser("diagnose", help="find a generator's artifacts (droplets, sticking, noise, "
                                                "W collapse, mode collapse, training blow-ups)")
    p.add_argument("target", metavar="CKPT|RUN_FOLDER",
                   help="checkpoint (file, URL or published name) or a training run folder")
    p.add_argument("--seeds", type=int_in(1, MAX_SEEDS), default=DEFAULT_SEEDS,
                   help="seeds 0..N-1 to sample (default %(default)s; fewer is faster, but diversity is judged from 16 up)")
    p.add_argument("--checks", default="all", help=f"comma list of {', '.join(CHECKS)} (default all)")
    p.add_argument("--json", action="store_true", help="one JSON object per finding and line")
    p.add_argument("--out", default=None, help="folder for the pictures and report.html")
    p.add_argument("--force", action="store_true", help="overwrite an earlier report in --out")
    add_device(p)
    return p


def _progress(quiet_every: int = 10):
    """Prints to stderr about every tenth of the work."""
    last = [-1]

    def on_progress(p: Progress) -> None:
        tenth = int(p.fraction * quiet_every)
        if tenth != last[0]:
            last[0] = tenth
            print(f"{p.fraction:4.0%}  {p.message}", file=sys.stderr, flush=True)
    return on_progress


def run(args: argparse.Namespace) -> int:
    from explorer.diagnose.doctor import diagnose, parse_checks
    from explorer.diagnose.report import json_line, picture_names, summary, write_report
    from explorer.outputs import check_output_folder

    checks = parse_checks(args.checks)
    out = None if args.out is None else Path(args.out)
    if out is not None:
        check_output_folder(out, picture_names(checks), args.force, inputs=[Path(args.target)])
    diagnosis = diagnose(args.target, seeds=args.seeds, checks=checks, device=args.device,
                         report=_progress())
    names = [None] * len(diagnosis.findings) if out is None else write_report(diagnosis, out, args.force)
    if args.json:
        for finding, name in zip(diagnosis.findings, names):
            print(json_line(finding, name), flush=True)
    else:
        print(summary(diagnosis))
        if out is not None:
            count = sum(n is not None for n in names)
            print(f"wrote {count} picture{'' if count == 1 else 's'} and report.html to {out}")
    return 0
