"""The DiceBear avatar builder: deterministic for a seed, attributes and labels recorded."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("dicebear")
pytest.importorskip("dicebear_styles")
pytest.importorskip("resvg_py")

from explorer.train.avatars import build_avatars  # noqa: E402
from explorer.cli import main  # noqa: E402
from explorer.train.dataset import prepare_dataset  # noqa: E402


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_same_seed_same_dataset(tmp_path: Path) -> None:
    a = build_avatars(tmp_path / "a", count=24, resolution=16, seed=7)
    b = build_avatars(tmp_path / "b", count=24, resolution=16, seed=7)
    assert _files(tmp_path / "a") == _files(tmp_path / "b")
    build_avatars(tmp_path / "c", count=24, resolution=16, seed=8)
    assert _files(tmp_path / "a")["000000.png"] != _files(tmp_path / "c")["000000.png"]
    assert a == b

    first = a["images"][0]
    for key in ("hair", "eyes", "eyebrows", "mouth", "glasses", "earrings", "beard", "freckles",
                "skin_color", "hair_color", "background_color"):
        assert key in first
    assert first["background_color"].startswith("#")
    labels = json.loads((tmp_path / "a" / "dataset.json").read_text())["labels"]
    assert [name for name, _ in labels] == [f"{i:06d}.png" for i in range(24)]
    assert all(label == int(img["glasses"] is not None) for (_, label), img in zip(labels, a["images"], strict=True))
    assert "Lisa Wischofsky" in a["license"]


def test_accessories_are_common_and_dataset_loads(tmp_path: Path) -> None:
    assert main(["dataset", "avatars", "--count", "120", "--resolution", "16",
                 "--out", str(tmp_path / "av"), "--seed", "1"]) == 0
    manifest = json.loads((tmp_path / "av" / "manifest.json").read_text())
    glasses = sum(img["glasses"] is not None for img in manifest["images"]) / 120
    assert 0.15 < glasses < 0.45  # raised from DiceBear's 10 % to about 30 %
    prepared = prepare_dataset(tmp_path / "av", 16, cache_dir=tmp_path / "cache")
    assert (prepared.manifest.count, prepared.manifest.label_kind, prepared.manifest.label_dim) == (120, "class", 2)
