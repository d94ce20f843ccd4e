"""The `train` / `dataset` argument glue: flags become a TrainConfig; --resume keeps the stored one."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path

import pytest

from explorer.cli import main
from explorer.cli.train import add_parser, train_config
from explorer.errors import ExplorerError
from explorer.train.config import TrainConfig


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(argv)


def test_flags_become_config(tmp_path: Path) -> None:
    cfg = train_config(_parse(["train", "--data", "d", "--out", str(tmp_path), "--kimg", "2",
                               "--batch", "8", "--z-dim", "64", "--mirror", "--no-amp"]))
    assert (cfg.data, cfg.kimg, cfg.batch, cfg.z_dim, cfg.w_dim, cfg.mirror, cfg.amp) == \
        ("d", 2.0, 8, 64, 64, True, False)
    assert cfg.lr == TrainConfig.lr and cfg.resolution is None and cfg.augment == "ada"


def test_resume_keeps_stored_settings_but_takes_new_length(tmp_path: Path) -> None:
    stored = TrainConfig(data="old", out=str(tmp_path), batch=16, gamma=0.5, kimg=10)
    (tmp_path / "config.json").write_text(json.dumps(asdict(stored)))
    with pytest.raises(ExplorerError, match="trained with batch=16, not 4"):
        train_config(_parse(["train", "--out", str(tmp_path), "--resume", "--kimg", "20", "--batch", "4"]))
    cfg = train_config(_parse(["train", "--out", str(tmp_path), "--resume", "--kimg", "20", "--batch", "4",
                               "--force"]))
    assert (cfg.data, cfg.batch, cfg.gamma, cfg.kimg) == ("old", 16, 0.5, 20.0)


def test_the_ema_half_life_is_a_flag_that_a_resume_may_change(tmp_path: Path, capsys) -> None:
    assert train_config(_parse(["train", "--data", "d", "--out", str(tmp_path), "--ema-kimg", "0.5"])).ema_kimg == 0.5
    stored = TrainConfig(data="old", out=str(tmp_path), batch=16, ema_kimg=5.0)
    (tmp_path / "config.json").write_text(json.dumps(asdict(stored)))
    cfg = train_config(_parse(["train", "--out", str(tmp_path), "--resume", "--ema-kimg", "1"]))
    assert (cfg.ema_kimg, cfg.batch) == (1.0, 16)
    assert main(["train", "--data", "d", "--out", str(tmp_path / "new"), "--ema-kimg", "0"]) == 1
    assert "--ema-kimg must be" in capsys.readouterr().err


def test_a_resume_may_lower_the_learning_rate_to_anneal(tmp_path: Path) -> None:
    stored = TrainConfig(data="old", out=str(tmp_path), batch=16, lr=0.001)
    (tmp_path / "config.json").write_text(json.dumps(asdict(stored)))
    cfg = train_config(_parse(["train", "--out", str(tmp_path), "--resume", "--lr", "0.0005"]))
    assert (cfg.lr, cfg.batch) == (0.0005, 16)
    assert train_config(_parse(["train", "--out", str(tmp_path), "--resume"])).lr == 0.001


def test_missing_data_is_a_one_line_error(tmp_path: Path, capsys) -> None:
    assert main(["train", "--out", str(tmp_path / "run")]) == 1
    assert "--data is required" in capsys.readouterr().err
    assert main(["train", "--data", str(tmp_path / "nowhere"), "--out", str(tmp_path / "run")]) == 1
    assert "no such dataset" in capsys.readouterr().err
