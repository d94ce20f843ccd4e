"""SeFa: closed-form directions from the style affine weights, no sampling needed to find them.

Each W+ row drives the affine layers ("A" in the StyleGAN papers) that turn w into per-channel
styles. A direction n changes the styles by A n, so the directions that move the styles most are
the top eigenvectors of A^T A, with A stacking the affine weights of the chosen rows, each output
channel's weight row normalised so that wide layers do not outvote narrow ones. ToRGB styles
count like any other; StyleGAN3's input affine sets a rotation/translation, not a style, and is left out.
"""

from __future__ import annotations

import torch

from explorer.directions.directionset import DirectionSet
from explorer.directions.progress import StepCounter
from explorer.directions.sampling import DEFAULT_BATCH, projection_sigmas
from explorer.errors import ExplorerError
from explorer.jobs import Cancelled, Report
from explorer.model import Model


def row_affines(model: Model) -> dict[int, list[torch.Tensor]]:
    """W+ row -> effective weights [channels, w_dim] of the style affines it feeds, on the CPU
    (float64 eigh is not available on every device)."""
    synthesis = model.generator.synthesis
    rows: dict[int, list[torch.Tensor]] = {}

    def add(row: int, affine: torch.nn.Module) -> None:
        rows.setdefault(row, []).append(affine.weight.detach().float().cpu() * affine.weight_gain)

    if model.architecture == "stylegan2":
        for block, block_rows in zip(synthesis.blocks, synthesis.block_ws):
            convs = [block.conv1] if block.in_channels == 0 else [block.conv0, block.conv1]
            for row, conv in zip(block_rows, convs):
                add(row, conv.affine)
            if block.has_torgb:
                add(block_rows[block.num_conv], block.torgb.affine)
    elif model.architecture == "stylegan3":
        for i, name in enumerate(synthesis.layer_names):
            add(i + 1, getattr(synthesis, name).affine)
    else:
        raise ExplorerError(f"SeFa does not know the layers of a {model.architecture} generator")
    return rows


def sefa_basis(model: Model, layer_start: int = 0, layer_end: int | None = None
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """(eigenvectors [w_dim, w_dim] as rows, eigenvalues [w_dim]), strongest first, for rows [start, end)."""
    end = model.num_ws if layer_end is None else layer_end
    affines = row_affines(model)
    weights = [w for row in range(layer_start, end) for w in affines.get(row, [])]
    if not weights:
        raise ExplorerError(f"W+ rows {layer_start}-{end - 1} drive no style layers; "
                            f"choose rows within 0-{model.num_ws - 1}")
    a = torch.cat(weights).double()
    a = a / a.norm(dim=1, keepdim=True).clamp_min(1e-12)
    values, vectors = torch.linalg.eigh(a.T @ a)  # ascending
    return vectors.flip(1).T.contiguous(), values.flip(0)


def fit_sefa(model: Model, components: int = 64, layer_start: int = 0, layer_end: int | None = None,
             sigma_samples: int = 10_000, seed: int = 0, class_idx: int | None = None,
             batch: int = DEFAULT_BATCH, name: str = "sefa", report: Report | None = None,
             cancelled: Cancelled | None = None) -> DirectionSet:
    """The top-k SeFa directions of a layer range; edits default to that same range."""
    if not 0 <= layer_start < (model.num_ws if layer_end is None else layer_end) <= model.num_ws:
        raise ExplorerError(f"bad layer range {layer_start}-{layer_end}: rows are 0-{model.num_ws - 1}")
    k = max(1, min(int(components), model.w_dim))
    vectors, values = sefa_basis(model, layer_start, layer_end)
    counter = StepCounter(sigma_samples, report, cancelled)
    counter.advance(0, "factorising style weights")
    top = vectors[:k].float().numpy()
    sigmas, _ = projection_sigmas(model, top, sigma_samples, seed, counter, class_idx, batch)
    share = (values / values.sum())[:k].float().numpy()
    return DirectionSet(
        name=name, method="sefa", vectors=top, sigmas=sigmas, explained_variance=share,
        layer_range=(layer_start, layer_end), labels=tuple(f"SeFa{i}" for i in range(k)),
        metadata={"sigma_samples": int(sigma_samples), "seed": int(seed), "class_idx": class_idx,
                  "eigenvalues": values[:k].tolist()},
        model_hash=model.info.content_hash)
