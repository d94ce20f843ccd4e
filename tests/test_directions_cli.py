"""Directions from the outside: edit strings, layer presets, the preview strip, the `directions`
command and labels from a dataset manifest."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest
import torch
from PIL import Image

import explorer
from explorer.directions import (DirectionCache, DirectionLibrary, DirectionSpec,
                                 cached_direction_set, direction_strip, edits_from_args, fit_pca,
                                 layer_presets, parse_edit, parse_layer_range, preset_rows,
                                 row_resolutions, save_direction_set)
from explorer.cli.directions import add_parser, run
from explorer.directions.manifest import manifest_labels
from explorer.engine import render_state
from explorer.errors import ExplorerError
from explorer.latent.compose import state_ws
from explorer.latent.state import DirectionEdit, LatentState
from explorer.model import Model
from tests.test_directions import tiny_model

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def model() -> Model:
    return tiny_model()


@pytest.fixture(scope="module")
def pca(model: Model):
    return fit_pca(model, components=6, samples=1000, sigma_samples=300)


def test_parse_edit() -> None:
    assert parse_edit("pca:3:+2.0:0-5") == ("pca", 3, 2.0, 0, 6)
    assert parse_edit("pca:3:-1.5") == ("pca", 3, -1.5, None, None)
    assert parse_edit("sefa:0:1:4-") == ("sefa", 0, 1.0, 4, None)
    assert parse_edit("sefa:0:1:7") == ("sefa", 0, 1.0, 7, 8)
    assert parse_edit(r"C:\sets\pca.npz:2:0.5") == (r"C:\sets\pca.npz", 2, 0.5, None, None)
    assert parse_edit("d:/x.npz:2:0.5:1-2") == ("d:/x.npz", 2, 0.5, 1, 3)
    for bad in ("pca", "pca:x:1", "pca:1:big", ":1:1", "pca:-1:1", "pca:1:1:5-2", "pca:1:1:a-b"):
        with pytest.raises(ExplorerError):
            parse_edit(bad)
    with pytest.raises(ExplorerError, match="needs the model"):
        parse_edit("pca:1:1:coarse")


def test_layer_presets_follow_resolution(model: Model) -> None:
    assert model.info.ws_resolutions == [4, 4, 8, 8, 16, 16]
    assert preset_rows(model, "coarse") == (0, 4) and preset_rows(model, "middle") == (4, 6)
    with pytest.raises(ExplorerError, match="no fine layers"):
        preset_rows(model, "fine")
    assert layer_presets(model) == {"coarse": (0, 4), "middle": (4, 6)}
    big = tiny_model(resolution=64)  # rows drive 4,4,8,8,16,16,32,32,64,64
    assert [preset_rows(big, p) for p in ("coarse", "middle", "fine")] == [(0, 4), (4, 8), (8, 10)]
    sg3 = tiny_model("stylegan3", resolution=64, channel_base=64)  # sizes carry 10 px margins
    assert row_resolutions(sg3) == [16] * 5 + [32] * 4 + [64] * 7
    assert [preset_rows(sg3, p) for p in ("coarse", "middle", "fine")] == [(0, 5), (5, 9), (9, 16)]
    assert parse_layer_range("middle", model) == (4, 6)
    assert parse_layer_range("2-3", model) == (2, 4)
    with pytest.raises(ExplorerError, match="rows are 0-5"):
        parse_layer_range("3-6", model)


def test_edits_from_args_reproduce_through_compose(model: Model, pca, tmp_path) -> None:
    cache = DirectionCache(tmp_path / "cache")
    cache.store(pca)
    save_direction_set(pca.replace(layer_range=(2, 4)), tmp_path / "mine.npz")
    path = str(tmp_path / "mine.npz")
    edits, library = edits_from_args(model, ["pca:3:+2.0:0-1", f"{path}:1:-1", "pca:0:0.5:coarse"], cache)
    assert edits == (DirectionEdit("pca", 3, 2.0, 0, 2), DirectionEdit(path, 1, -1.0, 2, 4),
                     DirectionEdit("pca", 0, 0.5, 0, 4))
    state = LatentState(seed=4, edits=edits)
    ws = state_ws(model, state, library)
    base = state_ws(model, LatentState(seed=4))
    expected = base.clone()
    for e in edits:
        v, sigma = library.direction(e.direction_set, e.index)
        expected[:, e.layer_start:e.layer_end] += (e.strength * sigma) * v
    assert torch.equal(ws, expected) and torch.equal(ws[:, 4:], base[:, 4:])
    with pytest.raises(ExplorerError, match="no direction set 'sefa'.*cached sets for this model: pca"):
        edits_from_args(model, ["sefa:0:1"], cache)
    with pytest.raises(ExplorerError, match="directions 0-5"):
        edits_from_args(model, ["pca:6:1"], cache)
    other = tiny_model(resolution=8)
    with pytest.raises(ExplorerError, match="recompute it for this model"):
        edits_from_args(other, [f"{path}:1:1"], cache)


def test_direction_strip_tiles_are_the_edited_renders(model: Model, pca) -> None:
    library = DirectionLibrary([pca.replace(layer_range=(0, 4))])
    state = LatentState(seed=2, noise_mode="random", noise_seed=5)
    strip = direction_strip(model, state, library, "pca", 0, strengths=(-2, 0, 2), pad=1)
    h = w = model.resolution
    assert strip.shape == (h, 3 * w + 2, 4) and strip.dtype == np.uint8
    tiles = [strip[:, i * (w + 1):i * (w + 1) + w] for i in range(3)]
    assert np.array_equal(tiles[1], render_state(model, state).rgba)
    edited = state.replace(edits=(DirectionEdit("pca", 0, 2.0, 0, 4),))
    assert np.array_equal(tiles[2], render_state(model, edited, library).rgba)
    assert not np.array_equal(tiles[0], tiles[2])
    fine = direction_strip(model, state, library, "pca", 0, strengths=(2,), layer_start=4)
    assert np.array_equal(fine, render_state(
        model, state.replace(edits=(DirectionEdit("pca", 0, 2.0, 4, None),)), library).rgba)


def test_directions_command_computes_then_reuses(model: Model, tmp_path, capsys) -> None:
    ckpt = tmp_path / "tiny.safetensors"
    explorer.save(model, ckpt)
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(dest="command"))
    argv = ["directions", str(ckpt), "--method", "sefa", "--components", "4", "--layers", "coarse",
            "--sigma-samples", "300", "--cache-dir", str(tmp_path / "cache"),
            "--out", str(tmp_path / "sefa.npz"), "--device", "cpu"]
    assert run(parser.parse_args(argv)) == 0
    out = capsys.readouterr().out
    assert "100.0%" in out and "sefa: 4 sefa directions" in out and "W+ rows 0-3" in out
    assert (tmp_path / "sefa.npz").is_file()
    with pytest.raises(ExplorerError, match="sefa.npz already exists; pass --force"):
        run(parser.parse_args(argv))
    assert run(parser.parse_args(argv + ["--force"])) == 0
    out = capsys.readouterr().out
    assert "reused the cached set" in out and "replaced" not in out
    other = [a if a != "300" else "200" for a in argv] + ["--force"]  # same name, other settings
    assert run(parser.parse_args(other)) == 0
    assert "this replaced the set 'sefa' cached earlier with other settings (sigma_samples 300 -> 200)" \
        in capsys.readouterr().out
    with pytest.raises(ExplorerError, match="need labels"):
        run(parser.parse_args(argv[:3] + ["svm"]))


def test_labels_from_a_dataset_manifest(model: Model, tmp_path) -> None:
    rng = np.random.default_rng(0)
    images = []
    for i in range(40):
        dark = i % 2 == 0
        pixels = rng.integers(0, 80, (16, 16, 3)) if dark else rng.integers(170, 256, (16, 16, 3))
        Image.fromarray(pixels.astype(np.uint8)).save(tmp_path / f"{i:03d}.png")
        images.append({"file": f"{i:03d}.png", "shade": "dark" if dark else "light",
                       "hat": "cap" if dark else None})
    (tmp_path / "manifest.json").write_text(json.dumps({"images": images}))
    data = manifest_labels(model, tmp_path, ["hat", "shade=light"], count=24)
    assert data.w.shape == (24, model.w_dim) and set(data.labels) == {"hat", "shade=light"}
    for values in data.labels.values():
        assert set(np.unique(values[~np.isnan(values)])) <= {0.0, 1.0}
    assert data.metadata["classifier_accuracy"] == {"hat": 1.0, "shade=light": 1.0}
    with pytest.raises(ExplorerError, match="at least 5 images"):
        manifest_labels(model, tmp_path, ["beard"], count=4)
    spec = DirectionSpec("svm", labels=str(tmp_path))
    with pytest.raises(ExplorerError, match="name the attributes"):
        cached_direction_set(model, spec, DirectionCache(tmp_path / "cache"))
