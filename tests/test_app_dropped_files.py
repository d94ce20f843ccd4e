"""A dropped file is judged by its content: saved PNG, other image, W+ .npz, checkpoint, or neither."""

import numpy as np
from PIL import Image

from explorer.app.dropped_files import (LoadCheckpoint, LoadLatent, ProjectImage, Rejected, RestoreState,
                                        classify_dropped_file)
from explorer.app.session import save_image
from explorer.latent.state import LatentState


def test_saved_png_restores_its_state(tmp_path):
    state = LatentState(seed=7, psi=0.5)
    rgba = np.full((4, 4, 4), 255, np.uint8)
    saved = save_image(tmp_path, rgba, state, np.zeros((1, 2, 3), np.float32))
    action = classify_dropped_file(saved.png)
    assert isinstance(action, RestoreState) and action.state == state
    action = classify_dropped_file(saved.npz)
    assert isinstance(action, LoadLatent) and action.latent.shape == (2, 3)


def test_other_images_are_projection_targets(tmp_path):
    for name, fmt in (("photo.jpg", "JPEG"), ("photo.png", "PNG"), ("renamed.bin", "PNG")):
        path = tmp_path / name
        Image.new("RGB", (8, 8), (10, 20, 30)).save(path, format=fmt)
        assert classify_dropped_file(path) == ProjectImage(path)


def test_checkpoints_are_sniffed_not_named(tmp_path):
    import torch
    path = tmp_path / "weights.txt"  # a torch zip checkpoint with a misleading name
    torch.save({"g_ema": {}}, path)
    assert isinstance(classify_dropped_file(path), LoadCheckpoint)


def test_anything_else_gets_a_clear_message(tmp_path):
    text = tmp_path / "notes.pkl"
    text.write_text("just some text")
    action = classify_dropped_file(text)
    assert isinstance(action, Rejected) and "not an image, a checkpoint or a W+ .npz" in action.message
    fake_photo = tmp_path / "fake.jpg"
    fake_photo.write_text("not a photo")
    assert "not an image" in classify_dropped_file(fake_photo).message
    assert "no such file" in classify_dropped_file(tmp_path / "missing.pkl").message
    run = tmp_path / "run"
    (run / "snapshots").mkdir(parents=True)
    (run / "snapshots" / "snapshot-0000000256.safetensors").write_bytes(b"x")
    assert "the newest there: " + str(run / "snapshots" / "snapshot-0000000256.safetensors") in \
        classify_dropped_file(run).message
    empty = tmp_path / "empty.npz"
    np.savez(empty, other=np.zeros(2))
    assert isinstance(classify_dropped_file(empty), Rejected)
