"""Two processes over gloo (as torchrun would start them) end with identical networks."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import torch
import torch.multiprocessing as mp

import explorer
from explorer.model import state_dict_hash
from tests.test_train_support import make_shapes_folder, tiny_config


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rank_main(rank: int, world_size: int, port: int, data: str, tmp: str) -> None:
    torch.set_num_threads(1)
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                      WORLD_SIZE=str(world_size), LOCAL_RANK=str(rank))
    from explorer.train.loop import train
    cfg = tiny_config(Path(data), Path(tmp) / "run", Path(tmp) / "cache", batch=8, kimg=0.064,
                      tick_kimg=0.032, snap_kimg=0.064)
    result = train(cfg, log=lambda line: None)
    hashes = [state_dict_hash(net) for net in (result.G, result.G_ema, result.D)]
    (Path(tmp) / f"rank{rank}.txt").write_text(" ".join(hashes))


def test_two_gloo_ranks_hold_identical_weights(tmp_path: Path) -> None:
    data = make_shapes_folder(tmp_path / "data", count=16)
    mp.spawn(_rank_main, args=(2, _free_port(), str(data), str(tmp_path)), nprocs=2, join=True)
    rank0 = (tmp_path / "rank0.txt").read_text().split()
    rank1 = (tmp_path / "rank1.txt").read_text().split()
    assert rank0 == rank1

    run = tmp_path / "run"
    snapshots = sorted((run / "snapshots").glob("*.safetensors"))
    assert [s.name for s in snapshots] == ["snapshot-0000000064.safetensors"]  # rank 0 alone writes
    assert explorer.load(snapshots[0]).info.content_hash == rank0[1]
    assert not any(run.glob("*rank1*"))
