"""Checkpoint reading and writing: NVIDIA pickles (PyTorch and TF era), rosinality .pt, .safetensors."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch

import explorer
from explorer import CheckpointError
from explorer.checkpoints import read_checkpoint, save_checkpoint
from explorer.checkpoints.nvidia_pickle import record_state_dict, with_repo_defaults
from explorer.checkpoints.restricted_pickle import PersistentRecord
from explorer.checkpoints.rosinality import channel_base_and_max
from tests import checkpoint_builders as cb
from tests.conftest import FIXTURES_DIR, fixture_names

REAL_PICKLES = [name for name in fixture_names() if (FIXTURES_DIR / name / "network-snapshot.pkl").is_file()]
NVIDIA_FIXTURES = [name for name in fixture_names()
                   if cb.read_config(FIXTURES_DIR / name)["format"] in cb.NVIDIA_FORMATS]


def _fixture(name: str) -> Path:
    path = FIXTURES_DIR / name
    if not (path / "config.json").is_file():
        pytest.skip(f"fixture {name} not found in {FIXTURES_DIR}")
    return path


def _assert_same_state(actual: dict[str, torch.Tensor], expected: dict[str, torch.Tensor]) -> None:
    assert sorted(actual) == sorted(expected)
    for name, tensor in expected.items():
        assert actual[name].shape == tensor.shape, name
        assert torch.equal(actual[name].float().cpu(), tensor.float()), name


def _real_marker(fixture_dir: Path) -> Path:
    fixture_set = cb.read_config(fixture_dir).get("set", "shared")
    return Path(tempfile.gettempdir()) / f"MODULE_SRC_EXECUTED_{fixture_set}_{fixture_dir.name}"


# --------------------------------------------------------------------------- NVIDIA pickles

@pytest.mark.parametrize("name", REAL_PICKLES)
def test_real_nvidia_snapshot_loads_g_ema(name: str) -> None:
    fixture = _fixture(name)
    model = explorer.load(fixture / "network-snapshot.pkl")
    _assert_same_state(model.generator.state_dict(), cb.read_state(fixture))
    assert model.has_discriminator
    assert model.info.extra["picked"] == "G_ema"
    assert model.format.startswith("nvidia-pickle (")
    assert not _real_marker(fixture).exists(), "module_src of the pickle was executed"


@pytest.mark.parametrize("name", NVIDIA_FIXTURES)
def test_built_snapshot_loads_g_ema(name: str, tmp_path: Path) -> None:
    fixture = _fixture(name)
    marker = tmp_path / "EXECUTED"
    path = cb.write_nvidia_pickle(fixture, tmp_path / "snapshot.pkl", marker=marker)
    model = explorer.load(path)
    _assert_same_state(model.generator.state_dict(), cb.read_state(fixture))
    expected_repo = "stylegan2-ada-pytorch" if "synthesis_kwargs" in cb.read_config(fixture)["init_kwargs"] \
        else "stylegan3"
    assert model.format == f"nvidia-pickle ({expected_repo} repo)"  # the code that wrote it, not the architecture
    assert not model.has_discriminator
    assert not marker.exists()


def test_record_walk_skips_none_and_non_persistent_buffers() -> None:
    leaf = PersistentRecord("FullyConnectedLayer", "", {
        "_parameters": {"weight": torch.ones(2, 2), "bias": None},
        "_buffers": {"kept": torch.zeros(1), "scratch": torch.zeros(3), "gone": None},
        "_non_persistent_buffers_set": {"scratch"}, "_modules": {}})
    root = PersistentRecord("Net", "", {"_parameters": {}, "_buffers": {},
                                        "_modules": {"fc": leaf, "unused": None}})
    assert sorted(record_state_dict(root)) == ["fc.kept", "fc.weight"]


def test_repo_defaults_for_conv_clamp() -> None:
    nested = {"z_dim": 8, "synthesis_kwargs": {"channel_base": 64}}
    flat = {"z_dim": 8, "channel_base": 64}
    assert with_repo_defaults(nested, "stylegan2-ada-pytorch")["synthesis_kwargs"]["conv_clamp"] is None
    assert with_repo_defaults(flat, "stylegan3")["conv_clamp"] == 256
    assert with_repo_defaults({"conv_clamp": None}, "stylegan3")["conv_clamp"] is None


@pytest.mark.parametrize("layout, expected", [("nested", None), ("flat", 256)])
def test_missing_conv_clamp_follows_the_writing_repo(tmp_path: Path, layout: str, expected) -> None:
    fixture = _fixture("sg2_32")
    kwargs = cb.read_config(fixture)["init_kwargs"]
    synthesis = {k: v for k, v in kwargs.pop("synthesis_kwargs").items() if k != "conv_clamp"}
    kwargs = {**kwargs, "synthesis_kwargs": synthesis} if layout == "nested" else {**kwargs, **synthesis}
    record = cb.nvidia_record(cb.read_state(fixture), kwargs, "")
    model = explorer.load(cb.write_pickle_of({"G_ema": record}, tmp_path / "g.pkl"))
    assert model.generator.init_kwargs["conv_clamp"] == expected


def test_tf_era_pickle_converts(tmp_path: Path) -> None:
    fixture = _fixture("sg2_32")
    real = explorer.load(fixture / "network-snapshot.pkl") if "sg2_32" in REAL_PICKLES else None
    if real is None:
        pytest.skip("needs sg2_32/network-snapshot.pkl for a real discriminator")
    d_state = real.discriminator.state_dict()
    marker = tmp_path / "EXECUTED"
    path = cb.write_tf_pickle(fixture, tmp_path / "tf.pkl", d_state=d_state,
                              d_kwargs=real.discriminator.init_kwargs, marker=marker)
    model = explorer.load(path)
    assert model.format == "nvidia-pickle (tensorflow)"
    _assert_same_state(model.generator.state_dict(), cb.read_state(fixture))
    _assert_same_state(model.discriminator.state_dict(), d_state)
    assert not marker.exists()


@pytest.mark.parametrize("name", ["sg2_64_resnet", "sg2_16_cond"])
def test_tf_era_pickle_other_architectures(tmp_path: Path, name: str) -> None:
    fixture = _fixture(name)
    model = explorer.load(cb.write_tf_pickle(fixture, tmp_path / "tf.pkl"))
    _assert_same_state(model.generator.state_dict(), cb.read_state(fixture))


# --------------------------------------------------------------------------- rosinality

def test_rosinality_checkpoint_with_latent_avg(tmp_path: Path) -> None:
    fixture = _fixture("rosi_32")
    path = cb.write_rosinality_checkpoint(fixture, tmp_path / "550000.pt")
    model = explorer.load(path)
    assert model.format == "rosinality .pt"
    info = model.generator.init_kwargs
    assert info["channels"] == {"4": 64, "8": 64, "16": 48, "32": 32}
    assert info["mapping_kwargs"]["num_layers"] == 4 and info["conv_clamp"] is None
    assert (model.resolution, model.num_ws, model.z_dim, model.w_dim) == (32, 8, 64, 64)
    with np.load(fixture / "expected.npz") as expected:
        assert torch.equal(model.w_avg, torch.from_numpy(expected["truncation_latent"]))
    assert "w_avg" not in model.info.extra


def test_rosinality_training_checkpoint(tmp_path: Path) -> None:
    """train.py output: argparse.Namespace args, a discriminator, no latent_avg, legacy format."""
    fixture = _fixture("sg2_32")
    if "sg2_32" not in REAL_PICKLES:
        pytest.skip("needs sg2_32/network-snapshot.pkl for a real discriminator")
    nvidia = explorer.load(fixture / "network-snapshot.pkl")
    d_state = nvidia.discriminator.state_dict()
    rosi_d = cb.nvidia_d_to_rosinality(d_state, 32)
    paths = [cb.write_rosinality_checkpoint(fixture, tmp_path / f"{legacy}.pt", training=True,
                                            d_state=rosi_d, legacy_format=legacy)
             for legacy in (False, True)]
    first, second = (explorer.load(p) for p in paths)
    assert first.has_discriminator
    _assert_same_state(first.discriminator.state_dict(), d_state)
    assert "estimated" in first.info.extra["w_avg"]
    assert first.info.extra["training_args"]["size"] == 32
    assert torch.equal(first.w_avg, second.w_avg), "the w_avg estimate must be deterministic"
    assert (first.w_avg - nvidia.w_avg).abs().max() < 0.5


def test_rosinality_bare_state_dict(tmp_path: Path) -> None:
    fixture = _fixture("rosi_32")
    state, _ = cb.rosinality_generator_state(fixture)
    path = tmp_path / "g_ema_only.pth"
    torch.save(state, path)
    assert explorer.load(path).resolution == 32


def test_torch_file_without_generator(tmp_path: Path) -> None:
    path = tmp_path / "other.pt"
    torch.save({"model": {"fc.weight": torch.zeros(2, 2)}}, path)
    with pytest.raises(CheckpointError, match="not a rosinality"):
        explorer.load(path)


def test_channel_base_and_max() -> None:
    assert channel_base_and_max({4: 512, 8: 512, 16: 512, 32: 512, 64: 512, 128: 256, 256: 128}) == (32768, 512)
    assert channel_base_and_max({4: 64, 8: 64, 16: 64, 32: 32}) == (1024, 64)
    assert channel_base_and_max({4: 64, 8: 64, 16: 48, 32: 32}) is None


# --------------------------------------------------------------------------- safetensors

@pytest.fixture
def sg2_model() -> explorer.Model:
    fixture = _fixture("sg2_32")
    if "sg2_32" not in REAL_PICKLES:
        pytest.skip("needs sg2_32/network-snapshot.pkl")
    return explorer.load(fixture / "network-snapshot.pkl")


def _images(model: explorer.Model) -> torch.Tensor:
    z = torch.from_numpy(np.random.RandomState(0).randn(2, model.z_dim)).float()
    return model.synthesize(model.map(z, psi=0.7))


def test_safetensors_round_trip(sg2_model: explorer.Model, tmp_path: Path) -> None:
    path = tmp_path / "model.safetensors"
    explorer.save(sg2_model, path, metadata={"note": "unit test"})
    loaded = explorer.load(path)
    assert loaded.format == "stylegan-explorer .safetensors"
    _assert_same_state(loaded.generator.state_dict(), sg2_model.generator.state_dict())
    _assert_same_state(loaded.discriminator.state_dict(), sg2_model.discriminator.state_dict())
    assert torch.equal(_images(loaded), _images(sg2_model))
    assert loaded.info.content_hash == sg2_model.info.content_hash
    assert loaded.info.extra["note"] == "unit test"
    assert loaded.info.extra["source_format"] == sg2_model.format


def test_safetensors_sg3_round_trip(tmp_path: Path) -> None:
    fixture = _fixture("sg3r_32")
    model = explorer.load(cb.write_nvidia_pickle(fixture, tmp_path / "g.pkl"))
    explorer.save(model, tmp_path / "g.safetensors")
    loaded = explorer.load(tmp_path / "g.safetensors")
    assert not loaded.has_discriminator
    _assert_same_state(loaded.generator.state_dict(), model.generator.state_dict())
    assert torch.equal(_images(loaded), _images(model))


def test_safetensors_metadata_and_groups(sg2_model: explorer.Model, tmp_path: Path) -> None:
    path = tmp_path / "resume.safetensors"
    optimizer = {"fc0.exp_avg": torch.arange(6.0).reshape(2, 3)}
    explorer.save(sg2_model, path, include_discriminator=False, extra_tensors={"G_opt": optimizer})
    groups, metadata = read_checkpoint(path)
    assert sorted(groups) == ["G_ema", "G_opt"]
    assert torch.equal(groups["G_opt"]["fc0.exp_avg"], optimizer["fc0.exp_avg"])
    assert metadata["format"] == "stylegan-explorer" and metadata["format_version"] == "1"
    assert metadata["architecture"] == "stylegan2"
    assert json.loads(metadata["generator_kwargs"]) == sg2_model.generator.init_kwargs
    assert json.loads(metadata["provenance"])["source"].endswith("network-snapshot.pkl")
    assert not explorer.load(path).has_discriminator


def test_safetensors_fp16(sg2_model: explorer.Model, tmp_path: Path) -> None:
    path = tmp_path / "half.safetensors"
    explorer.save(sg2_model, path, dtype=torch.float16)
    groups, _ = read_checkpoint(path)
    assert groups["G_ema"]["mapping.fc0.weight"].dtype == torch.float16
    loaded = explorer.load(path)
    for name, tensor in sg2_model.generator.state_dict().items():
        got = loaded.generator.state_dict()[name]
        assert got.dtype == torch.float32
        assert torch.allclose(got, tensor, rtol=1e-3, atol=1e-4), name
    assert (_images(loaded) - _images(sg2_model)).abs().max() < 0.05


def test_safetensors_sniffed_by_content(sg2_model: explorer.Model, tmp_path: Path) -> None:
    path = tmp_path / "looks-like-nvidia.pkl"
    explorer.save(sg2_model, path)
    assert explorer.load(path).format == "stylegan-explorer .safetensors"


def test_save_is_atomic(sg2_model: explorer.Model, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "model.safetensors"
    path.write_bytes(b"previous good file")

    def failing_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        explorer.save(sg2_model, path)
    assert path.read_bytes() == b"previous good file"
    assert [p.name for p in tmp_path.iterdir()] == ["model.safetensors"]


def test_foreign_safetensors_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.safetensors"
    from safetensors.torch import save_file
    save_file({"w": torch.zeros(2)}, str(path))
    with pytest.raises(CheckpointError, match="not a StyleGAN Explorer checkpoint"):
        explorer.load(path)


def test_save_checkpoint_rejects_dotted_groups(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        save_checkpoint(tmp_path / "x.safetensors", {"a.b": {"w": torch.zeros(1)}}, {})


# --------------------------------------------------------------------------- paths

def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="no such file"):
        explorer.load(tmp_path / "nope.pkl")


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="folder; choose a checkpoint file inside it$"):
        explorer.load(tmp_path)


def test_a_run_folder_names_its_newest_snapshot(tmp_path: Path) -> None:
    snapshots = tmp_path / "snapshots"
    snapshots.mkdir()
    for i, name in enumerate(["snapshot-0000000256.safetensors", "snapshot-0000000512.safetensors"]):
        (snapshots / name).write_bytes(b"x")
        os.utime(snapshots / name, (1000 + i, 1000 + i))
    (tmp_path / "status.json").write_text("{}")
    with pytest.raises(CheckpointError, match="the newest there: .*snapshot-0000000512.safetensors"):
        explorer.load(tmp_path)


def test_device_argument(sg2_model: explorer.Model) -> None:
    model = explorer.load(sg2_model.info.source, device="cpu")
    assert model.device == torch.device("cpu")
    assert next(model.generator.parameters()).device == torch.device("cpu")


def test_a_saved_checkpoint_gets_the_usual_file_permissions(tmp_path: Path) -> None:
    """safetensors re-creates the file as 0600; a snapshot must be readable like its run folder's
    other files (the umask's permissions)."""
    import stat
    plain = tmp_path / "plain.txt"
    plain.write_bytes(b"")
    path = tmp_path / "model.safetensors"
    save_checkpoint(path, {"G": {"w": torch.zeros(2)}}, {})
    assert stat.S_IMODE(path.stat().st_mode) == stat.S_IMODE(plain.stat().st_mode)
