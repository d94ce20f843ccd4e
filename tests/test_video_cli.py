"""`stylegan-explorer video`: walks, sweeps and camera moves from the command line; one-line errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import explorer
from explorer.cli import main
from explorer.directions import DirectionLibrary, fit_pca, save_direction_set
from explorer.latent.state import DirectionEdit, LatentState
from explorer.model import Model
from explorer.nets import build_generator
from explorer.video import VideoPath, path_states
from explorer.video.frames import fit_size
from explorer.engine import render_state
from tests.test_video import decode, psnr


@pytest.fixture
def checkpoint(tiny_checkpoint):
    return tiny_checkpoint


def test_seed_walk_to_gif_and_mp4(checkpoint, tmp_path, capsys):
    gif = tmp_path / "walk.gif"
    assert main(["video", str(checkpoint), "--seeds", "0,3,0", "--frames-per-key", "4", "--psi", "0.7",
                 "--fps", "25", "--out", str(gif), "--device", "cpu"]) == 0
    assert "wrote" in capsys.readouterr().out
    frames, _, pts = decode(gif)
    assert len(frames) == 9 and frames[0].shape == (16, 16, 3) and pts[1] == 4  # 25 fps: 4/100 s each
    mp4 = tmp_path / "walk.mp4"
    assert main(["video", str(checkpoint), "--seeds", "0-2", "--frames-per-key", "3", "--loop", "--space", "z",
                 "--size", "64", "--out", str(mp4), "--device", "cpu"]) == 0
    frames, (rate, _), _ = decode(mp4)
    assert len(frames) == 9 and frames[0].shape == (64, 64, 3) and rate == 30
    model = explorer.load(checkpoint, device="cpu")
    first = fit_size(render_state(model, LatentState(seed=0)).rgba[..., :3], 64)
    assert psnr(frames[0], first) > 27


def test_direction_sweep_from_a_set_file(checkpoint, tmp_path):
    model = explorer.load(checkpoint, device="cpu")
    directions = fit_pca(model, components=2, samples=300, sigma_samples=50)
    set_file = tmp_path / "pca.npz"
    save_direction_set(directions, set_file)
    out = tmp_path / "frames"
    assert main(["video", str(checkpoint), "--seeds", "5", "--sweep", f"{set_file}:1:-3:+3:0-3",
                 "--frames-per-key", "4", "--out", str(out), "--device", "cpu"]) == 0
    library = DirectionLibrary([directions.replace(name=str(set_file))])
    keys = [LatentState(seed=5, edits=(DirectionEdit(str(set_file), 1, s, 0, 4),)) for s in (-3.0, 3.0)]
    states = path_states(model, VideoPath.uniform(keys, 4), library)
    from PIL import Image
    for i, state in enumerate(states):
        png = np.asarray(Image.open(out / f"frame{i:06d}.png"))
        assert np.abs(png.astype(int) - render_state(model, state, library).rgba[..., :3]).max() <= 1


@pytest.mark.parametrize("args,message", [
    (["--seeds", "0,1,2", "--rotate-path", "0:90"], "--rotate-path gives 2 keyframes but --seeds gives 3"),
    (["--seeds", "0", "--rotate-path=-90:x"], "degrees separated by ':'"),
    (["--seeds", "4"], "at least two keyframes"),
    (["--seeds", "0,1", "--sweep", "pca:x:1:2"], "bad --sweep"),
    (["--seeds", "0,1", "--translate-path", "0,0:1"], "X,Y pairs"),
    (["--seeds", "0,a"], "bad seed list"),
    (["--seeds", "0,1", "--fps", "60", "--out-name", "a.gif"], "at most 50 fps"),
    (["--seeds", "0,1", "--out-name", "a.avi"], "name an .mp4 or .gif"),
    (["--seeds", "0,1", "--out-name", "a.mp4", "--size", "33"], "even size"),
])
def test_bad_input_is_one_line(checkpoint, tmp_path, capsys, args, message):
    if "--out-name" in args:
        i = args.index("--out-name")
        args = args[:i] + ["--out", str(tmp_path / args[i + 1])] + args[i + 2:]
    else:
        args = args + ["--out", str(tmp_path / "v.mp4")]
    assert main(["video", str(checkpoint), *args]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and message in err and "\n" not in err


def test_existing_output_is_kept_without_force(checkpoint, tmp_path, capsys):
    out = tmp_path / "walk.mp4"
    out.write_bytes(b"keep me")
    assert main(["video", str(checkpoint), "--seeds", "0,1", "--frames-per-key", "2", "--out", str(out)]) == 1
    assert "already exists; pass --force" in capsys.readouterr().err
    assert out.read_bytes() == b"keep me"
    assert main(["video", str(checkpoint), "--seeds", "0,1", "--frames-per-key", "2", "--out", str(out),
                 "--force", "--device", "cpu"]) == 0
    assert len(decode(out)[0]) == 3


def test_stylegan3_camera_move(tmp_path):
    torch.manual_seed(0)
    g = build_generator("stylegan3", dict(z_dim=16, w_dim=16, c_dim=0, img_resolution=16, img_channels=3,
                                          channel_base=256, channel_max=16, num_layers=4,
                                          mapping_kwargs=dict(num_layers=2)))
    ckpt = tmp_path / "sg3.safetensors"
    explorer.save(Model(g, None, format="test"), ckpt)
    out = tmp_path / "pan"
    assert main(["video", str(ckpt), "--seeds", "1", "--translate-path=-0.2,0:0.2,0.1", "--rotate-path", "0:20",
                 "--frames-per-key", "2", "--ease", "linear", "--out", str(out), "--device", "cpu"]) == 0
    model = explorer.load(ckpt, device="cpu")
    from PIL import Image
    middle = LatentState(seed=1, translate=(0.0, 0.05), rotate=10.0)
    png = np.asarray(Image.open(out / "frame000001.png"))
    np.testing.assert_array_equal(png, render_state(model, middle).rgba[..., :3])
    assert np.abs(png.astype(int) - np.asarray(Image.open(out / "frame000000.png"))).max() > 10
