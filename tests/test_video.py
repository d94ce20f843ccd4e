"""Videos: keyframe paths, per-frame states, batched rendering, MP4/GIF/PNG export (decoded back
with PyAV, the library that wrote them), cancel and never-overwrite. Tiny real models throughout."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import torch

from explorer.directions import DirectionLibrary, fit_pca
from explorer.engine import render_state
from explorer.jobs import JobCancelled, Progress
from explorer.errors import InputError
from explorer.latent.compose import state_ws
from explorer.latent.state import DirectionEdit, LatentState
from explorer.model import Model
from explorer.nets import build_generator
from explorer.video import (ExportSettings, PathSource, StateSequence, VideoPath, borrow_model,
                            export_video, output_format, path_frames, path_states, render_frames)
from explorer.video.frames import fit_size
from explorer.video.path import ease, slerp
from tests.test_app_controller import tiny_model



@pytest.fixture(scope="module")
def model() -> Model:
    return tiny_model(seed=4, img_resolution=32)


def decode(path: Path) -> tuple[list[np.ndarray], object, list[int]]:
    """Every frame as RGB, the stream's average rate, and each frame's pts (in the stream's time base)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames, pts = [], []
        for frame in container.decode(stream):
            frames.append(frame.to_ndarray(format="rgb24"))
            pts.append(frame.pts)
        return frames, (stream.average_rate, stream.time_base), pts


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


def rendered(model: Model, state: LatentState, size: int, directions=None) -> np.ndarray:
    return fit_size(render_state(model, state, directions).rgba[..., :3], size)


# --- paths ---------------------------------------------------------------------------------------
def test_path_geometry_open_and_looped():
    keys = [LatentState(seed=s) for s in (0, 5, 9)]
    open_path = VideoPath.uniform(keys, 4)
    assert open_path.frame_count == 9
    assert [open_path.position(i) for i in (0, 3, 4, 8)] == [(0, 0), (0, 3), (1, 0), (1, 4)]
    loop = VideoPath.uniform(keys, 4, loop=True)
    assert loop.frame_count == 12 and loop.position(11) == (2, 3)
    uneven = VideoPath(tuple(keys), (2, 5))
    assert uneven.frame_count == 8 and uneven.position(2) == (1, 0)
    with pytest.raises(InputError, match="at least two keyframes"):
        VideoPath.uniform(keys[:1], 4)
    with pytest.raises(InputError, match="2 segments"):
        VideoPath(tuple(keys), (3,))
    with pytest.raises(InputError, match="space"):
        VideoPath.uniform(keys, 4, space="q")


def test_easing_and_slerp():
    assert ease(0.0, "smooth") == 0.0 and ease(1.0, "smooth") == 1.0 and ease(0.5, "smooth") == pytest.approx(0.5)
    assert ease(0.1, "smooth") < 0.1 < ease(0.1, "linear") + 1e-12
    a, b = torch.randn(2, 1, 64, generator=torch.Generator().manual_seed(0))
    b = b * (a.norm() / b.norm())  # equal norms, as z of the same dimension nearly has
    out = slerp(a, b, torch.tensor([0.0, 0.5, 1.0]))
    torch.testing.assert_close(out[0], a[0])
    torch.testing.assert_close(out[2], b[0])
    # The midpoint is on the arc: at equal angles from both ends, unlike the chord's midpoint.
    cos = torch.nn.functional.cosine_similarity
    assert float(cos(out[1:2], a)) == pytest.approx(float(cos(out[1:2], b)), abs=1e-5)
    assert float(out[1].norm()) > float(((a + b) / 2).norm())


@pytest.mark.parametrize("space", ["w", "z"])
def test_frames_are_render_state_of_their_states_and_end_on_the_keyframes(model, space):
    keys = [LatentState(seed=0, psi=0.7), LatentState(seed=5, psi=0.5, mix_seed=2, mix_weights=(0, 0, 0, 1, 1, 1, 1, 1)),
            LatentState(seed=9, noise_gains=((16, 0.0),))]
    path = VideoPath.uniform(keys, 5, space=space)
    frames = list(path_frames(model, path))
    assert [f.index for f in frames] == list(range(path.frame_count))
    assert frames[0].state == keys[0] and frames[5].state == keys[1] and frames[-1].state == keys[2]
    for frame, rgb in zip(frames, render_frames(model, frames, batch_size=4)):
        assert torch.equal(state_ws(model, frame.state), frame.ws)  # the state alone reproduces the frame
        diff = np.abs(rgb.astype(int) - render_state(model, frame.state).rgba[..., :3]).max()
        assert diff <= 1, f"frame {frame.index} differs from render_state by {diff} (batched float rounding only)"
    # Frames computed in any chunks are the same frames.
    chunked = [f for s in range(0, path.frame_count, 3) for f in path_frames(model, path, None, s, s + 3)]
    assert all(a.state == b.state for a, b in zip(frames, chunked))
    # Blends in between: noise gain of 16 px half-way, mixing weights carried in W+.
    mid = frames[7].state
    assert dict(mid.noise_gains)[16] == pytest.approx(1 - (0.5 - 0.5 * np.cos(np.pi * 2 / 5)))


def test_w_space_is_the_lerp_of_final_w_and_z_space_differs(model):
    a, b = LatentState(seed=1, psi=0.8), LatentState(seed=2, psi=0.8)
    mid_w = path_states(model, VideoPath.uniform([a, b], 2, easing="linear"))[1]
    torch.testing.assert_close(state_ws(model, mid_w), (state_ws(model, a) + state_ws(model, b)) / 2)
    mid_z = path_states(model, VideoPath.uniform([a, b], 2, space="z", easing="linear"))[1]
    z = slerp(model.z_from_seed(1), model.z_from_seed(2), torch.tensor([0.5]))
    torch.testing.assert_close(state_ws(model, mid_z), model.map(z, psi=0.8))
    assert not torch.allclose(state_ws(model, mid_z), state_ws(model, mid_w))


def test_direction_sweep_frames_follow_the_edit(model):
    directions = DirectionLibrary([fit_pca(model, components=2, samples=500, sigma_samples=100)])
    keys = [LatentState(seed=3, edits=(DirectionEdit("pca", 0, s, 0, 4),)) for s in (-3.0, 3.0)]
    states = path_states(model, VideoPath.uniform(keys, 4, easing="linear"), directions)
    mid = LatentState(seed=3, edits=(DirectionEdit("pca", 0, 0.0, 0, 4),))
    torch.testing.assert_close(state_ws(model, states[2]), state_ws(model, mid, directions))
    assert states[-1] == keys[1]


def test_stylegan3_camera_move_renders_each_transform():
    torch.manual_seed(0)
    g = build_generator("stylegan3", dict(z_dim=32, w_dim=32, c_dim=0, img_resolution=16, img_channels=3,
                                          channel_base=256, channel_max=32, num_layers=4,
                                          mapping_kwargs=dict(num_layers=2)))
    sg3 = Model(g, None, format="test")
    keys = [LatentState(seed=1, translate=(0.0, 0.0)), LatentState(seed=1, translate=(0.4, 0.0), rotate=30.0)]
    frames = list(path_frames(sg3, VideoPath.uniform(keys, 4)))
    assert frames[2].state.translate == pytest.approx((0.2, 0.0)) and frames[2].state.rotate == pytest.approx(15.0)
    rgbs = render_frames(sg3, frames, batch_size=8)
    for frame, rgb in zip(frames, rgbs):
        np.testing.assert_array_equal(rgb, render_state(sg3, frame.state).rgba[..., :3])
    assert np.abs(rgbs[0].astype(int) - rgbs[-1]).max() > 10


# --- export --------------------------------------------------------------------------------------
def _walk(loop: bool = False) -> VideoPath:
    keys = [LatentState(seed=0, psi=0.7), LatentState(seed=7, psi=0.7), LatentState(seed=11, psi=0.7)]
    return VideoPath.uniform(keys, 6, loop=loop)


def test_mp4_decodes_to_the_frames_rendered(model, tmp_path):
    path, out = _walk(), tmp_path / "walk.mp4"
    result = export_video(borrow_model(model), PathSource(path), out, "mp4", ExportSettings(fps=24, size=64))
    assert (result.frames, result.size, result.fps) == (path.frame_count, 64, 24)
    frames, (rate, _), _ = decode(out)
    assert len(frames) == path.frame_count and frames[0].shape == (64, 64, 3) and rate == 24
    expected = [rendered(model, s, 64) for s in path_states(model, path)]
    # A random tiny model draws pixel-sized colour noise, the worst case for yuv420p's halved
    # chroma: ~29-34 dB here, against 5-11 dB for a frame a keyframe away.
    for i, (got, want) in enumerate(zip(frames, expected)):
        assert psnr(got, want) > 27, f"frame {i}: {psnr(got, want):.1f} dB"
    # The frames are in order: each is closer to its own render than to one a keyframe away.
    assert all(psnr(frames[i], expected[i]) > psnr(frames[i], expected[(i + 6) % len(expected)])
               for i in range(len(frames)))
    assert psnr(frames[0], rendered(model, path.keys[0], 64)) > 27
    assert psnr(frames[-1], rendered(model, path.keys[-1], 64)) > 27
    assert [p.name for p in tmp_path.iterdir()] == ["walk.mp4"]  # no temp file left


def test_gif_decodes_with_its_frame_count_size_and_timing(model, tmp_path):
    path, out = _walk(loop=True), tmp_path / "walk.gif"
    export_video(borrow_model(model), PathSource(path), out, "gif", ExportSettings(fps=30))
    frames, (_, time_base), pts = decode(out)
    assert len(frames) == path.frame_count == 18 and frames[0].shape == (32, 32, 3)
    assert time_base == Fraction(1, 100)
    # Delays of 3 and 4 hundredths keep the clip at exactly 30 fps on average.
    assert pts == [round(i * 100 / 30) for i in range(18)]
    expected = [rendered(model, s, 32) for s in path_states(model, path)]
    # 256 colours for a whole clip of colour noise: ~25 dB, against under 12 for another frame.
    assert min(psnr(a, b) for a, b in zip(frames, expected)) > 22
    assert all(psnr(frames[i], expected[i]) > psnr(frames[i], expected[(i + 6) % 18]) + 8 for i in range(18))


def test_png_frames_folder(model, tmp_path):
    path, out = _walk(), tmp_path / "frames"
    export_video(borrow_model(model), PathSource(path), out, "frames", ExportSettings())
    from PIL import Image
    names = sorted(p.name for p in out.iterdir())
    assert names == [f"frame{i:06d}.png" for i in range(path.frame_count)]
    states = path_states(model, path)
    for i in (0, 4, path.frame_count - 1):
        png = np.asarray(Image.open(out / names[i]))
        assert np.abs(png.astype(int) - render_state(model, states[i]).rgba[..., :3]).max() <= 1


def test_recorded_states_export_as_they_are(model, tmp_path):
    states = [LatentState(seed=s) for s in (1, 1, 2, 3)]
    out = tmp_path / "take.mp4"
    export_video(borrow_model(model), StateSequence(states), out, "mp4", ExportSettings(fps=10))
    frames, _, _ = decode(out)
    assert len(frames) == 4
    assert all(psnr(f, rendered(model, s, 32)) > 22 for f, s in zip(frames, states))


@pytest.mark.parametrize("fmt,name", [("mp4", "walk.mp4"), ("gif", "walk.gif"), ("frames", "frames")])
def test_cancel_leaves_no_file(model, tmp_path, fmt, name):
    def report(p: Progress) -> None:
        if p.step >= 4:
            raise JobCancelled()

    with pytest.raises(JobCancelled):
        export_video(borrow_model(model), PathSource(_walk()), tmp_path / name, fmt,
                     ExportSettings(batch_size=4), report=report)
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_never_overwrites_unless_asked(model, tmp_path):
    out = tmp_path / "walk.mp4"
    out.write_bytes(b"mine")
    with pytest.raises(InputError, match="already exists"):
        export_video(borrow_model(model), PathSource(_walk()), out, "mp4")
    assert out.read_bytes() == b"mine"
    export_video(borrow_model(model), PathSource(_walk()), out, "mp4", overwrite=True)
    assert len(decode(out)[0]) == _walk().frame_count


def test_output_format_and_settings_checks(model, tmp_path):
    assert output_format("a.MP4") == "mp4" and output_format("a.gif") == "gif"
    assert output_format(tmp_path) == "frames" and output_format("frames/") == "frames"
    with pytest.raises(InputError, match="mp4"):
        output_format("walk.avi")
    with pytest.raises(InputError, match="at most 50 fps"):
        export_video(borrow_model(model), PathSource(_walk()), tmp_path / "a.gif", "gif", ExportSettings(fps=60))
    with pytest.raises(InputError, match="even size"):
        export_video(borrow_model(model), PathSource(_walk()), tmp_path / "a.mp4", "mp4", ExportSettings(size=33))
    assert list(tmp_path.iterdir()) == []


def test_take_frames_hold_each_state_until_the_next():
    from explorer.video.take import take_frames
    a, b, c = (LatentState(seed=s) for s in (1, 2, 3))
    frames = take_frames([(10.0, a), (10.25, b), (10.3, c)], end=10.5, fps=10)
    assert [s.seed for s in frames] == [1, 1, 1, 3, 3, 3]  # b was on screen between two frame times
    assert take_frames([(5.0, a)], end=4.0, fps=30) == [a]
    with pytest.raises(InputError, match="nothing was recorded"):
        take_frames([], end=1.0, fps=30)
