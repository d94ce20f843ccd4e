"""Direction finding on CPU: how long PCA of W takes, and whether directions track real attributes.

    python bench/directions.py [--checkpoint PATH] [--dataset DIR] [--samples 10000,100000]
                               [--labelled-seeds 2000] [--threads 1]

Timing: `fit_pca` (64 components: streamed covariance, then one eigendecomposition) on N sampled
w, mapping included, split into fitting and measuring sigmas; against the previous method
measured in the same run on the same samples: scikit-learn's IncrementalPCA (mapping plus
partial_fit per batch). Reported: seconds, the speedup of the fit, and how well the components
agree (mean |cosine| of the top 16) with IncrementalPCA's and with an all-in-memory exact PCA.

Attributes (needs a model trained on labelled data, e.g. the shipped avatar model, and its
dataset's manifest.json; found through the model's training run when --dataset is not given):
generated seeds are labelled by a classifier trained on the dataset (explorer.directions.manifest),
then for each attribute: the best |correlation| between the label and a top-10 PCA component, and
the |correlation| between the label and the projection on the attribute's SVM direction (fitted
on one half of the labelled seeds, measured on the other).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import explorer  # noqa: E402 - first: it sets the OpenMP wait policy the app runs with
import numpy as np  # noqa: E402
import torch  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from bench.common import print_json_line, print_table  # noqa: E402
from explorer.directions import LabelledLatents, fit_attributes, fit_pca  # noqa: E402
from explorer.directions.manifest import manifest_labels  # noqa: E402
from explorer.directions.sampling import FIT_STREAM, batch_sizes, sampled_w  # noqa: E402
from explorer.model import Model  # noqa: E402
from explorer.nets import build_generator  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHIPPED_MODEL = REPO / "assets" / "model.safetensors"
COMPONENTS = 64
AGREEMENT_TOP = 16
ATTRIBUTES = ("glasses", "earrings", "beard", "freckles", "hair_accessories")
ATTRIBUTE_COLUMNS = ("attribute", "labelled", "positive", "classifier_acc", "best_pc", "pc_abs_r",
                     "svm_abs_r", "svm_acc")


def timing_model() -> tuple[Model, str]:
    """The issue's timing case: a random 64 px StyleGAN2 with FFHQ's mapping (z = w = 512, 8
    layers); the mapping is what the sampling costs and w_dim what the fit costs (the shipped
    model's w is 256-d: it would flatter both)."""
    torch.manual_seed(0)
    g = build_generator("stylegan2", dict(z_dim=512, w_dim=512, c_dim=0, img_resolution=64,
                                          mapping_kwargs=dict(num_layers=8), channel_base=2048,
                                          channel_max=64))
    return Model(g, None, format="random"), "random 64px StyleGAN2, 512-d 8-layer mapping"


def exact_pca(model: Model, samples: int) -> tuple[np.ndarray, float, float]:
    """(components [w_dim, w_dim] strongest first, sampling seconds, fitting seconds) on the same w."""
    t0 = time.perf_counter()
    w = np.concatenate(list(sampled_w(model, batch_sizes(samples, 4096, COMPONENTS), 0, FIT_STREAM)))
    t1 = time.perf_counter()
    x = w.astype(np.float64) - w.mean(0)
    _, vectors = np.linalg.eigh(x.T @ x / len(x))
    t2 = time.perf_counter()
    return vectors[:, ::-1].T, t1 - t0, t2 - t1


def incremental_pca(model: Model, samples: int) -> tuple[np.ndarray, float]:
    """The previous method, as it ran: IncrementalPCA over the same batches (components, seconds)."""
    from sklearn.decomposition import IncrementalPCA
    t0 = time.perf_counter()
    pca = IncrementalPCA(n_components=COMPONENTS)
    for w in sampled_w(model, batch_sizes(samples, 4096, COMPONENTS), 0, FIT_STREAM):
        pca.partial_fit(w)
    return pca.components_, time.perf_counter() - t0


def time_pca(model: Model, samples: int, before: bool) -> dict:
    phases: dict[str, float] = {}
    start = time.perf_counter()

    def report(p) -> None:
        phases[p.message] = time.perf_counter() - start

    s = fit_pca(model, components=COMPONENTS, samples=samples, sigma_samples=10_000, report=report)
    total = time.perf_counter() - start
    fit_s = phases["fitting PCA"]
    k = min(AGREEMENT_TOP, s.count)
    exact, map_s, eig_s = exact_pca(model, samples)
    row = {"samples": samples, "pca_s": round(total, 2), "fit_s": round(fit_s, 2),
           "sigma_s": round(total - fit_s, 2), "map_s": round(map_s, 2),
           f"top{k}_cos_exact": round(float(np.mean(np.abs(np.sum(s.vectors[:k] * exact[:k], axis=1)))), 4)}
    if before:
        components, ipca_s = incremental_pca(model, samples)
        row.update(ipca_fit_s=round(ipca_s, 2), fit_speedup=round(ipca_s / fit_s, 1),
                   **{f"top{k}_cos_ipca": round(float(np.mean(np.abs(np.sum(s.vectors[:k] * components[:k], axis=1)))), 4)})
    return row


def dataset_for(model: Model, given: str | None) -> Path | None:
    """--dataset, else the data folder of the run that trained the model (from its provenance)."""
    if given:
        return Path(given)
    run = model.info.extra.get("run") if isinstance(model.info.extra, dict) else None
    try:
        data = json.loads((Path(run) / "config.json").read_text())["data"] if run else None
    except (OSError, ValueError, KeyError):
        return None
    return Path(data) if data and (Path(data) / "manifest.json").is_file() else None


def correlation(x: np.ndarray, y: np.ndarray) -> float:
    return float(abs(np.corrcoef(x, y)[0, 1])) if x.std() > 0 and y.std() > 0 else 0.0


def attribute_rows(model: Model, dataset: Path, seeds: int) -> list[dict]:
    data = manifest_labels(model, dataset, ATTRIBUTES, count=seeds)
    pca = fit_pca(model, components=10, samples=20_000, sigma_samples=1000)
    half = len(data.w) // 2
    rows = []
    for a in ATTRIBUTES:
        y = data.labels[a]
        known = ~np.isnan(y)
        pc_r = [correlation(data.w[known] @ v, y[known]) for v in pca.vectors]
        row = {"attribute": a, "labelled": int(known.sum()), "positive": int(np.nansum(y)),
               "classifier_acc": round(data.metadata["classifier_accuracy"][a], 3),
               "best_pc": int(np.argmax(pc_r)), "pc_abs_r": round(max(pc_r), 3)}
        train = LabelledLatents(w=data.w[:half], labels={a: y[:half]})
        test = known.copy()
        test[:half] = False
        try:
            s = fit_attributes(model, train, sigma_samples=1000)
            row["svm_abs_r"] = round(correlation(data.w[test] @ s.vectors[0], y[test]), 3)
            row["svm_acc"] = s.metadata["accuracy"][a]
        except explorer.ExplorerError:  # too few of one label among the confident ones
            row["svm_abs_r"] = "n/a (one label only)"
        rows.append(row)
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", default=None,
                   help="model for the attribute part (default: the shipped one)")
    p.add_argument("--dataset", default=None, help="folder with the training set's manifest.json")
    p.add_argument("--samples", default="10000,100000", help="PCA sample counts to time")
    p.add_argument("--labelled-seeds", type=int, default=2000)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--no-before", action="store_true", help="skip timing the previous method (IncrementalPCA)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    with threadpool_limits(args.threads):
        model, label = timing_model()
        fit_pca(model, components=4, samples=200, sigma_samples=10)  # warm-up: untimed
        if not args.no_before:
            from sklearn.decomposition import IncrementalPCA  # noqa: F401 - seconds to import: untimed
        print(f"PCA timing on {label}, {args.threads} thread(s), {COMPONENTS} components")
        timing = [time_pca(model, int(n), not args.no_before) for n in args.samples.split(",")]
        print_table(timing, list(timing[0]))
        attributes: list[dict] | str
        checkpoint = Path(args.checkpoint) if args.checkpoint else SHIPPED_MODEL
        if not checkpoint.is_file():
            attributes = f"skipped: no trained model at {checkpoint} (pass --checkpoint)"
        else:
            labelled = explorer.load(checkpoint)
            dataset = dataset_for(labelled, args.dataset)
            if dataset is None:
                attributes = "skipped: no dataset manifest found for the model (pass --dataset)"
            else:
                print(f"\nattribute directions on {checkpoint.name}, labels from {dataset}")
                attributes = attribute_rows(labelled, dataset, args.labelled_seeds)
                print_table(attributes, ATTRIBUTE_COLUMNS)
        if isinstance(attributes, str):
            print(f"\nattributes: {attributes}")
    print_json_line("directions", {"model": label, "threads": args.threads, "pca": timing,
                                   "attributes": attributes})


if __name__ == "__main__":
    main()
