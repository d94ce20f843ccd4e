"""Every reference fixture, loaded from a real checkpoint file, reproduces expected.npz via `Model`.

NVIDIA fixtures are loaded from their shipped network-snapshot.pkl or a snapshot pickle built
from state.npz; rosinality fixtures from their checkpoint.pt or a built torch.save dict. Only
the public Model API is used, as every front end does.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import explorer
from tests import checkpoint_builders as cb
from tests.conftest import FIXTURES_DIR, fixture_names

WS_ATOL = 1e-5
IMG_ATOL = 1e-4


def checkpoint_for(fixture: Path, tmp_path: Path) -> Path:
    """The file a user would have for this fixture (a hidden set may hold formats we cannot build)."""
    fmt = cb.read_config(fixture)["format"]
    if fmt not in (*cb.NVIDIA_FORMATS, cb.ROSINALITY_FORMAT):
        pytest.skip(f"no checkpoint builder for fixture format {fmt!r}")
    return cb.user_checkpoint(fixture, tmp_path)


def _max_err(actual: torch.Tensor, expected: np.ndarray) -> float:
    assert tuple(actual.shape) == expected.shape
    return float((actual.cpu() - torch.from_numpy(expected)).abs().max())


class LoadedFixtures:
    """Loads each fixture's checkpoint once per test module and keeps its expected arrays."""

    def __init__(self, tmp_path_factory: pytest.TempPathFactory) -> None:
        self._tmp = tmp_path_factory
        self._cache: dict[str, tuple[explorer.Model, dict[str, np.ndarray]]] = {}

    def __call__(self, name: str) -> tuple[explorer.Model, dict[str, np.ndarray]]:
        if name not in self._cache:
            fixture = FIXTURES_DIR / name
            model = explorer.load(checkpoint_for(fixture, self._tmp.mktemp(name)))
            with np.load(fixture / "expected.npz") as data:
                self._cache[name] = (model, {k: data[k] for k in data.files})
        return self._cache[name]


@pytest.fixture(scope="module")
def fixture_model(tmp_path_factory: pytest.TempPathFactory) -> LoadedFixtures:
    return LoadedFixtures(tmp_path_factory)


@pytest.mark.parametrize("name", fixture_names())
def test_mapping_matches(name: str, fixture_model: LoadedFixtures) -> None:
    model, e = fixture_model(name)
    z = torch.from_numpy(e["z"])
    c = torch.from_numpy(e["c"]) if "c" in e else None
    ws = model.map(z, c)
    assert _max_err(ws, e["ws"]) < WS_ATOL
    assert _max_err(ws[:, 0], e["w"]) < WS_ATOL
    assert _max_err(model.map(z, c, psi=float(e["trunc_psi"])), e["ws_trunc"]) < WS_ATOL
    if "ws_trunc_cut" in e:
        cut = model.map(z, c, psi=float(e["trunc_cut_psi"]), cutoff=int(e["trunc_cut_cutoff"]))
        assert _max_err(cut, e["ws_trunc_cut"]) < WS_ATOL
    k, b = int(e["mix_k"]), torch.from_numpy(e["mix_b_index"]).long()
    mixed = torch.cat([ws[:, :k], ws[b][:, k:]], dim=1)
    assert _max_err(mixed, e["ws_mix"]) < WS_ATOL


IMAGE_CASES = [("img", "ws", {}), ("img_trunc", "ws_trunc", {}), ("img_trunc_cut", "ws_trunc_cut", {}),
               ("img_mix", "ws_mix", {}), ("img_noise_none", "ws", {"noise_mode": "none"})]


@pytest.mark.parametrize("name", fixture_names())
@pytest.mark.parametrize("image_key, ws_key, kwargs", IMAGE_CASES, ids=[c[0] for c in IMAGE_CASES])
def test_images_match(name: str, image_key: str, ws_key: str, kwargs: dict, fixture_model: LoadedFixtures) -> None:
    model, e = fixture_model(name)
    if image_key not in e:
        pytest.skip(f"{name} has no {image_key}")
    img = model.synthesize(torch.from_numpy(e[ws_key]), **kwargs)
    assert _max_err(img, e[image_key]) < IMG_ATOL


@pytest.mark.parametrize("name", fixture_names())
def test_sg3_transform_matches(name: str, fixture_model: LoadedFixtures) -> None:
    model, e = fixture_model(name)
    if "img_transform" not in e:
        pytest.skip(f"{name} has no input transform case")
    transform = cb.read_config(FIXTURES_DIR / name)["expected_settings"]["transform"]
    img = model.synthesize(torch.from_numpy(e["ws"]), translate=transform["translate"],
                           rotate=transform["rotate"])
    assert _max_err(img, e["img_transform"]) < IMG_ATOL
    assert _max_err(model.synthesize(torch.from_numpy(e["ws"])), e["img"]) < IMG_ATOL, \
        "the transform must not stick to the model"


@pytest.mark.parametrize("name", fixture_names())
@pytest.mark.parametrize("kind", ["tf-pickle", "rosinality"])
def test_other_formats_of_the_same_weights(name: str, kind: str, tmp_path: Path) -> None:
    """SG2 weights re-encoded as a TF-era pickle or a rosinality .pt render the same images."""
    fixture = FIXTURES_DIR / name
    config = cb.read_config(fixture)
    if config["format"] not in cb.NVIDIA_FORMATS or "synthesis.b4.const" not in cb.read_state(fixture):
        pytest.skip(f"{name} is not an NVIDIA StyleGAN2 fixture")
    if kind == "rosinality" and not cb.has_rosinality_equivalent(fixture):
        pytest.skip(f"{name} has no rosinality equivalent")
    # Past this point a builder error is a failure, never a skip.
    path = (cb.write_tf_pickle(fixture, tmp_path / "tf.pkl") if kind == "tf-pickle"
            else cb.write_rosinality_checkpoint(fixture, tmp_path / "rosi.pt"))
    model = explorer.load(path)
    with np.load(fixture / "expected.npz") as e:
        c = torch.from_numpy(e["c"]) if "c" in e.files else None
        assert _max_err(model.map(torch.from_numpy(e["z"]), c), e["ws"]) < WS_ATOL
        assert _max_err(model.synthesize(torch.from_numpy(e["ws"])), e["img"]) < IMG_ATOL
