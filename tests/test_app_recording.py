"""The Record panel's logic against a real render thread and a tiny real model (no window)."""

from __future__ import annotations

import time

import numpy as np

from explorer.app.job_kinds import JobKind
from explorer.app.recording import describe
from explorer.engine import render_state
from explorer.directions.directionset import DirectionSet
from explorer.latent.state import DirectionEdit, LatentState
from explorer.video import path_states
from tests.test_app_controller import app, pump  # noqa: F401  (the fixture)
from tests.test_video import decode, psnr



def _two_keys(ctl, frames: int = 4) -> None:
    rec = ctl.recorder
    rec.add_current()
    ctl.edit(seed=9, psi=0.6)
    rec.add_current()
    rec.set_frames(0, frames)


def test_keyframes_add_reorder_delete(app):
    ctl, _ = app
    rec = ctl.recorder
    _two_keys(ctl)
    ctl.edit(seed=12)
    rec.add_current()
    assert [k.state.seed for k in rec.keys] == [5, 9, 12]
    assert rec.keys[2].frames == 60  # a new keyframe takes the previous one's count
    rec.move(2, -1)
    assert [k.state.seed for k in rec.keys] == [5, 12, 9]
    rec.move(0, -1)  # nothing above the first
    rec.remove(1)
    assert [k.state.seed for k in rec.keys] == [5, 9]
    assert rec.path().frames == (4,) and rec.frame_count == 5
    rec.loop = True
    assert rec.path().frames == (4, 60) and rec.frame_count == 64
    assert describe(rec.keys[1].state) == "seed 9, psi 0.60"
    # Directions are named as the Directions panel names them, once their set is loaded.
    edited = LatentState(seed=3, edits=(DirectionEdit("pca", 1, 2.0), DirectionEdit("gone", 0, -1.0)))
    ctl.direction_library.add(DirectionSet(name="pca", method="pca", vectors=np.eye(2, ctl.model_info.w_dim),
                                           sigmas=np.ones(2), labels=("PC0", "PC1")))
    assert rec.describe(edited) == "seed 3, PC1 +2.0, gone[0] -1.0"
    rec.go_to(0)
    assert ctl.state == rec.keys[0].state


def test_preview_plays_the_path_without_touching_the_edited_state(app):
    ctl, ref = app
    rec = ctl.recorder
    _two_keys(ctl, frames=3)
    ctl.end_frame(editing=False)
    edited, steps = ctl.state, len(ctl.history.entries)
    rec.fps = 10
    assert not ctl.animating()
    rec.start_preview()
    pump(ctl, lambda: rec.previewing)
    assert ctl.animating()  # the clock changes the picture: the UI must not sleep
    expected = path_states(ref, rec.path())
    assert rec.preview_states == expected
    shown: set[int] = set()
    pump(ctl, lambda: (ctl.frame is not None and ctl.frame.state in expected and not ctl.frame.preview
                       and shown.add(expected.index(ctl.frame.state))) or len(shown) >= 3)
    frame = ctl.frame
    np.testing.assert_array_equal(frame.rgba, render_state(ref, frame.state).rgba)
    ctl.end_frame(editing=False)
    assert ctl.state == edited and len(ctl.history.entries) == steps
    rec.stop_preview()
    assert not ctl.animating()
    pump(ctl, lambda: ctl.shows_current_state(ctl.frame))


def test_preview_sends_the_next_frame_once_the_last_is_shown_in_full(app):
    """Faster than any render, the clock skips frames, but each state sent is on screen as its
    final picture before the next goes out (not a preview replaced before its full frame)."""
    ctl, _ = app
    rec = ctl.recorder
    _two_keys(ctl, frames=400)
    rec.fps = 500
    sent: list[tuple] = []
    submit = ctl.engine.submit

    def spy(state):
        sent.append((state, ctl.frame))
        submit(state)

    ctl.engine.submit = spy
    with ctl.engine.borrow_model() as model:  # renders slower than the polls, as on a CPU
        synthesize = model.synthesize
        model.synthesize = lambda *a, **k: (time.sleep(0.03), synthesize(*a, **k))[1]
    rec.start_preview()
    pump(ctl, lambda: len(sent) >= 8)
    rec.stop_preview()
    played = sent[:8]
    assert len({state for state, _ in played}) >= 4  # it plays (the loop may come round again)
    for (state, _), (_, on_screen) in zip(played, played[1:]):
        assert on_screen is not None and not on_screen.preview and on_screen.state == state


def test_export_runs_in_the_background_and_decodes(app, tmp_path):
    ctl, ref = app
    rec = ctl.recorder
    _two_keys(ctl, frames=5)
    rec.format, rec.fps = "gif", 25
    rec.export()
    assert rec.exporting
    pump(ctl, lambda: not rec.exporting, timeout=60)
    out = tmp_path / "out" / "walk.gif"
    assert rec.last_export is not None and rec.last_export.path == out, ctl.status
    frames, _, pts = decode(out)
    assert len(frames) == 6 and pts[1] == 4
    states = path_states(ref, rec.path())
    assert all(psnr(f, render_state(ref, s).rgba[..., :3]) > 20 for f, s in zip(frames, states))
    rec.export()  # the next one gets a fresh name, never the same file
    pump(ctl, lambda: not rec.exporting, timeout=60)
    assert rec.last_export.path == tmp_path / "out" / "walk_001.gif"


def test_cancelled_export_leaves_no_file(app, tmp_path):
    ctl, _ = app
    rec = ctl.recorder
    _two_keys(ctl, frames=400)
    rec.out_path = str(tmp_path / "long.mp4")
    rec.export()
    pump(ctl, lambda: (p := rec.export_progress()) is not None and p.step > 0, timeout=60)
    rec.cancel_export()
    pump(ctl, lambda: JobKind.VIDEO_EXPORT not in ctl.jobs, timeout=60)
    assert "cancelled" in ctl.status.text
    assert list(tmp_path.glob("*.mp4")) == [] and list(tmp_path.glob(".*tmp")) == []


def test_existing_file_is_refused_before_any_work(app, tmp_path):
    ctl, _ = app
    rec = ctl.recorder
    _two_keys(ctl)
    target = tmp_path / "mine.mp4"
    target.write_bytes(b"keep")
    rec.out_path = str(target)
    rec.export()
    assert ctl.status.is_error and "already exists" in ctl.status.text and not rec.exporting
    assert target.read_bytes() == b"keep"


def test_a_take_records_what_was_shown_in_real_time(app, tmp_path):
    ctl, ref = app
    rec = ctl.recorder
    rec.fps = 20
    rec.start_recording()
    for seed in (6, 7, 8):
        ctl.edit(seed=seed)
        pump(ctl, lambda: ctl.shows_current_state(ctl.frame))
        time.sleep(0.2)
        ctl.poll()
    rec.stop_recording()
    assert rec.has_take and rec.take_seconds >= 0.6
    states = rec.take_states()
    seeds = [s.seed for s in states]
    assert seeds[-1] == 8 and [s for i, s in enumerate(seeds) if i == 0 or seeds[i - 1] != s][-3:] == [6, 7, 8]
    assert abs(len(states) - rec.take_seconds * 20) <= 2
    rec.out_path = str(tmp_path / "take.mp4")
    rec.export(take=True)
    pump(ctl, lambda: not rec.exporting, timeout=60)
    frames, _, _ = decode(tmp_path / "take.mp4")
    assert len(frames) == len(states)
    assert psnr(frames[-1], render_state(ref, LatentState(seed=8).replace(
        mix_weights=ctl.state.mix_weights)).rgba[..., :3]) > 20
