"""`stylegan-explorer export`: snapshots to small model files, other formats to safetensors."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import explorer
from explorer.cli import main
from explorer.train.loop import train
from explorer.train.snapshot import load_snapshot, trained_kimg
from tests.conftest import FIXTURES_DIR
from tests.test_train_support import make_shapes_folder, tiny_config

KEY = "synthesis.b16.conv1.weight"


@pytest.fixture
def snapshot(tmp_path: Path, one_torch_thread) -> Path:
    data = make_shapes_folder(tmp_path / "data", count=8)
    return train(tiny_config(data, tmp_path / "run", tmp_path / "cache", kimg=0.016),
                 log=lambda line: None).run.newest_snapshot()


def test_a_snapshot_exports_either_generator_in_float16_with_its_d(snapshot: Path, tmp_path: Path, capsys) -> None:
    groups = load_snapshot(snapshot).groups
    assert not torch.equal(groups["G"][KEY], groups["G_ema"][KEY])
    for weights in ("G_ema", "G"):
        out = tmp_path / f"{weights}.safetensors"
        assert main(["export", str(snapshot), str(out), "--weights", weights]) == 0
        assert f"exported {weights} of" in capsys.readouterr().out
        model = explorer.load(out)
        assert torch.allclose(model.generator.state_dict()[KEY], groups[weights][KEY], atol=1e-3)
        assert not torch.equal(model.generator.state_dict()[KEY], groups[weights][KEY])  # float16 rounding
        assert model.has_discriminator and trained_kimg(model.info.extra) == pytest.approx(0.016)
        assert out.stat().st_size < 0.5 * snapshot.stat().st_size  # no optimiser state, half precision
    assert explorer.load(tmp_path / "G.safetensors").info.extra["source_extra"]["generator_weights"] == "G"


def test_export_float32_without_d_is_exact_and_smaller(snapshot: Path, tmp_path: Path) -> None:
    with_d, without_d = tmp_path / "with.safetensors", tmp_path / "without.safetensors"
    assert main(["export", str(snapshot), str(with_d), "--dtype", "float32"]) == 0
    assert main(["export", str(snapshot), str(without_d), "--dtype", "float32", "--no-discriminator"]) == 0
    exact = explorer.load(without_d)
    assert not exact.has_discriminator and without_d.stat().st_size < with_d.stat().st_size
    assert torch.equal(exact.generator.state_dict()[KEY], load_snapshot(snapshot).groups["G_ema"][KEY])


def test_an_nvlabs_pickle_converts_to_a_file_that_renders_the_same(tmp_path: Path, one_torch_thread) -> None:
    pickle = FIXTURES_DIR / "sg2_32" / "network-snapshot.pkl"
    if not pickle.is_file():
        pytest.skip("no sg2_32 fixture")
    out = tmp_path / "sg2_32.safetensors"
    assert main(["export", str(pickle), str(out), "--dtype", "float32"]) == 0
    original, converted = explorer.load(pickle), explorer.load(out)
    z = torch.randn(2, original.z_dim, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        a = original.generator(z, None, noise_mode="const")
        b = converted.generator(z, None, noise_mode="const")
    assert torch.equal(a, b)
    assert converted.info.extra["source_format"] == original.format


def test_export_refuses_with_one_line_and_keeps_existing_files(tiny_checkpoint: Path, tmp_path: Path,
                                                              capsys) -> None:
    out = tmp_path / "out.safetensors"
    assert main(["export", str(tiny_checkpoint), str(out), "--weights", "G"]) == 1
    err = capsys.readouterr().err
    assert "holds no raw G" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not out.exists()
    out.write_bytes(b"keep me")
    assert main(["export", str(tiny_checkpoint), str(out)]) == 1
    assert "already exists; pass --force" in capsys.readouterr().err and out.read_bytes() == b"keep me"
    assert main(["export", str(tiny_checkpoint), str(out), "--force", "--dtype", "float32"]) == 0
    assert explorer.load(out).info.content_hash == explorer.load(tiny_checkpoint).info.content_hash


def test_export_never_overwrites_its_source_or_writes_another_format(tiny_checkpoint: Path, tmp_path: Path,
                                                                       capsys) -> None:
    before = tiny_checkpoint.read_bytes()
    assert main(["export", str(tiny_checkpoint), str(tiny_checkpoint), "--force"]) == 1
    assert "would overwrite the input" in capsys.readouterr().err
    assert main(["export", str(tiny_checkpoint), str(tmp_path / "model.pkl")]) == 1
    assert "must end in .safetensors" in capsys.readouterr().err
    assert tiny_checkpoint.read_bytes() == before and not (tmp_path / "model.pkl").exists()
