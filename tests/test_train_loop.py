"""Training end to end in one process: losses move, snapshots load everywhere, resume restores."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest
import torch

import explorer
from explorer.cli import main as cli_main
from explorer.errors import CheckpointError, ExplorerError
from explorer.train.loop import train
from explorer.train.run_folder import RunFolder
from explorer.train.snapshot import load_snapshot, snapshot_model, trained_kimg
from tests.test_train_support import make_shapes_folder, tiny_config


def test_train_snapshot_load_and_resume(tmp_path: Path, one_torch_thread, capsys) -> None:
    data = make_shapes_folder(tmp_path / "data", count=16)
    cfg = tiny_config(data, tmp_path / "run", tmp_path / "cache")
    lines: list[str] = []
    status_at_first_tick: list[dict] = []

    def log(line: str) -> None:  # a tick logs its line before it rewrites status.json
        if line.startswith("tick ") and not status_at_first_tick:
            status_at_first_tick.append(RunFolder(cfg.out).read_status())
        lines.append(line)
    run = train(cfg, log=log).run
    # After 3 steps, before any tick (every 16 images = 4 steps): the speed and the first tick's
    # wait, in the log and in status.json (a watcher shows the speed before the first tick).
    first_tick = next(i for i, line in enumerate(lines) if line.startswith("tick "))
    assert any(line.startswith("first 3 steps: ") and "the first tick line in about" in line
               for line in lines[:first_tick])
    early = status_at_first_tick[0]
    assert early["state"] == "running" and early["kimg"] == 0.012 and early["sec_per_kimg"] > 0

    metrics = run.read_metrics()
    assert [r["tick"] for r in metrics] == [1, 2, 3, 4]
    for key in ("loss_G", "loss_D"):
        values = [r[key] for r in metrics]
        assert all(math.isfinite(v) for v in values) and len(set(values)) > 1
    assert any("r1" in r for r in metrics) and any("pl" in r for r in metrics)
    assert all(r["sec_per_kimg"] > 0 and 0 <= r["ada_p"] <= 1 for r in metrics)
    assert "G.synthesis.b16.conv1" in metrics[-1]["sv"] and "D.b4.fc" in metrics[-1]["sv"]
    assert (run.samples_dir / "reals.png").is_file() and run.newest_sample() is not None
    status = run.read_status()
    assert status["state"] == "finished" and status["kimg"] == 0.064
    assert json.loads(run.config_path.read_text())["gamma"] == pytest.approx(0.0002 * 16 ** 2 / 4)

    snaps = run.snapshots()
    assert [s.name for s in snaps] == ["snapshot-0000000032.safetensors", "snapshot-0000000064.safetensors"]
    model = explorer.load(snaps[-1])
    assert model.resolution == 16 and model.has_discriminator
    img = model.synthesize(model.map(model.z_from_seed(1)))
    assert img.shape == (1, 3, 16, 16) and torch.isfinite(img).all()
    assert model.info.extra["kimg"] == 0.064

    # The G weights moved away from their initialisation.
    first = load_snapshot(snaps[0]).groups
    assert not torch.equal(first["G"]["synthesis.b16.conv1.weight"],
                           load_snapshot(snaps[-1]).groups["G"]["synthesis.b16.conv1.weight"])

    assert cli_main(["info", str(snaps[-1])]) == 0
    assert "16 x 16" in capsys.readouterr().out
    assert cli_main(["generate", str(snaps[-1]), "--seeds", "0-1", "--out", str(tmp_path / "gen")]) == 0
    assert (tmp_path / "gen" / "grid.png").is_file()

    # A second run into the same folder needs --resume; with it, training goes on from 64 images.
    longer = tiny_config(data, tmp_path / "run", tmp_path / "cache", kimg=0.096)
    with pytest.raises(ExplorerError, match="--resume"):
        train(longer, log=lambda line: None)
    lines: list[str] = []
    train(longer, resume=True, log=lines.append)
    assert any("resuming from snapshot-0000000064" in line for line in lines)
    metrics = RunFolder(tmp_path / "run").read_metrics()
    assert [r["nimg"] for r in metrics] == [16, 32, 48, 64, 80, 96]
    resumed = load_snapshot(RunFolder(tmp_path / "run").newest_snapshot())
    assert resumed.nimg == 96 and resumed.progress["step"] == 24
    assert "D_opt" in resumed.groups and any(k.endswith("@exp_avg") for k in resumed.groups["G_opt"])


def test_conditional_training_on_labels(tmp_path: Path, one_torch_thread) -> None:
    data = make_shapes_folder(tmp_path / "data", count=8)
    (data / "dataset.json").write_text(json.dumps({"labels": [[f"img{i:03d}.png", i % 2] for i in range(8)]}))
    cfg = tiny_config(data, tmp_path / "run", tmp_path / "cache", cond=True, kimg=0.016,
                      augment="fixed", augment_p=0.5)
    run = train(cfg, log=lambda line: None).run
    model = explorer.load(run.newest_snapshot())
    assert model.c_dim == 2
    assert model.synthesize(model.map(model.z_from_seed(0), model.class_vector(1))).shape == (1, 3, 16, 16)
    assert run.read_metrics()[-1]["ada_p"] == 0.5


def test_cond_without_labels_is_a_clear_error(tmp_path: Path) -> None:
    data = make_shapes_folder(tmp_path / "data", count=4)
    with pytest.raises(ExplorerError, match="labels"):
        train(tiny_config(data, tmp_path / "run", tmp_path / "cache", cond=True), log=lambda line: None)
    assert RunFolder(tmp_path / "run").read_status()["state"] == "failed"


def test_refuses_a_folder_a_live_trainer_works_in(tmp_path: Path) -> None:
    run = RunFolder(tmp_path / "run")
    other = {"pid": os.getppid(), "state": "running"}  # a live process that is not us
    run.write_json(run.status_path, other)
    data = make_shapes_folder(tmp_path / "data", count=4)
    with pytest.raises(ExplorerError, match="already running"):
        train(tiny_config(data, run.path, tmp_path / "cache"), resume=True, log=lambda line: None)
    assert run.read_status() == other  # left alone


def test_time_budget_stops_cleanly_with_a_final_snapshot(tmp_path: Path, one_torch_thread) -> None:
    data = make_shapes_folder(tmp_path / "data", count=8)
    cfg = tiny_config(data, tmp_path / "run", tmp_path / "cache", kimg=1000, snap_kimg=1000,
                      sample_kimg=1000, tick_kimg=1000)
    lines: list[str] = []
    run = train(cfg, log=lines.append, time_budget=1.5).run
    status = run.read_status()
    assert status["state"] == "stopped" and status["time_left_s"] == 0
    assert 0 < status["kimg"] < 1000 and "time budget used up" in lines[-1]
    assert load_snapshot(run.newest_snapshot()).nimg == round(status["kimg"] * 1000)
    with pytest.raises(ExplorerError, match="positive"):
        train(cfg, log=lambda line: None, time_budget=0)


def test_init_from_a_model_file_starts_from_its_weights(tmp_path: Path, one_torch_thread) -> None:
    data = make_shapes_folder(tmp_path / "data", count=8)
    first = train(tiny_config(data, tmp_path / "first", tmp_path / "cache", kimg=0.016),
                  log=lambda line: None)
    asset = tmp_path / "asset.safetensors"
    explorer.save(explorer.load(first.run.newest_snapshot()), asset, dtype=torch.float16)
    assert cli_main(["train", "--data", str(data), "--out", str(tmp_path / "second"), "--init-from", str(asset),
                     "--kimg", "0.004", "--batch", "4", "--workers", "0", "--device", "cpu",
                     "--cache-dir", str(tmp_path / "cache"), "--tick", "0.004"]) == 0
    second = RunFolder(tmp_path / "second")
    config = json.loads(second.config_path.read_text())
    assert (config["resolution"], config["z_dim"], config["channel_max"]) == (16, 16, 16)
    assert config["init_from"] == str(asset.resolve())
    # One step from the asset: G_ema stays close to it (a random start would be far away).
    start = explorer.load(asset).generator.state_dict()
    after = load_snapshot(second.newest_snapshot()).groups["G_ema"]
    key = "synthesis.b16.conv1.weight"
    assert (after[key] - start[key].float()).abs().max() < 0.05 * start[key].float().abs().max()
    # The new snapshots count the images the starting weights had seen (16) plus their own (4),
    # and an export of them says so too: the app tells how long a model was trained.
    assert trained_kimg(explorer.load(asset).info.extra) == pytest.approx(0.016)
    assert trained_kimg(explorer.load(second.newest_snapshot()).info.extra) == pytest.approx(0.016 + 0.004)
    assert load_snapshot(second.newest_snapshot()).progress["kimg_before"] == pytest.approx(0.016)
    # Flags may repeat the architecture but not contradict it.
    assert cli_main(["train", "--data", str(data), "--out", str(tmp_path / "third"), "--init-from", str(asset),
                     "--z-dim", "32"]) == 1


def test_path_length_mean_starts_at_the_first_measurement(tmp_path: Path, one_torch_thread) -> None:
    from explorer.train.config import resolve_config
    from explorer.train.loss import LossSettings, StyleGAN2Loss
    from explorer.train.networks import build_networks
    cfg = resolve_config(tiny_config(tmp_path, tmp_path, tmp_path), 16, 1, torch.device("cpu"))
    torch.manual_seed(0)
    G, D, _ = build_networks(cfg, 0, torch.device("cpu"))
    losses = StyleGAN2Loss(G, D, lambda x: x, LossSettings(r1_gamma=1.0))
    _, first = losses.path_length(torch.randn(4, G.z_dim), None)
    assert losses.pl_mean.item() == pytest.approx(first.item()) and first.item() > 0
    _, second = losses.path_length(torch.randn(4, G.z_dim), None)
    assert losses.pl_mean.item() == pytest.approx(first.item() + 0.01 * (second.item() - first.item()))


def test_the_tick_line_says_the_time_left_of_a_budget() -> None:
    from explorer.train.loop import _progress_line
    record = {"tick": 3, "kimg": 1.5, "sec_per_kimg": 20.0, "ada_p": 0.1, "time": 1000.0, "loss_G": 1.0}
    assert _progress_line(record, 10, deadline=1000.0 + 3725).endswith("left 1:02:05")
    assert "left" not in _progress_line(record, 10)


def test_g_ema_of_trained_weights_does_not_restart_its_ramp_up(tmp_path: Path, one_torch_thread) -> None:
    data = make_shapes_folder(tmp_path / "data", count=8)
    first = train(tiny_config(data, tmp_path / "first", tmp_path / "cache", kimg=0.016), log=lambda line: None)
    model = explorer.load(first.run.newest_snapshot())
    model.info.extra["kimg"] = 500.0  # as if long trained: G_ema's half-life is then its full length
    asset = tmp_path / "asset.safetensors"
    explorer.save(model, asset)
    second = train(tiny_config(data, tmp_path / "second", tmp_path / "cache", kimg=0.004, init_from=str(asset)),
                   log=lambda line: None)
    start = explorer.load(asset).generator.state_dict()
    groups = load_snapshot(second.run.newest_snapshot()).groups
    key = "synthesis.b16.conv1.weight"
    g_moved = (groups["G"][key] - start[key]).abs().max()
    ema_moved = (groups["G_ema"][key] - start[key]).abs().max()
    assert g_moved > 0 and ema_moved < 0.01 * g_moved  # a restarted ramp would make G_ema = G


def test_the_raw_g_of_a_snapshot_exports_with_its_provenance(tmp_path: Path, one_torch_thread) -> None:
    data = make_shapes_folder(tmp_path / "data", count=8)
    snap = train(tiny_config(data, tmp_path / "run", tmp_path / "cache", kimg=0.016),
                 log=lambda line: None).run.newest_snapshot()
    groups = load_snapshot(snap).groups
    key = "synthesis.b16.conv1.weight"
    assert not torch.equal(groups["G"][key], groups["G_ema"][key])
    raw, averaged = snapshot_model(snap, "G"), snapshot_model(snap, "G_ema")
    assert torch.equal(raw.generator.state_dict()[key], groups["G"][key])
    assert torch.equal(averaged.generator.state_dict()[key], groups["G_ema"][key])
    assert raw.info.content_hash != averaged.info.content_hash == explorer.load(snap).info.content_hash
    exported = tmp_path / "raw.safetensors"
    explorer.save(raw, exported, dtype=torch.float16)
    reloaded = explorer.load(exported)
    assert reloaded.info.extra["source_extra"]["generator_weights"] == "G"
    assert trained_kimg(reloaded.info.extra) == pytest.approx(0.016) and reloaded.has_discriminator
    assert torch.allclose(reloaded.generator.state_dict()[key], groups["G"][key], atol=1e-2)
    with pytest.raises(CheckpointError, match="no raw G"):
        snapshot_model(exported, "G")


def test_a_resume_at_a_lower_learning_rate_steps_with_it(tmp_path: Path, one_torch_thread) -> None:
    """The loop's side of `train --resume --lr` (test_train_command checks that the flag gets here):
    the restored Adam keeps its moments but steps with the new rate."""
    from dataclasses import replace
    data = make_shapes_folder(tmp_path / "data", count=8)
    cfg = tiny_config(data, tmp_path / "run", tmp_path / "cache", kimg=0.016, snap_kimg=0.016)
    run = train(cfg, log=lambda line: None).run
    first = load_snapshot(run.newest_snapshot()).groups["G"]
    train(replace(cfg, kimg=0.032, lr=1e-12), resume=True, log=lambda line: None)
    second = load_snapshot(run.newest_snapshot())
    assert second.nimg == 32 and json.loads(run.config_path.read_text())["lr"] == 1e-12
    key = "synthesis.b16.conv1.weight"
    assert (second.groups["G"][key] - first[key]).abs().max() < 1e-8  # Adam's step is about lr


def test_a_short_ema_half_life_makes_g_ema_follow_g(tmp_path: Path, one_torch_thread) -> None:
    data = make_shapes_folder(tmp_path / "data", count=8)
    run = train(tiny_config(data, tmp_path / "run", tmp_path / "cache", kimg=0.008, ema_kimg=1e-6),
                log=lambda line: None).run
    groups = load_snapshot(run.newest_snapshot()).groups
    assert json.loads(run.config_path.read_text())["ema_kimg"] == 1e-6
    for key, value in groups["G"].items():
        assert torch.equal(groups["G_ema"][key], value), key
