"""Training runs: the warning signs a run folder's history holds.

The trainer records each layer's top singular value every tick (`train.metrics`, "sv" in
metrics.jsonl). A layer whose value keeps climbing is the classic precursor of collapse: the
spectral norm of G or D blowing up (BigGAN's observation). Older runs without that field are
measured from their snapshots. Beside it: R1 growing by orders of magnitude, ADA's p saturating
(D overfits the data), non-finite losses, and D winning outright (its loss near zero while G's climbs).
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np

from explorer.diagnose import pictures
from explorer.diagnose.findings import Finding
from explorer.directions.progress import StepCounter
from explorer.train.run_folder import RunFolder

BLOWUP, RISING = 3.0, 1.5      # last / early top singular value
SNAPSHOTS = 8                  # at most this many snapshots measured when metrics lack "sv"
R1_GROWTH = 10.0
ADA_SATURATED = 0.9
D_WINS_LOSS = 0.05
PLOTTED = 6
FIX = {"sv": "A singular value blowing up comes before collapse. Resume from a snapshot before the "
             "rise with a lower learning rate (G and D) or a larger R1 gamma; keep the equalised "
             "learning rate; for D consider more R1 or ADA.",
       "r1": "R1 growing means D's gradients on real images grow: raise gamma, lower D's learning rate.",
       "ada": "ADA's p near 1: D overfits the data. Use more images, keep --aug ada, or train shorter.",
       "loss": "A loss went non-finite: resume from the last good snapshot with a lower learning rate "
               "(and without mixed precision).",
       "d_wins": "D wins outright: raise R1 gamma, turn augmentation on, lower D's learning rate."}


def is_run_folder(path: Path) -> bool:
    run = RunFolder(path)
    return path.is_dir() and (run.metrics_path.is_file() or run.snapshots_dir.is_dir())


def steps(path: Path) -> int:
    return 1 + SNAPSHOTS


def singular_value_history(path: Path, counter: StepCounter) -> tuple[list[float], dict[str, list[float]], str]:
    """(kimg per point, layer -> top singular values, where they came from)."""
    records = [r for r in RunFolder(path).read_metrics() if isinstance(r.get("sv"), dict)]
    if len(records) >= 2:
        counter.advance(SNAPSHOTS, "training: reading metrics.jsonl")
        names = sorted(set().union(*(r["sv"] for r in records)))
        return ([float(r.get("kimg", i)) for i, r in enumerate(records)],
                {n: [_number(r["sv"].get(n)) for r in records] for n in names}, "metrics.jsonl")
    import explorer
    from explorer.train.metrics import top_singular_values
    snaps = RunFolder(path).snapshots()
    if len(snaps) > SNAPSHOTS:
        snaps = [snaps[int(i)] for i in np.linspace(0, len(snaps) - 1, SNAPSHOTS)]
    kimg, series = [], {}
    for i, snap in enumerate(snaps):
        model = explorer.load(snap, device="cpu")
        values = top_singular_values(model.generator, "G")
        if model.discriminator is not None:
            values.update(top_singular_values(model.discriminator, "D"))
        for name, v in values.items():
            series.setdefault(name, [math.nan] * i).append(v)
        kimg.append(_kimg_of(snap))
        counter.advance(1, f"training: singular values of {snap.name}")
    counter.advance(SNAPSHOTS - len(snaps), "training")
    return kimg, {n: v + [math.nan] * (len(kimg) - len(v)) for n, v in series.items()}, "snapshots"


def check_training(path: Path, counter: StepCounter) -> Finding:
    records = RunFolder(path).read_metrics()
    counter.advance(1, "training: reading the run folder")
    kimg, sv, source = singular_value_history(path, counter)
    growth = {n: _growth(v) for n, v in sv.items()}
    growth = {n: g for n, g in growth.items() if g is not None}
    problems: list[tuple[str, str, str]] = []   # (severity, what, fix key)
    blown = sorted((n for n, g in growth.items() if g >= BLOWUP or not math.isfinite(g)),
                   key=lambda n: -growth[n] if math.isfinite(growth[n]) else -math.inf)
    rising = sorted((n for n, g in growth.items() if RISING <= g < BLOWUP), key=lambda n: -growth[n])
    if blown:
        problems.append(("warn", f"top singular values blow up: {_list(blown, growth)}", "sv"))
    elif rising:
        problems.append(("note", f"top singular values rising: {_list(rising, growth)}", "sv"))
    losses = {k: [_number(r.get(k)) for r in records] for k in ("loss_G", "loss_D", "r1", "ada_p")}
    if any(v is not None and not math.isfinite(v) for k in ("loss_G", "loss_D") for v in losses[k]):
        problems.append(("warn", "a loss went non-finite", "loss"))
    r1 = _finite(losses["r1"])
    if len(r1) >= 4 and np.mean(r1[:len(r1) // 4]) > 0 and \
            np.mean(r1[-(len(r1) // 4):]) > R1_GROWTH * np.mean(r1[:len(r1) // 4]):
        problems.append(("warn", f"R1 grew {np.mean(r1[-(len(r1) // 4):]) / np.mean(r1[:len(r1) // 4]):.0f}x", "r1"))
    ada = _finite(losses["ada_p"])
    if ada and ada[-1] >= ADA_SATURATED:
        problems.append(("note", f"ADA p is {ada[-1]:.2f}", "ada"))
    d_loss, g_loss = _finite(losses["loss_D"]), _finite(losses["loss_G"])
    if len(d_loss) >= 2 and np.mean(d_loss[-max(1, len(d_loss) // 4):]) < D_WINS_LOSS:
        problems.append(("note", f"D wins outright (D loss {d_loss[-1]:.3f}, G loss {g_loss[-1]:.2f})"
                         if g_loss else f"D loss {d_loss[-1]:.3f}", "d_wins"))
    severity = max((p[0] for p in problems), key=("ok", "note", "warn").index, default="ok")
    if not sv:
        text = "no singular values: the run folder has no metrics with 'sv' and no snapshots"
        problems.append(("note", text, "sv"))
        severity = "note" if severity == "ok" else severity
    top = max(growth, key=lambda n: growth[n] if math.isfinite(growth[n]) else math.inf) if growth else None
    if problems:
        message = "; ".join(p[1] for p in problems) + f" ({len(kimg)} points from {source})"
    else:
        message = (f"training looks stable over {len(kimg)} points ({source}): the largest singular-value "
                   f"growth is {growth[top]:.2f}x in {top}" if top else "training looks stable")
    fix = " ".join(dict.fromkeys(FIX[p[2]] for p in problems if p[0] != "ok")) if severity != "ok" else ""
    plotted = sorted(growth, key=lambda n: -growth[n] if math.isfinite(growth[n]) else -math.inf)[:PLOTTED]
    picture = pictures.stack([
        pictures.line_plot({n.replace("synthesis.", ""): sv[n] for n in plotted}, x=kimg, log_y=True,
                           title="top singular value (fastest-growing layers) vs kimg"),
        pictures.line_plot({k: [v if v is not None else math.nan for v in vs] for k, vs in losses.items()
                            if _finite(vs)}, x=[float(r.get("kimg", i)) for i, r in enumerate(records)] or None,
                           title="losses, R1, ADA p vs kimg")])
    return Finding("training", severity, message, fix, value=growth.get(top) if top else None,
                   layer=_synthesis_layer(blown[0] if blown else top),
                   numbers={"growth": {n: growth[n] for n in plotted}, "source": source, "points": len(kimg),
                            "problems": [p[1] for p in problems]},
                   picture=picture,
                   caption="top: the top singular value of the fastest-growing layers; below: the losses, R1 "
                           "and ADA p, all against kimg")


def _number(v: object) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def _finite(values: list[float | None]) -> list[float]:
    return [v for v in values if v is not None and math.isfinite(v)]


def _growth(values: list[float | None]) -> float | None:
    """Last value over the early ones (the smallest of the first quarter); inf when it went non-finite."""
    present = [v for v in values if v is not None and not math.isnan(v)]
    if len(present) < 2:
        return None
    if not math.isfinite(present[-1]):
        return math.inf
    early = [v for v in present[:max(1, len(present) // 4)] if math.isfinite(v)]
    base = min(early) if early else 0.0
    return present[-1] / base if base > 0 else None


def _list(names: list[str], growth: dict[str, float]) -> str:
    shown = ", ".join(f"{n} {growth[n]:.1f}x" for n in names[:4])
    return shown + (f" and {len(names) - 4} more" if len(names) > 4 else "")


def _kimg_of(snapshot: Path) -> float:
    found = re.search(r"(\d+)", snapshot.stem)
    return int(found.group(1)) / 1000 if found else 0.0


def _synthesis_layer(name: str | None) -> str | None:
    """'G.synthesis.b16.conv1' -> 'b16.conv1' (what the Layers view names); None for others."""
    if name and name.startswith("G.synthesis."):
        return name[len("G.synthesis."):].removesuffix(".affine")
    return None
