"""W space: is the mapping network still spreading its samples over many directions?

The principal-component spectrum of many sampled w (GANSpace's PCA, `directions.pca`) gives the
effective dimensionality (participation ratio (sum l)^2 / sum l^2 of the eigenvalues l) and the
number of components holding 90% of the variance. A mapping that has collapsed puts every z on
(nearly) the same w: then every seed draws the same picture, whatever the synthesis network can do.
Picture diversity against psi shows what truncation costs.
"""

from __future__ import annotations

import numpy as np
import torch

from explorer.diagnose import pictures
from explorer.diagnose.findings import Finding
from explorer.diagnose.samples import render, seed_ws
from explorer.directions.pca import CovarianceMoments
from explorer.directions.progress import StepCounter
from explorer.directions.sampling import FIT_STREAM, batch_sizes, sampled_w
from explorer.model import Model

W_SAMPLES = 2000
PSIS = (0.5, 0.7, 1.0)
PSI_SEEDS = 8
DIVERSITY_SIZE = 64         # pictures are compared at most this size (pixel std across seeds)
COLLAPSED_SPREAD = 0.02     # spread of w relative to its distance from the origin
NARROW_DIMENSIONS = 1.5     # participation ratio: w on (nearly) a line
FIX = ("The mapping network collapsed. Restart from a snapshot before it happened with a lower "
       "learning rate for the mapping (StyleGAN's lr multiplier 0.01), keep style mixing on, "
       "check that w_avg is tracked and that the mapping's last layer did not die (all-zero "
       "weights or huge biases).")


def steps(model: Model, seeds: list[int]) -> int:
    psi_seeds = min(PSI_SEEDS, len(seeds))
    return 1 + (len(PSIS) * psi_seeds if psi_seeds > 1 else 0)


@torch.no_grad()
def check_w_space(model: Model, seeds: list[int], counter: StepCounter) -> Finding:
    moments = CovarianceMoments(model.w_dim)
    for w in sampled_w(model, batch_sizes(W_SAMPLES, 500), seed=0, stream=FIT_STREAM):
        moments.add(w)
    counter.advance(1, f"w space: PCA of {W_SAMPLES} w")
    eig = np.clip(np.linalg.eigvalsh(moments.covariance())[::-1], 0, None)
    total = float(eig.sum())
    explained = eig / total if total > 0 else np.zeros_like(eig)
    participation = total ** 2 / float(np.square(eig).sum()) if total > 0 else 0.0
    dims90 = int(np.searchsorted(np.cumsum(explained), 0.9) + 1) if total > 0 else 0
    mean = moments.shift + moments.sum / moments.count
    spread = float(np.sqrt(total) / (np.linalg.norm(mean) + np.sqrt(total) + 1e-12))
    psi_seeds = seeds[:PSI_SEEDS]
    diversity = {}
    for psi in PSIS if len(psi_seeds) > 1 else ():  # one picture has no spread to measure
        img = render(model, seed_ws(model, psi_seeds, psi), counter, f"w space: diversity at psi {psi}")
        if img.shape[-1] > DIVERSITY_SIZE:
            img = torch.nn.functional.adaptive_avg_pool2d(img, DIVERSITY_SIZE)
        diversity[psi] = float(img.std(dim=0).mean())
    collapsed = spread < COLLAPSED_SPREAD or participation < NARROW_DIMENSIONS
    if collapsed:
        severity = "warn"
        message = (f"W has collapsed: the spread of w is {spread:.3%} of its size and its effective "
                   f"dimensionality {participation:.2f} of {model.w_dim}; every seed maps to nearly "
                   f"the same w ({diversity_text(diversity)})")
    else:
        severity = "ok"
        message = (f"W spreads over {participation:.1f} effective dimensions of {model.w_dim} "
                   f"({dims90} components hold 90% of the variance); {diversity_text(diversity)}")
    spectrum = pictures.line_plot({"PCA variance share": [float(v) for v in explained[:64]]},
                                  title="W: variance per principal component", log_y=True)
    plots = [spectrum]
    if diversity:
        plots.append(pictures.line_plot({"pixel std across seeds": list(diversity.values())}, x=list(PSIS),
                                        title="diversity vs psi (0.5, 0.7, 1.0)"))
    return Finding("w_space", severity, message, FIX if collapsed else "", value=participation,
                   numbers={"participation_ratio": participation, "components_90": dims90,
                            "spread": spread, "diversity_by_psi": {str(p): d for p, d in diversity.items()},
                            "top_variance_share": [float(v) for v in explained[:8]], "samples": W_SAMPLES},
                   picture=pictures.stack(plots),  # one under the other: side by side, a panel's width shrank the text
                   caption="the variance of w along each principal component (log scale)"
                           + ("; below: the pixel std across seeds at psi 0.5, 0.7 and 1" if diversity else ""))


def diversity_text(diversity: dict[float, float]) -> str:
    if not diversity:
        return "picture diversity not measured (it needs at least 2 seeds)"
    return "picture diversity " + ", ".join(f"psi {p:g}: {d:.3f}" for p, d in diversity.items())
