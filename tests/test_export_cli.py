"""`stylegan-explorer export`: snapshots to small model files, other formats to safetensors."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import explorer
from explorer.checkpoints.safetensors_format import stored_precision
from explorer.cli import main
from explorer.train.loop import train
from explorer.train.snapshot import load_snapshot, trained_kimg
from tests.conftest import FIXTURES_DIR
from tests.test_train_support import make_shapes_folder, tiny_config

KEY = "synthesis.b16.conv1.weight"
PICKLE = FIXTURES_DIR / "sg2_32" / "network-snapshot.pkl"


@pytest.fixture
def snapshot(tmp_path: Path, one_torch_thread) -> Path:
    data = make_shapes_folder(tmp_path / "data", count=8)
    return train(tiny_config(data, tmp_path / "run", tmp_path / "cache", kimg=0.016),
                 log=lambda line: None).run.newest_snapshot()


def test_a_snapshot_exports_either_generator_in_float16_with_its_d(snapshot: Path, tmp_path: Path, capsys) -> None:
    groups = load_snapshot(snapshot).groups
    assert not torch.equal(groups["G"][KEY].half(), groups["G_ema"][KEY].half())
    for weights in ("G_ema", "G"):
        out = tmp_path / f"{weights}.safetensors"
        assert main(["export", str(snapshot), str(out), "--weights", weights, "--dtype", "float16"]) == 0
        assert f"exported {weights} of" in capsys.readouterr().out
        model = explorer.load(out)
        assert torch.equal(model.generator.state_dict()[KEY], groups[weights][KEY].half().float())
        assert model.has_discriminator and trained_kimg(model.info.extra) == pytest.approx(0.016)
        assert out.stat().st_size < 0.5 * snapshot.stat().st_size  # no optimiser state, half precision
    assert explorer.load(tmp_path / "G.safetensors").info.extra["source_extra"]["generator_weights"] == "G"
    assert main(["info", str(tmp_path / "G.safetensors")]) == 0
    info = capsys.readouterr().out
    assert "stored as:     float16" in info and "trained:       0.016 kimg" in info
    again = tmp_path / "again.safetensors"  # a float16 file stays float16 by default: same size, same model
    assert main(["export", str(tmp_path / "G_ema.safetensors"), str(again)]) == 0
    assert "float16" in capsys.readouterr().out and stored_precision(again) == "float16"
    assert abs(again.stat().st_size - (tmp_path / "G_ema.safetensors").stat().st_size) < 2000
    assert explorer.load(again).info.content_hash == explorer.load(tmp_path / "G_ema.safetensors").info.content_hash


def test_a_float32_snapshot_exports_exactly_and_an_export_of_an_export_keeps_its_kimg(snapshot: Path,
                                                                                tmp_path: Path) -> None:
    with_d, without_d = tmp_path / "with.safetensors", tmp_path / "without.safetensors"
    assert main(["export", str(snapshot), str(with_d)]) == 0
    assert stored_precision(with_d) == "float32" and stored_precision(snapshot) == "float32"
    assert main(["export", str(with_d), str(without_d), "--no-discriminator"]) == 0
    exact = explorer.load(without_d)
    assert not exact.has_discriminator and without_d.stat().st_size < with_d.stat().st_size
    assert torch.equal(exact.generator.state_dict()[KEY], load_snapshot(snapshot).groups["G_ema"][KEY])
    assert exact.info.content_hash == explorer.load(snapshot).info.content_hash
    assert trained_kimg(exact.info.extra) == pytest.approx(0.016)  # two exports deep in the provenance


def test_an_nvlabs_pickle_converts_to_a_file_that_renders_the_same(tmp_path: Path, one_torch_thread) -> None:
    if not PICKLE.is_file():
        pytest.skip("no sg2_32 fixture")
    out = tmp_path / "sg2_32.safetensors"
    assert main(["export", str(PICKLE), str(out)]) == 0
    original, converted = explorer.load(PICKLE), explorer.load(out)
    z = torch.randn(2, original.z_dim, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        a = original.generator(z, None, noise_mode="const")
        b = converted.generator(z, None, noise_mode="const")
    assert torch.equal(a, b) and converted.info.content_hash == original.info.content_hash
    assert converted.info.extra["source_format"] == original.format


def test_export_refuses_with_one_line_and_keeps_existing_files(tiny_checkpoint: Path, tmp_path: Path,
                                                              capsys) -> None:
    out = tmp_path / "out.safetensors"
    sources = [tiny_checkpoint] + ([PICKLE] if PICKLE.is_file() else [])
    for source in sources:  # an export, and a checkpoint of another format: neither holds a raw G
        assert main(["export", str(source), str(out), "--weights", "G"]) == 1
        err = capsys.readouterr().err
        assert "holds no raw G" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert main(["export", str(tmp_path / "missing.pkl"), str(out)]) == 1
    assert "no such file" in capsys.readouterr().err
    assert not out.exists()
    out.write_bytes(b"keep me")
    assert main(["export", str(tiny_checkpoint), str(out)]) == 1
    assert "already exists; pass --force" in capsys.readouterr().err and out.read_bytes() == b"keep me"
    assert main(["export", str(tiny_checkpoint), str(out), "--force"]) == 0
    assert explorer.load(out).info.content_hash == explorer.load(tiny_checkpoint).info.content_hash


def test_export_never_overwrites_its_source_or_writes_another_format(tiny_checkpoint: Path, tmp_path: Path,
                                                                       capsys) -> None:
    before = tiny_checkpoint.read_bytes()
    assert main(["export", str(tiny_checkpoint), str(tiny_checkpoint), "--force"]) == 1
    assert "would overwrite the input" in capsys.readouterr().err
    assert main(["export", str(tiny_checkpoint), str(tmp_path / "model.pkl")]) == 1
    assert "must end in .safetensors" in capsys.readouterr().err
    assert tiny_checkpoint.read_bytes() == before and not (tmp_path / "model.pkl").exists()
