"""One process per device: set up by `torchrun` (env:// rendezvous) or alone when not launched by it.

Gradients are averaged by hand (one flattened all-reduce per phase) rather than through
DistributedDataParallel, because the regularisers take second derivatives with
`torch.autograd.grad`, which DDP does not support, and because G and D are stepped in
alternating phases that touch different parameters.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Iterable

import torch
import torch.distributed as dist

from explorer.devices import resolve_device


@dataclass(frozen=True)
class Process:
    """This process's place in the job."""

    rank: int
    world_size: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        """Only the main process writes files and prints."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def init_process(device_name: str = "auto") -> Process:
    """Join the torchrun job described by the environment, or run alone.

    With CUDA each process takes the GPU of its LOCAL_RANK and talks over NCCL; elsewhere gloo.
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    device = resolve_device(device_name)
    if device.type == "cuda" and world_size > 1:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    if world_size > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo", init_method="env://")
    return Process(rank, world_size, device)


def shutdown(proc: Process) -> None:
    if proc.distributed and dist.is_initialized():
        dist.destroy_process_group()


def all_reduce_sum(tensor: torch.Tensor) -> None:
    """In-place sum over all processes (a no-op when alone)."""
    if dist.is_initialized() and dist.get_world_size() > 1:
        dist.all_reduce(tensor)


def average_gradients(params: Iterable[torch.nn.Parameter], proc: Process) -> None:
    """Average .grad over processes in one collective; missing grads count as zeros."""
    params = [p for p in params if p.requires_grad]
    if not proc.distributed or not params:
        return
    for p in params:
        if p.grad is None:
            p.grad = torch.zeros_like(p)
    flat = torch.cat([p.grad.reshape(-1) for p in params])
    dist.all_reduce(flat)
    flat /= proc.world_size
    offset = 0
    for p in params:
        n = p.numel()
        p.grad.copy_(flat[offset:offset + n].reshape(p.shape))
        offset += n


def broadcast_state(module: torch.nn.Module, proc: Process, buffers_only: bool = False) -> None:
    """Give every process the main process's parameters and buffers.

    Parameters stay equal by themselves (every rank applies the same averaged gradients), so
    after the start only buffers need it: G's running mean of w is updated from each rank's
    own batch.
    """
    if not proc.distributed:
        return
    tensors = list(module.buffers()) if buffers_only else [*module.parameters(), *module.buffers()]
    for tensor in tensors:
        dist.broadcast(tensor.data, src=0)


def any_process(flag: bool, proc: Process) -> bool:
    """True on every process when `flag` is True on at least one (e.g. a stop request)."""
    if not proc.distributed:
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=proc.device)
    dist.all_reduce(t)
    return bool(t.item() > 0)


def barrier(proc: Process) -> None:
    if proc.distributed:
        dist.barrier()
