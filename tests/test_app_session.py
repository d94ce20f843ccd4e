"""Saved PNGs carry their state; W+ .npz files; names are fresh and nothing is ever overwritten."""

import numpy as np
import pytest
from PIL import Image

from explorer.app.session import free_name, save_image, save_latent
from explorer.latent.png_state import STATE_KEY, read_png_state
from explorer.errors import ExplorerError
from explorer.fileio import write_new_file
from explorer.latent.npz import load_latent_npz
from explorer.latent.state import LatentState, encode_latent


def _rgba(seed=0, size=8):
    rgba = np.random.default_rng(seed).integers(0, 256, (size, size, 4), dtype=np.uint8)
    rgba[..., 3] = 255
    return rgba


def test_save_image_round_trips_state_pixels_and_latent(tmp_path):
    state = LatentState(seed=42, psi=0.7, mix_seed=3, mix_weights=(0.0, 1.0), noise_gains=((8, 0.0),))
    ws = np.random.default_rng(1).standard_normal((1, 4, 6)).astype(np.float32)
    saved = save_image(tmp_path, _rgba(), state, ws)
    assert saved.png.name == "seed0042.png" and saved.npz.name == "seed0042.npz"
    assert read_png_state(saved.png) == state
    with Image.open(saved.png) as im:
        assert STATE_KEY in im.text
        np.testing.assert_array_equal(np.asarray(im.convert("RGB")), _rgba()[..., :3])
    with np.load(saved.npz) as data:
        assert data["w"].shape == (1, 4, 6)
        np.testing.assert_array_equal(data["w"], ws)
    np.testing.assert_array_equal(load_latent_npz(saved.npz)[0], ws[0])


def test_save_image_never_overwrites(tmp_path):
    state = LatentState(seed=42)
    ws = np.zeros((1, 2, 3), np.float32)
    (tmp_path / "seed0042.npz").write_bytes(b"keep me")
    first = save_image(tmp_path, _rgba(0), state, ws)
    second = save_image(tmp_path, _rgba(1), state, ws)
    assert first.png.name == "seed0042_001.png"
    assert second.png.name == "seed0042_002.png"
    assert (tmp_path / "seed0042.npz").read_bytes() == b"keep me"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_latent_sources_get_their_own_stem(tmp_path):
    latent = encode_latent(np.zeros((2, 3), np.float32))
    saved = save_image(tmp_path, _rgba(), LatentState(latent=latent), np.zeros((1, 2, 3), np.float32))
    assert saved.png.name == "latent.png" and saved.view_layer is None
    projected = LatentState(latent=latent, latent_label="projection of my cat (2).JPG")
    assert save_image(tmp_path, _rgba(), projected, np.zeros((1, 2, 3), np.float32)).png.name == \
        "projection-of-my-cat-2.png"
    opened = LatentState(latent=latent, latent_label="w_final.npz")
    assert save_image(tmp_path, _rgba(), opened, np.zeros((1, 2, 3), np.float32)).png.name == "w_final.png"
    # A layer view saves the features on screen: its name (and the caller's status line) says so.
    layer_view = save_image(tmp_path, _rgba(), LatentState(seed=7, view_layer="b8.conv1"), np.zeros((1, 2, 3), np.float32))
    assert layer_view.png.name == "seed0007-b8.conv1.png" and layer_view.view_layer == "b8.conv1"


def test_write_new_file_refuses_existing(tmp_path):
    target = tmp_path / "a.bin"
    write_new_file(target, b"1")
    with pytest.raises(FileExistsError):
        write_new_file(target, b"2")
    assert target.read_bytes() == b"1"
    assert free_name(tmp_path, "a", (".bin",)) == "a_001"


def test_save_latent_picks_a_fresh_name(tmp_path):
    ws = np.ones((1, 3, 2), np.float32)
    first = save_latent(tmp_path / "mine", ws)
    second = save_latent(tmp_path / "mine.npz", ws)
    assert (first.name, second.name) == ("mine.npz", "mine_001.npz")


def test_plain_pngs_and_other_files_have_no_state(tmp_path):
    plain = tmp_path / "plain.png"
    Image.fromarray(_rgba()[..., :3]).save(plain)
    assert read_png_state(plain) is None
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    assert read_png_state(text) is None


def test_load_latent_errors_are_one_line(tmp_path):
    bad = tmp_path / "other.npz"
    np.savez(bad, z=np.zeros(3))
    with pytest.raises(ExplorerError, match="no array named 'w'"):
        load_latent_npz(bad)
    wrong = tmp_path / "wrong.npz"
    np.savez(wrong, w=np.zeros((2, 2, 2, 2)))
    with pytest.raises(ExplorerError, match="must be"):
        load_latent_npz(wrong)
    with pytest.raises(ExplorerError, match=r"^no latent file .*missing\.npz$"):
        load_latent_npz(tmp_path / "missing.npz")
    with pytest.raises(ExplorerError, match=r"\(it is a folder\)"):
        load_latent_npz(tmp_path)
    text = tmp_path / "README.md"
    text.write_text("# not a latent")
    with pytest.raises(ExplorerError, match=r"^README\.md is not a latent \.npz file$"):
        load_latent_npz(text)


def test_saved_files_are_readable_by_others(tmp_path):
    import os
    import stat
    if os.name != "posix":
        return
    saved = save_image(tmp_path, _rgba(), LatentState(), np.zeros((1, 2, 3), np.float32))
    assert stat.S_IMODE(saved.png.stat().st_mode) & 0o044 == 0o044
