"""Latent directions: PCA, SeFa, k-means, attribute SVMs, the cache and file format, and how their
edits compose into W+. Tiny real models, a few thousand samples."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from explorer.directions import (DirectionCache, DirectionLibrary, DirectionSet, DirectionSpec,
                                 LabelledLatents, cached_direction_set, cached_library,
                                 centre_state, direction_job, fit_attributes, fit_kmeans, fit_pca,
                                 fit_sefa, load_direction_set, near_centre, project_out,
                                 read_label_csv, save_direction_set, sefa_basis)
from explorer.directions.labels import seeds_to_w
from explorer.directions.sefa import row_affines
from explorer.directions.svm import binary_labels
from explorer.engine import MappingCache, render_state
from explorer.errors import ExplorerError
from explorer.jobs import Job, JobCancelled, JobHandle, start_job
from explorer.latent.compose import state_ws
from explorer.latent.npz import save_latent_npz
from explorer.latent.state import DirectionEdit, LatentState, encode_latent
from explorer.model import Model
from explorer.nets import build_generator

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SAMPLES = 5000
SIGMA_SAMPLES = 2000


def tiny_model(architecture: str = "stylegan2", resolution: int = 16, **extra) -> Model:
    torch.manual_seed(0)
    kwargs = dict(z_dim=32, w_dim=32, c_dim=0, img_resolution=resolution, img_channels=3,
                  mapping_kwargs=dict(num_layers=2), channel_base=256, channel_max=32)
    kwargs.update(extra)
    return Model(build_generator(architecture, kwargs), None, format="test")


class MappingCounter:
    """Counts mapping-network calls (a forward hook), to tell computing from reusing."""

    def __init__(self, model: Model) -> None:
        self.calls = 0
        self._handle = model.generator.mapping.register_forward_hook(self._count)

    def _count(self, *_: object) -> None:
        self.calls += 1

    def close(self) -> None:
        self._handle.remove()


@pytest.fixture(scope="module")
def model() -> Model:
    return tiny_model()


@pytest.fixture(scope="module")
def pca(model: Model) -> DirectionSet:
    return fit_pca(model, components=8, samples=SAMPLES, sigma_samples=SIGMA_SAMPLES, batch=1000)


@pytest.fixture(scope="module")
def library(model: Model, pca: DirectionSet) -> DirectionLibrary:
    return DirectionLibrary([pca, fit_sefa(model, components=4, layer_start=2, layer_end=4,
                                           sigma_samples=SIGMA_SAMPLES)])


# --- PCA ----------------------------------------------------------------------------------------

def test_pca_directions_are_orthonormal_and_ordered_by_variance(model: Model, pca: DirectionSet) -> None:
    assert pca.vectors.shape == (8, model.w_dim) and pca.method == "pca"
    np.testing.assert_allclose(pca.vectors @ pca.vectors.T, np.eye(8), atol=1e-5)
    ev = pca.explained_variance
    assert np.all(np.diff(ev) <= 0) and 0 < ev.sum() <= 1
    assert np.all(np.diff(pca.sigmas[:4]) < 0)  # measured on fresh samples, still in order
    # The sigmas come from samples the fit never saw, yet agree with the fit's variances.
    w = seeds_to_w(model, list(range(2000)))
    own = (w @ pca.vectors.T).std(0)
    assert not np.array_equal(own, pca.sigmas)
    np.testing.assert_allclose(pca.sigmas, own, rtol=0.1)
    assert pca.model_hash == model.info.content_hash


def test_pca_is_the_exact_eigendecomposition_of_the_samples(model: Model, pca: DirectionSet) -> None:
    """Streamed covariance + eigh gives the eigenvectors of the very samples it saw (in float64)."""
    from explorer.directions.sampling import FIT_STREAM, batch_sizes, sampled_w
    w = np.concatenate(list(sampled_w(model, batch_sizes(SAMPLES, 1000, 8), 0, FIT_STREAM))).astype(np.float64)
    values, vectors = np.linalg.eigh(np.cov(w, rowvar=False))
    exact = vectors[:, ::-1][:, :8].T
    np.testing.assert_allclose(np.abs(np.sum(pca.vectors * exact, axis=1)), 1.0, atol=1e-5)
    np.testing.assert_allclose(pca.explained_variance, values[::-1][:8] / values.sum(), rtol=1e-4)
    biggest = pca.vectors[np.arange(8), np.abs(pca.vectors).argmax(axis=1)]
    assert np.all(biggest > 0)  # scikit-learn's sign convention, so saved directions keep their sign


def test_pca_caps_components_at_w_dim(model: Model) -> None:
    s = fit_pca(model, components=64, samples=200, sigma_samples=50)
    assert s.count == model.w_dim


def test_cancel_stops_a_pca_job_early(model: Model) -> None:
    counter = MappingCounter(model)
    try:
        with pytest.raises(JobCancelled):
            fit_pca(model, components=4, samples=SAMPLES, sigma_samples=100, batch=500,
                    cancelled=lambda: counter.calls >= 2)
        assert counter.calls == 2  # of the 10 fitting batches

        counter.calls = 0
        handles: list[JobHandle] = []

        def run(report, cancelled):
            def report_and_cancel(p):
                handles[0].cancel()  # the user presses cancel as the first progress arrives
                report(p)
            return fit_pca(model, components=4, samples=SAMPLES, sigma_samples=100, batch=500,
                           report=report_and_cancel, cancelled=cancelled)

        handles.append(JobHandle(Job("pca", run)))
        handle = handles[0].start()
        assert handle.wait(30)
        assert handle.status == "cancelled" and handle.result is None
        assert counter.calls == 1
    finally:
        counter.close()


def test_direction_job_computes_caches_and_fills_the_library(model: Model, tmp_path) -> None:
    library = DirectionLibrary()
    spec = DirectionSpec("pca", name="quick", samples=1000, components=4, sigma_samples=200)
    handle = start_job(direction_job(model, spec, DirectionCache(tmp_path), library))
    assert handle.wait(60) and handle.status == "done", handle.error
    assert handle.progress.step == handle.progress.total
    assert library.get("quick") is handle.result
    assert DirectionCache(tmp_path).names(model.info.content_hash) == ["quick"]


# --- edits through compose ----------------------------------------------------------------------

def expected_ws(base: torch.Tensor, library: DirectionLibrary, edits) -> torch.Tensor:
    ws = base.clone()
    for e in edits:
        v, sigma = library.direction(e.direction_set, e.index)
        ws[:, e.layer_start:e.layer_end] += (e.strength * sigma) * v
    return ws


@pytest.mark.parametrize("source", ["seed", "projected"])
def test_edits_touch_exactly_their_rows_and_stack(model: Model, library: DirectionLibrary,
                                                  source: str) -> None:
    base_state = LatentState(seed=7, psi=0.7)
    if source == "projected":
        latent = torch.randn(model.num_ws, model.w_dim, generator=torch.Generator().manual_seed(1))
        base_state = LatentState(latent=encode_latent(latent.numpy()), latent_label="projection")
    base = state_ws(model, base_state)
    one = (DirectionEdit("pca", 1, 2.5, 1, 3),)
    edited = state_ws(model, base_state.replace(edits=one), library)
    assert torch.equal(edited[:, :1], base[:, :1]) and torch.equal(edited[:, 3:], base[:, 3:])
    assert not torch.equal(edited[:, 1:3], base[:, 1:3])
    assert torch.equal(edited, expected_ws(base, library, one))

    stacked = one + (DirectionEdit("sefa", 0, -1.5, 2, 4), DirectionEdit("pca", 0, 1.0, 0, None))
    state = base_state.replace(edits=stacked)
    composed = state_ws(model, state, library)
    assert torch.equal(composed, expected_ws(base, library, stacked))
    assert torch.equal(MappingCache().state_ws(model, state, library), composed)
    assert np.array_equal(render_state(model, state, library).rgba,
                          render_state(model, LatentState.from_json(state.to_json()), library).rgba)


def test_library_lookup_errors_are_user_errors(library: DirectionLibrary) -> None:
    with pytest.raises(ExplorerError, match="not loaded"):
        library.direction("nope", 0)
    with pytest.raises(ExplorerError, match="directions 0-7"):
        library.direction("pca", 8)
    other = DirectionSet("wide", "pca", np.eye(3, 64), np.ones(3))
    with pytest.raises(ExplorerError, match="w_dim"):
        library.add(other)


def test_library_reads_while_another_thread_adds_sets(pca: DirectionSet) -> None:
    library = DirectionLibrary([pca])
    errors: list[BaseException] = []

    def read() -> None:
        try:
            for _ in range(2000):
                v, sigma = library.direction("pca", 3)
                assert v.shape == (pca.w_dim,) and sigma == float(pca.sigmas[3])
        except BaseException as e:  # surfaced below
            errors.append(e)

    readers = [threading.Thread(target=read) for _ in range(2)]
    for t in readers:
        t.start()
    for i in range(200):
        library.add(pca.replace(name=f"copy{i % 5}"))
        library.remove(f"copy{(i + 2) % 5}")
    for t in readers:
        t.join()
    assert not errors


# --- cache and files ----------------------------------------------------------------------------

def test_cached_sets_reload_without_recomputing(model: Model, tmp_path) -> None:
    cache = DirectionCache(tmp_path / "cache")
    spec = DirectionSpec("pca", samples=1000, components=4, sigma_samples=200)
    counter = MappingCounter(model)
    try:
        first = cached_direction_set(model, spec, cache)
        assert counter.calls > 0
        counter.calls = 0
        again = cached_direction_set(model, spec, cache)
        assert counter.calls == 0
        np.testing.assert_array_equal(again.vectors, first.vectors)
        assert again.metadata["params"] == first.metadata["params"]
        assert cache.path(model.info.content_hash, "pca").is_file()
        changed = cached_direction_set(model, DirectionSpec("pca", samples=1200, components=4,
                                                            sigma_samples=200), cache)
        assert counter.calls > 0 and changed.metadata["params"]["samples"] == 1200
    finally:
        counter.close()
    cache.store(first.replace(name="other"))
    assert sorted(cached_library(model.info.content_hash, cache).names()) == ["other", "pca"]
    # A damaged entry is skipped when opening the model, and recomputed when asked for.
    cache.path(model.info.content_hash, "pca").write_bytes(b"not a zip")
    assert cached_library(model.info.content_hash, cache).names() == ["other"]
    assert cached_direction_set(model, spec, cache).count == 4


def test_export_import_round_trip(model: Model, pca: DirectionSet, tmp_path) -> None:
    kmeans = fit_kmeans(model, clusters=3, samples=600, epochs=1, sigma_samples=100)
    for s in (pca.replace(layer_range=(2, 5)), kmeans):
        path = tmp_path / f"{s.name}.npz"
        save_direction_set(s, path)
        back = load_direction_set(path)
        for field in ("name", "method", "layer_range", "labels", "metadata", "model_hash"):
            assert getattr(back, field) == getattr(s, field)
        for field in ("vectors", "sigmas", "explained_variance", "centres"):
            a, b = getattr(s, field), getattr(back, field)
            assert (a is None and b is None) or np.array_equal(a, b)
    (tmp_path / "bad.npz").write_bytes(b"junk")
    with pytest.raises(ExplorerError, match="direction set"):
        load_direction_set(tmp_path / "bad.npz")
    (tmp_path / "README.md").write_text("# some text\n")  # numpy would call it pickled data
    with pytest.raises(ExplorerError, match="is not a StyleGAN Explorer direction set") as raised:
        load_direction_set(tmp_path / "README.md")
    assert "pickle" not in str(raised.value)
    with pytest.raises(ExplorerError, match="could not read"):
        load_direction_set(tmp_path / "missing.npz")
    np.savez(tmp_path / "other.npz", w=np.zeros((1, 6, 32)))
    with pytest.raises(ExplorerError, match="not a StyleGAN Explorer direction set"):
        load_direction_set(tmp_path / "other.npz")


# --- SeFa ---------------------------------------------------------------------------------------

def test_sefa_vectors_are_unit_top_eigenvectors(model: Model) -> None:
    s = fit_sefa(model, components=6, layer_start=0, layer_end=4, sigma_samples=500)
    assert s.layer_range == (0, 4) and s.count == 6
    np.testing.assert_allclose(np.linalg.norm(s.vectors, axis=1), 1, atol=1e-6)
    np.testing.assert_allclose(s.vectors @ s.vectors.T, np.eye(6), atol=1e-5)
    affines = row_affines(model)
    a = torch.cat([w for r in range(4) for w in affines[r]]).double()
    a = a / a.norm(dim=1, keepdim=True)
    gram = (a.T @ a).numpy()
    v0 = s.vectors[0].astype(np.float64)
    top = float(v0 @ gram @ v0)
    np.testing.assert_allclose(gram @ v0, top * v0, atol=1e-4 * top)  # an eigenvector...
    assert top == pytest.approx(np.linalg.eigvalsh(gram)[-1], rel=1e-5)  # ...of the largest value
    assert np.all(np.diff(s.metadata["eigenvalues"]) <= 0)
    assert np.all(s.sigmas > 0)
    _, values = sefa_basis(model, 4, 6)  # another range, another factorisation
    assert not np.allclose(values[:6].numpy(), s.metadata["eigenvalues"])
    assert sorted(affines) == list(range(model.num_ws))  # every W+ row feeds some style layer


def test_sefa_on_stylegan3_skips_the_input_transform() -> None:
    sg3 = tiny_model("stylegan3", resolution=16, num_layers=4, channel_base=64)
    affines = row_affines(sg3)
    assert 0 not in affines and sorted(affines) == list(range(1, sg3.num_ws))
    s = fit_sefa(sg3, components=3, sigma_samples=100)
    np.testing.assert_allclose(np.linalg.norm(s.vectors, axis=1), 1, atol=1e-6)
    with pytest.raises(ExplorerError, match="drive no style layers"):
        fit_sefa(sg3, components=3, layer_start=0, layer_end=1, sigma_samples=100)


# --- k-means ------------------------------------------------------------------------------------

def test_kmeans_centres_and_sampling_near_them(model: Model) -> None:
    s = fit_kmeans(model, clusters=5, samples=2000, epochs=2, sigma_samples=300)
    assert s.centres.shape == (5, model.w_dim) and s.count == 5
    assert sum(s.metadata["cluster_shares"]) == pytest.approx(1)
    np.testing.assert_allclose(np.linalg.norm(s.vectors, axis=1), 1, atol=1e-6)
    centre2 = torch.from_numpy(s.centres[2].copy())
    w_seed = model.map(model.z_from_seed(11))
    assert torch.equal(near_centre(model, s, 2, seed=11, psi=0.0)[0, 0], centre2)
    assert torch.equal(near_centre(model, s, 2, seed=11, psi=1.0), w_seed)
    near = near_centre(model, s, 2, seed=11, psi=0.5)
    assert torch.allclose((near[0, 0] - centre2).norm(), 0.5 * (w_seed[0, 0] - centre2).norm())
    state = centre_state(model, s, 2, seed=11, psi=0.5, base=LatentState(psi=0.3))
    assert state.psi == 1.0 and "centre 2" in state.latent_label
    assert torch.equal(state_ws(model, state), near)
    with pytest.raises(ExplorerError, match="no k-means centres"):
        centre_state(model, fit_sefa(model, components=2, sigma_samples=50), 0, seed=1)


# --- attribute directions -----------------------------------------------------------------------

def planted(model: Model, seeds: int, *directions: np.ndarray) -> LabelledLatents:
    w = seeds_to_w(model, list(range(seeds)))
    centred = w - w.mean(0)
    labels = {f"a{i}": (centred @ d > 0).astype(np.float32) for i, d in enumerate(directions)}
    return LabelledLatents(w=w, labels=labels, source="planted")


def unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def test_binary_labels() -> None:
    nan = np.nan
    mask, y = binary_labels(np.array([0, 1, nan, 1], np.float32))
    assert mask.tolist() == [True, True, False, True] and y.tolist() == [0, 1, 1]
    assert binary_labels(np.array([3.0, 5.0]))[1].tolist() == [0, 1]
    assert binary_labels(np.array([0.1, 0.5, 0.9, 0.7]))[1].tolist() == [0, 0, 1, 1]  # above the median
    assert binary_labels(np.array([1.0, 1.0]))[1].tolist() == [1, 1]


def test_svm_recovers_a_planted_direction(model: Model) -> None:
    d = unit(np.random.default_rng(0).standard_normal(model.w_dim))
    s = fit_attributes(model, planted(model, 3000, d), sigma_samples=300)
    assert s.labels == ("a0",) and s.method == "svm"
    assert float(s.vectors[0] @ d) > 0.9
    assert s.metadata["accuracy"]["a0"] > 0.9


def test_conditional_directions_are_orthogonal_to_their_conditions(model: Model) -> None:
    rng = np.random.default_rng(1)
    d0 = unit(rng.standard_normal(model.w_dim))
    d1 = unit(d0 + unit(rng.standard_normal(model.w_dim)))  # correlated attributes
    s = fit_attributes(model, planted(model, 2000, d0, d1), condition=["a1"], sigma_samples=300)
    assert s.labels == ("a0 | a1", "a1")
    primal = fit_attributes(model, planted(model, 2000, d0, d1), sigma_samples=300)
    assert abs(float(s.vectors[0] @ primal.vectors[1])) < 1e-5
    assert abs(float(primal.vectors[0] @ primal.vectors[1])) > 0.3
    np.testing.assert_allclose(s.vectors[1], primal.vectors[1], atol=1e-6)
    # project_out with several conditions removes their whole span.
    c = [unit(rng.standard_normal(8)) for _ in range(3)]
    p = project_out(rng.standard_normal(8), c)
    assert np.linalg.norm(p) == pytest.approx(1) and np.allclose([p @ ci for ci in c], 0, atol=1e-9)
    with pytest.raises(ExplorerError, match="span"):
        project_out(c[0], c[:1])


def test_label_csv_with_seeds_and_projected_latents(model: Model, tmp_path) -> None:
    latent = torch.randn(1, model.num_ws, model.w_dim, generator=torch.Generator().manual_seed(3))
    save_latent_npz(tmp_path / "cat.npz", latent)
    (tmp_path / "labels.csv").write_text(
        "seed,latent,image,smile,age\n"
        "5,,,1,0.2\n"
        "9,,,false,\n"
        ",cat.npz,cat.jpg,yes,0.9\n")
    data = read_label_csv(model, tmp_path / "labels.csv")
    assert list(data.labels) == ["smile", "age"]
    np.testing.assert_array_equal(data.labels["smile"], [1, 0, 1])
    assert np.isnan(data.labels["age"][1])
    np.testing.assert_array_equal(data.w[:2], seeds_to_w(model, [5, 9]))
    np.testing.assert_allclose(data.w[2], latent[0].mean(0).numpy(), rtol=1e-6)
    (tmp_path / "bad.csv").write_text("image,smile\ncat.jpg,1\n")
    with pytest.raises(ExplorerError, match="'seed' or 'latent' column"):
        read_label_csv(model, tmp_path / "bad.csv")
    (tmp_path / "bad2.csv").write_text("seed,smile\n1,maybe\n")
    with pytest.raises(ExplorerError, match="row 2"):
        read_label_csv(model, tmp_path / "bad2.csv")


def test_svm_from_a_label_csv_through_the_spec(model: Model, tmp_path) -> None:
    d = unit(np.random.default_rng(2).standard_normal(model.w_dim))
    data = planted(model, 600, d)
    rows = "\n".join(f"{i},{int(v)}" for i, v in enumerate(data.labels["a0"]))
    (tmp_path / "labels.csv").write_text("seed,attr\n" + rows + "\n")
    spec = DirectionSpec("svm", labels=str(tmp_path / "labels.csv"), sigma_samples=200)
    s = cached_direction_set(model, spec, DirectionCache(tmp_path / "cache"))
    assert s.name == "svm" and float(s.vectors[0] @ d) > 0.8
    assert s.metadata["params"]["labels_digest"]

