"""Dataset preparation: folders and zips, corrupt files, labels, manifest hash, serving."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from explorer.errors import ExplorerError
from explorer.train.dataset import ImageDataset, InfiniteSampler, prepare_dataset, square_image
from tests.test_train_support import draw_shape, make_shapes_folder


def test_folder_with_corrupt_files_and_non_images(tmp_path: Path) -> None:
    data = make_shapes_folder(tmp_path / "data", count=10)
    (data / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really a png")
    (data / "truncated.jpg").write_bytes(b"\xff\xd8\xff\xe0" + b"\x00" * 20)
    (data / "notes.txt").write_text("not an image, not counted")
    (data / "sub").mkdir()
    draw_shape(99, 20).save(data / "sub" / "nested.jpg")

    prepared = prepare_dataset(data, 16, cache_dir=tmp_path / "cache")
    m = prepared.manifest
    assert (m.count, m.resolution, m.channels) == (11, 16, 3)
    assert m.skipped_corrupt == 2
    assert sorted(m.skipped_files) == ["broken.png", "truncated.jpg"]
    images = np.load(prepared.images_path)
    assert images.shape == (11, 3, 16, 16) and images.dtype == np.uint8


def test_manifest_hash_is_stable_and_tracks_content(tmp_path: Path) -> None:
    data = make_shapes_folder(tmp_path / "data", count=6)
    first = prepare_dataset(data, 16, cache_dir=tmp_path / "c1").manifest
    again = prepare_dataset(data, 16, cache_dir=tmp_path / "c2").manifest
    assert first.content_hash == again.content_hash
    # Reused from the cache: same folder, no work.
    assert prepare_dataset(data, 16, cache_dir=tmp_path / "c1").manifest == first
    draw_shape(1234, 24).save(data / "img000.png")
    changed = prepare_dataset(data, 16, cache_dir=tmp_path / "c1").manifest
    assert changed.content_hash != first.content_hash


def test_zip_with_labels(tmp_path: Path) -> None:
    folder = make_shapes_folder(tmp_path / "data", count=8)
    labels = {"labels": [[f"img{i:03d}.png", i % 3] for i in range(7)]}  # img007 has no label
    zpath = tmp_path / "data.zip"
    with zipfile.ZipFile(zpath, "w") as z:
        for p in sorted(folder.iterdir()):
            z.write(p, p.name)
        z.writestr("dataset.json", json.dumps(labels))
        z.writestr("__MACOSX/._img000.png", b"junk")
    prepared = prepare_dataset(zpath, 16, cache_dir=tmp_path / "cache")
    m = prepared.manifest
    assert (m.count, m.label_kind, m.label_dim, m.skipped_unlabelled) == (7, "class", 3, 1)
    ds = ImageDataset(prepared, xflip=True)
    assert len(ds) == 14
    img, label = ds[2]
    assert img.shape == (3, 16, 16) and img.dtype == torch.uint8
    assert label.tolist() == [0.0, 0.0, 1.0]
    flipped, same_label = ds[2 + 7]
    assert torch.equal(flipped, img.flip(-1)) and torch.equal(same_label, label)


def test_vector_labels_and_bad_labels(tmp_path: Path) -> None:
    data = make_shapes_folder(tmp_path / "data", count=3)
    (data / "dataset.json").write_text(json.dumps({"labels": [[f"img{i:03d}.png", [i, 0.5]] for i in range(3)]}))
    m = prepare_dataset(data, 16, cache_dir=tmp_path / "cache").manifest
    assert (m.label_kind, m.label_dim) == ("vector", 2)
    (data / "dataset.json").write_text(json.dumps({"labels": [["img000.png", "cat"]]}))
    with pytest.raises(ExplorerError, match="labels"):
        prepare_dataset(data, 16, cache_dir=tmp_path / "cache")


def test_centre_crop_and_transparency() -> None:
    from io import BytesIO

    from PIL import Image
    img = Image.new("RGBA", (40, 20), (0, 0, 0, 0))
    img.paste((255, 0, 0, 255), (10, 0, 30, 20))  # the centre square is opaque red
    buf = BytesIO()
    img.save(buf, format="PNG")
    out = square_image(buf.getvalue(), 8)
    assert out.shape == (8, 8, 3)
    assert (out[..., 0] > 250).all() and out[..., 1].mean() < 10  # red; no white beyond the crop
    assert square_image(b"garbage", 8) is None


def test_unusable_sources(tmp_path: Path) -> None:
    with pytest.raises(ExplorerError, match="no such"):
        prepare_dataset(tmp_path / "missing", 16, cache_dir=tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ExplorerError, match="no image"):
        prepare_dataset(tmp_path / "empty", 16, cache_dir=tmp_path)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "x.png").write_bytes(b"nope")
    with pytest.raises(ExplorerError, match="could be decoded|no readable"):
        prepare_dataset(bad, None, cache_dir=tmp_path)


def test_resolution_is_inferred(tmp_path: Path) -> None:
    data = make_shapes_folder(tmp_path / "data", count=2, size=40)
    assert prepare_dataset(data, None, cache_dir=tmp_path / "cache").manifest.resolution == 32


def test_infinite_sampler_splits_ranks() -> None:
    def take(sampler: InfiniteSampler, n: int) -> list[int]:
        it = iter(sampler)
        return [next(it) for _ in range(n)]
    a = take(InfiniteSampler(10, rank=0, world_size=2, seed=1), 5)
    b = take(InfiniteSampler(10, rank=1, world_size=2, seed=1), 5)
    assert sorted(a + b) == list(range(10))
