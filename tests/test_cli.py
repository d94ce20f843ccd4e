"""The `info` and `generate` subcommands on real checkpoint files, and their error behaviour."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import explorer
from explorer.cli import main



def test_info_describes_checkpoint(tiny_checkpoint, capsys):
    assert main(["info", str(tiny_checkpoint), "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "stylegan-explorer .safetensors" in out
    assert "16 x 16" in out and "num_ws:        6" in out
    assert "b16.conv1" in out
    assert "stored as:     float32" in out and "trained:" not in out  # a random model, never trained


def test_generate_writes_one_png_per_seed_and_a_grid(tiny_checkpoint, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["generate", str(tiny_checkpoint), "--seeds", "3-5,9", "--psi", "0.7",
                 "--cutoff", "2", "--out", str(out), "--device", "cpu"]) == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == ["grid.png", "seed0003.png", "seed0004.png", "seed0005.png", "seed0009.png"]
    # The saved pixels are what the Python API renders for that seed.
    model = explorer.load(tiny_checkpoint)
    ws = model.map(model.z_from_seed(9), psi=0.7, cutoff=2)
    expected = explorer.to_uint8(model.synthesize(ws))[0]
    assert np.array_equal(np.asarray(Image.open(out / "seed0009.png")), expected)
    assert Image.open(out / "grid.png").size == (32, 32)


def test_generate_random_noise_is_reproducible(tiny_checkpoint, tmp_path):
    for name in ("a", "b"):
        assert main(["generate", str(tiny_checkpoint), "--seeds", "1", "--noise-mode", "random",
                     "--out", str(tmp_path / name)]) == 0
    a = np.asarray(Image.open(tmp_path / "a" / "seed0001.png"))
    b = np.asarray(Image.open(tmp_path / "b" / "seed0001.png"))
    assert np.array_equal(a, b)


@pytest.mark.parametrize("args, message", [
    (["info", "{missing}"], "no such file"),
    (["info", "{text}"], "not a checkpoint"),
    (["generate", "{ckpt}", "--seeds", "x-1", "--out", "{tmp}"], "bad seed list"),
    (["generate", "{ckpt}", "--cutoff", "99", "--out", "{tmp}"], "--cutoff"),
    (["generate", "{ckpt}", "--class", "1", "--out", "{tmp}"], "unconditional"),
])
def test_errors_are_one_line_and_nonzero(args, message, tiny_checkpoint, tmp_path, capsys):
    text = tmp_path / "notes.txt"
    text.write_text("hello\n")
    fill = dict(missing=str(tmp_path / "nope.pkl"), text=str(text), ckpt=str(tiny_checkpoint), tmp=str(tmp_path / "o"))
    code = main([a.format(**fill) for a in args])
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("error: ") and err.count("\n") == 1 and message in err
    assert "Traceback" not in err


def test_generate_applies_direction_edits_to_their_rows(tiny_checkpoint, tmp_path):
    cache = tmp_path / "cache"
    assert main(["directions", str(tiny_checkpoint), "--method", "pca", "--samples", "2000",
                 "--components", "4", "--cache-dir", str(cache), "--out", str(tmp_path / "pca.npz")]) == 0
    plain, edited = tmp_path / "plain", tmp_path / "edited"
    assert main(["generate", str(tiny_checkpoint), "--seeds", "2", "--out", str(plain)]) == 0
    assert main(["generate", str(tiny_checkpoint), "--seeds", "2", "--out", str(edited),
                 "--edit", f"{tmp_path / 'pca.npz'}:0:+3.0:0-5"]) == 0
    a = np.asarray(Image.open(plain / "seed0002.png")).astype(int)
    b = np.asarray(Image.open(edited / "seed0002.png")).astype(int)
    assert np.abs(a - b).max() > 10
    # A layer preset is resolved once the model is loaded: "coarse" is the same rows as their numbers.
    model = explorer.load(tiny_checkpoint, device="cpu")
    from explorer.directions.layers import preset_rows
    start, end = preset_rows(model, "coarse")
    for name, rows in (("preset", "coarse"), ("rows", f"{start}-{end - 1}")):
        assert main(["generate", str(tiny_checkpoint), "--seeds", "2", "--out", str(tmp_path / name),
                     "--edit", f"{tmp_path / 'pca.npz'}:0:+3.0:{rows}"]) == 0
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "preset" / "seed0002.png")),
                                  np.asarray(Image.open(tmp_path / "rows" / "seed0002.png")))
    assert np.abs(np.asarray(Image.open(tmp_path / "preset" / "seed0002.png")).astype(int) - a).max() > 0


def test_a_grid_leaves_no_empty_cell_when_the_count_allows():
    from explorer.fileio import grid_columns, image_grid
    assert [grid_columns(n) for n in (1, 3, 4, 6, 8, 12, 16, 32)] == [1, 3, 2, 3, 4, 4, 4, 8]
    assert grid_columns(7) == 3  # a prime: near-square, with empty cells, rather than a 7 x 1 strip
    tiles = np.arange(1, 9, dtype=np.uint8).reshape(8, 1, 1, 1).repeat(2, 1).repeat(2, 2)
    grid = image_grid(tiles)
    assert grid.shape == (4, 8, 1) and (grid > 0).all()


def test_a_misspelled_command_is_named_not_opened_as_a_checkpoint(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["vidoe", "model.pkl", "--out", "x.gif"]) == 2
    assert "no command 'vidoe'; did you mean 'video'?" in capsys.readouterr().err
    (tmp_path / "vidoe").write_bytes(b"")  # a file of that name is opened (as the app's checkpoint)
    from explorer.cli.main import misspelled_command
    assert misspelled_command("vidoe") is None and misspelled_command("genrate") == "generate"
    assert misspelled_command("stylegan3-t-ffhq-1024") is None and misspelled_command("ffhq.pkl") is None


def test_a_latent_npz_given_as_a_model_says_what_it_is(tmp_path, capsys):
    latent = tmp_path / "projected_w.npz"
    np.savez(latent, w=np.zeros((1, 6, 16), np.float32))
    assert main(["info", str(latent)]) == 1
    err = capsys.readouterr().err
    assert "is a NumPy .npz (a W+ latent or a direction set), not a model" in err
    assert len(err.strip().splitlines()) == 1


def test_generated_pictures_carry_the_state_that_redraws_them(tiny_checkpoint, tmp_path, monkeypatch):
    """The app opens a generated PNG as its exact picture: the drop is read as a state restore, the
    state fits the model unchanged (no "saved with another model"), and it renders the same pixels."""
    from explorer.app.controller import fit_state_to_model
    from explorer.app.dropped_files import RestoreState, classify_dropped_file
    from explorer.directions import edits_from_args
    from explorer.engine.render import render_state
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # where `generate --edit pca:...` looks
    model = explorer.load(tiny_checkpoint)
    for name, p in model.generator.named_parameters():  # an untrained G ignores its noise: wake it up
        if name.endswith("noise_strength"):
            p.data.fill_(0.5)
    ckpt = tmp_path / "noisy.safetensors"
    explorer.save(model, ckpt)
    model = explorer.load(ckpt)  # with the content hash of the weights as saved
    assert main(["directions", str(ckpt), "--method", "pca", "--samples", "2000", "--components", "4",
                 "--out", str(tmp_path / "pca.npz")]) == 0
    by_name, by_file = "pca:0:+2.0:0-3", f"{tmp_path / 'pca.npz'}:0:+2.0:0-3"
    _, library = edits_from_args(model, [by_name])
    cases = {"none": [], "plain": ["--psi", "0.7", "--cutoff", "2"], "noise": ["--noise-mode", "random"],
             "by_name": ["--edit", by_name], "by_file": ["--edit", by_file]}
    pixels = {}
    for name, flags in cases.items():
        assert main(["generate", str(ckpt), "--seeds", "5", "--out", str(tmp_path / name), *flags]) == 0
        png = tmp_path / name / "seed0005.png"
        action = classify_dropped_file(png)
        assert isinstance(action, RestoreState) and action.state.seed == 5, name
        assert fit_state_to_model(action.state, model.info) == action.state, name
        pixels[name] = np.asarray(Image.open(png))
        assert np.array_equal(render_state(model, action.state, library).rgba[..., :3], pixels[name]), name
    assert classify_dropped_file(tmp_path / "by_name" / "seed0005.png").state.edits  # the app's sliders get it
    from_file = classify_dropped_file(tmp_path / "by_file" / "seed0005.png").state
    assert not from_file.edits and from_file.latent  # a set the app knows by no name: its W+ instead
    assert np.array_equal(pixels["by_name"], pixels["by_file"])
    assert np.abs(pixels["by_name"].astype(int) - pixels["none"]).max() > 10  # the edit did something
    assert np.abs(pixels["noise"].astype(int) - pixels["none"]).max() > 0  # and so did the noise
    assert not isinstance(classify_dropped_file(tmp_path / "plain" / "grid.png"), RestoreState)  # no one picture
