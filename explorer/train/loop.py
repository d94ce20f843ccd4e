"""The StyleGAN2 training loop, readable top to bottom.

One call to `train` runs one process of a job: alone (CPU or one GPU) or as one rank of a
`torchrun` launch. Every step has four phases, each with its own optimiser step:

    G main   make D call G's images real               (every step)
    G reg    path-length penalty                       (every g_reg_interval steps, lazily)
    D main   tell reals from G's images                (every step)
    D reg    R1 penalty on the reals                   (every d_reg_interval steps, lazily)

Lazy regularisation runs a penalty only every k steps with k times the weight; Adam's learning
rate and betas are adjusted so that the effective step size stays the same. Only rank 0 writes
files. A stop request (SIGINT/SIGTERM, via `stop`) ends the run after the current step with a
final snapshot.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from dataclasses import asdict, dataclass
from typing import Callable, Iterator

import torch
from torch import nn

from explorer.errors import ExplorerError
from explorer.train.augment import AdaptiveAugment, AdaTuner
from explorer.train.config import TrainConfig, resolve_config
from explorer.train.dataset import ImageDataset, InfiniteSampler, PreparedDataset, prepare_dataset
from explorer.train.distributed import (Process, all_reduce_sum, any_process, average_gradients,
                                        barrier, broadcast_state, init_process, shutdown)
from explorer.train.init_from import load_initial_weights
from explorer.train.loss import LossSettings, StyleGAN2Loss
from explorer.train.metrics import RunningStats, top_singular_values
from explorer.train.networks import build_networks, ema_beta, update_ema
from explorer.train.run_folder import RunFolder
from explorer.train.samples import fixed_latents, grid_shape, save_fake_grid, save_real_grid
from explorer.train.snapshot import Snapshot, load_snapshot, restore_optimizer, save_snapshot

SAMPLE_SEED = 123
SPEED_REPORT_STEPS = 3  # after these, one line with the speed and when the first tick line comes


@dataclass(frozen=True)
class TrainResult:
    """The run folder, and the networks as training left them (on this process's device)."""

    run: RunFolder
    G: nn.Module
    G_ema: nn.Module
    D: nn.Module


def train(cfg: TrainConfig, resume: bool = False, stop: threading.Event | None = None,
          log: Callable[[str], None] = print, time_budget: float | None = None) -> TrainResult:
    """Train until `cfg.kimg`, a stop request or `time_budget` seconds of wall clock (counted from
    this call, dataset preparation included) are reached; with `resume`, continue from the newest
    snapshot. Every way of ending writes a final snapshot."""
    if time_budget is not None and not time_budget > 0:
        raise ExplorerError(f"the time budget must be a positive number of seconds, not {time_budget}")
    deadline = None if time_budget is None else time.time() + time_budget
    proc = init_process(cfg.device)
    run = RunFolder(cfg.out)
    try:
        if proc.is_main:
            _claim(run, resume)
        return _train(cfg, proc, run, resume, stop or threading.Event(), log if proc.is_main else _quiet,
                      deadline)
    except BaseException as e:
        # Only a status this process wrote is marked failed, never another trainer's.
        if proc.is_main and (run.read_status() or {}).get("pid") == os.getpid():
            run.write_status(state="failed", error=f"{type(e).__name__}: {e}")
        raise
    finally:
        shutdown(proc)


def _claim(run: RunFolder, resume: bool) -> None:
    """Refuse a folder another live trainer works in, or a finished run without --resume."""
    pid = run.live_trainer_pid()
    if pid is not None and pid != os.getpid():
        raise ExplorerError(f"a trainer (pid {pid}) is already running in {run.path}; stop it first")
    if run.newest_snapshot() is not None and not resume:
        raise ExplorerError(f"{run.path} already holds a training run; pass --resume to continue it "
                            "or choose another --out")


def _quiet(_: str) -> None:
    pass


def _train(cfg: TrainConfig, proc: Process, run: RunFolder, resume: bool, stop: threading.Event,
           log: Callable[[str], None], deadline: float | None) -> TrainResult:
    device = proc.device
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed shapes: let cuDNN pick its fastest kernels
        if cfg.fused_kernels:  # built once, self-checked on this GPU; the reference ops otherwise
            from cuda_ops import fused
            log(str(fused.enable_for_training(device)))
    snapshot_file = run.newest_snapshot() if resume else None
    snapshot = load_snapshot(snapshot_file) if snapshot_file else None
    if proc.is_main:
        run.path.mkdir(parents=True, exist_ok=True)
        run.remove_stale_temp_files()
        run.write_status(state="starting", kimg=0.0 if snapshot is None else snapshot.nimg / 1000)

    # Data: rank 0 preprocesses into the cache while the others wait, then everyone maps it.
    prepared = _prepare(cfg, proc, log)
    manifest = prepared.manifest
    cfg = resolve_config(cfg, manifest.resolution, proc.world_size, device)
    c_dim = manifest.label_dim if cfg.cond else 0
    if cfg.cond and c_dim == 0:
        raise ExplorerError(f"--cond needs labels, but {cfg.data} has no dataset.json labels")
    dataset = ImageDataset(prepared, xflip=cfg.mirror)
    batch_gpu = cfg.batch // proc.world_size
    start_nimg = 0 if snapshot is None else snapshot.nimg
    batches = _batches(dataset, batch_gpu, proc, seed=cfg.seed + start_nimg, workers=cfg.workers)
    labels = dataset.labels.to(device)

    # Networks, augmentation and optimisers; every rank starts from rank 0's weights.
    torch.manual_seed(cfg.seed)
    G, D, G_ema = build_networks(cfg, c_dim, device)
    augment = AdaptiveAugment(cfg.augment_p if cfg.augment != "none" else 0.0)
    tuner = (AdaTuner(augment, cfg.batch, device, cfg.ada_target, cfg.ada_interval, cfg.ada_kimg)
             if cfg.augment == "ada" else None)
    G_opt = _adam(G, cfg, cfg.g_reg_interval)
    D_opt = _adam(D, cfg, cfg.d_reg_interval)
    G_scaler = torch.amp.GradScaler(device.type, enabled=bool(cfg.amp))
    D_scaler = torch.amp.GradScaler(device.type, enabled=bool(cfg.amp))
    losses = StyleGAN2Loss(G, D, augment, LossSettings(r1_gamma=cfg.gamma, pl_weight=cfg.pl_weight,
                                                       style_mixing=cfg.style_mixing), amp=bool(cfg.amp))
    nimg, tick, step = 0, 0, 0
    kimg_before = 0.0  # what the starting weights had seen (--init-from): provenance, G_ema ramp-up
    if snapshot is None and cfg.init_from:
        kimg_before = load_initial_weights(cfg.init_from, G, G_ema, D)
        log(f"starting from the weights of {cfg.init_from}"
            + (f" (trained for {kimg_before:g} kimg)" if kimg_before else ""))
    if snapshot is not None:
        _restore(snapshot, G, G_ema, D, G_opt, D_opt, augment, losses)
        nimg, tick, step = snapshot.nimg, int(snapshot.progress["tick"]), int(snapshot.progress["step"])
        kimg_before = float(snapshot.progress.get("kimg_before", 0.0))
        log(f"resuming from {snapshot_file.name} at {nimg / 1000:.3f} kimg")
    nimg_before = round(kimg_before * 1000)
    for net in (G, G_ema, D):
        broadcast_state(net, proc)
    torch.manual_seed(cfg.seed + 1000 * proc.rank + 7 * nimg)

    total_nimg = int(cfg.kimg * 1000)
    cols, rows = grid_shape(cfg.resolution)
    grid_z, grid_c = fixed_latents(G, cols * rows, dataset.labels, SAMPLE_SEED, device)
    if proc.is_main:
        run.write_json(run.config_path, asdict(cfg))
        run.write_json(run.manifest_path, asdict(manifest))
        if snapshot is not None:
            run.keep_metrics_until(nimg)
        if not (run.samples_dir / "reals.png").exists():
            reals = torch.stack([dataset[i % len(dataset)][0] for i in range(cols * rows)])
            save_real_grid(run.samples_dir / "reals.png", reals, cols)
    if nimg >= total_nimg:
        log(f"already trained for {nimg / 1000:.3f} of {cfg.kimg} kimg; nothing to do")
        if proc.is_main:
            _status(run, "finished", nimg, tick, cfg, augment, deadline)
        return TrainResult(run, G, G_ema, D)
    log(f"training {cfg.resolution}px, batch {cfg.batch} on {proc.world_size} x {device}, "
        f"{sum(p.numel() for p in G.parameters()):,} G / {sum(p.numel() for p in D.parameters()):,} D "
        f"parameters, {manifest.count} images, gamma {cfg.gamma:.4g}, "
        f"{'mixed precision' if cfg.amp else 'float32'}")

    stats = RunningStats()
    tick_at_start = tick
    next_tick = nimg + int(cfg.tick_kimg * 1000)
    next_sample = nimg + int(cfg.sample_kimg * 1000)
    next_snap = nimg + int(cfg.snap_kimg * 1000)
    tick_start_time, tick_start_nimg = time.time(), nimg
    if proc.is_main:
        _status(run, "running", nimg, tick, cfg, augment, deadline)
    stop_check_every = cfg.d_reg_interval if proc.distributed else 1

    while True:
        real, real_c = next(batches)
        real = real.to(device, non_blocking=True).to(torch.float32) / 127.5 - 1
        real_c = real_c.to(device) if c_dim else None

        # G main, then (lazily) path length.
        _train_only(G, D)
        loss = losses.generator_main(*_latents(G, labels, batch_gpu, device))
        _optimise(loss, G, G_opt, G_scaler, proc)
        stats.add("loss_G", loss)
        if step % cfg.g_reg_interval == 0 and cfg.pl_weight > 0:
            penalty, lengths = losses.path_length(*_latents(G, labels, batch_gpu, device))
            _optimise(penalty * cfg.g_reg_interval, G, G_opt, G_scaler, proc)
            stats.add("pl", lengths)
            stats.add("pl_penalty", penalty)

        # D main, then (lazily) R1.
        _train_only(D, G)
        loss, real_logits = losses.discriminator_main(real, real_c, *_latents(G, labels, batch_gpu, device))
        _optimise(loss, D, D_opt, D_scaler, proc)
        stats.add("loss_D", loss)
        stats.add("D_real", real_logits.sign())
        if tuner is not None:
            tuner.observe(real_logits)
        if step % cfg.d_reg_interval == 0 and cfg.gamma > 0:
            penalty, r1 = losses.r1(real, real_c)
            _optimise(penalty * cfg.d_reg_interval, D, D_opt, D_scaler, proc)
            stats.add("r1", r1)

        update_ema(G_ema, G, ema_beta(cfg, nimg + nimg_before))  # trained weights: no ramp-up again
        nimg += cfg.batch
        step += 1
        if proc.is_main and nimg - tick_start_nimg == SPEED_REPORT_STEPS * cfg.batch and tick == tick_at_start:
            seconds = time.time() - tick_start_time
            log(_first_steps_line(seconds, cfg, next_tick - nimg))
            # The first tick can be many minutes away on a CPU: watchers get the speed now.
            _status(run, "running", nimg, tick, cfg, augment, deadline,
                    round(seconds / (SPEED_REPORT_STEPS * cfg.batch / 1000), 3))
        if tuner is not None:
            tuner.step(all_reduce_sum)

        done = nimg >= total_nimg
        out_of_time = deadline is not None and time.time() >= deadline
        stopping = step % stop_check_every == 0 and any_process(stop.is_set() or out_of_time, proc)
        if nimg >= next_tick or done or stopping:
            tick += 1
            for net in (G, G_ema):
                broadcast_state(net, proc, buffers_only=True)
            record = _tick_record(stats.collect(all_reduce_sum), tick, nimg, tick_start_nimg,
                                  time.time() - tick_start_time, augment, tuner, device)
            if proc.is_main:
                record["sv"] = {**top_singular_values(G, "G"), **top_singular_values(D, "D")}
                run.append_metrics(record)
                log(_progress_line(record, cfg.kimg, deadline))
                _status(run, "running", nimg, tick, cfg, augment, deadline, record["sec_per_kimg"])
            next_tick = nimg + int(cfg.tick_kimg * 1000)
            tick_start_time, tick_start_nimg = time.time(), nimg
        if proc.is_main and (nimg >= next_sample or done or stopping):
            save_fake_grid(run.sample_path(nimg), G_ema, grid_z, grid_c, cols)
            next_sample = nimg + int(cfg.sample_kimg * 1000)
        if nimg >= next_snap or done or stopping:
            if proc.is_main:
                path = run.snapshot_path(nimg)
                save_snapshot(path, G=G, G_ema=G_ema, D=D, G_opt=G_opt, D_opt=D_opt,
                              train_tensors={"augment_p": torch.tensor(augment.p), "pl_mean": losses.pl_mean},
                              progress={"nimg": nimg, "tick": tick, "step": step, "config": asdict(cfg),
                                        "run": str(run.path), "dataset_hash": manifest.content_hash,
                                        "kimg_before": kimg_before})
                log(f"saved {path.name}")
                _status(run, "running", nimg, tick, cfg, augment, deadline)
            barrier(proc)
            next_snap = nimg + int(cfg.snap_kimg * 1000)
        if done or stopping:
            break

    if proc.is_main:
        _status(run, "finished" if done else "stopped", nimg, tick, cfg, augment, deadline)
    timed_out = not done and deadline is not None and time.time() >= deadline
    log("finished" if done else f"stopped at {nimg / 1000:.3f} kimg"
        + (" (time budget used up)" if timed_out else ""))
    return TrainResult(run, G, G_ema, D)


def _prepare(cfg: TrainConfig, proc: Process, log: Callable[[str], None]) -> PreparedDataset:
    def progress(done: int, total: int) -> None:
        if done == total or done % 1000 == 0:
            log(f"preparing dataset: {done}/{total} images")

    if proc.is_main:
        prepared = prepare_dataset(cfg.data, cfg.resolution, cfg.cache_dir,
                                   workers=max(cfg.workers, 1), progress=progress)
        m = prepared.manifest
        log(f"dataset: {m.count} images at {m.resolution}px, hash {m.content_hash}"
            + (f", skipped {m.skipped_corrupt} unreadable" if m.skipped_corrupt else "")
            + (f", {m.skipped_unlabelled} unlabelled" if m.skipped_unlabelled else ""))
    barrier(proc)
    if not proc.is_main:
        prepared = prepare_dataset(cfg.data, cfg.resolution, cfg.cache_dir)
    return prepared


def _batches(dataset: ImageDataset, batch_gpu: int, proc: Process, seed: int,
             workers: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    loader = torch.utils.data.DataLoader(
        dataset, batch_size=batch_gpu, drop_last=True, num_workers=workers,
        sampler=InfiniteSampler(len(dataset), proc.rank, proc.world_size, seed),
        pin_memory=proc.device.type == "cuda", persistent_workers=workers > 0,
        worker_init_fn=_ignore_interrupts if workers > 0 else None)
    return iter(loader)


def _ignore_interrupts(_: int) -> None:
    """Ctrl-C and a SIGTERM to the process group (what `timeout` sends) reach the loader processes
    too; only the trainer should react (by stopping cleanly, with a final snapshot)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def _adam(net: nn.Module, cfg: TrainConfig, reg_interval: int) -> torch.optim.Adam:
    """Adam with lr and betas rescaled for lazy regularisation (k main steps + 1 reg step)."""
    ratio = reg_interval / (reg_interval + 1)
    return torch.optim.Adam(net.parameters(), lr=cfg.lr * ratio,
                            betas=(cfg.beta1 ** ratio, cfg.beta2 ** ratio), eps=1e-8)


def _restore(snapshot: Snapshot, G: nn.Module, G_ema: nn.Module, D: nn.Module, G_opt: torch.optim.Optimizer,
             D_opt: torch.optim.Optimizer, augment: AdaptiveAugment, losses: StyleGAN2Loss) -> None:
    for net, group in ((G, "G"), (G_ema, "G_ema"), (D, "D")):
        net.load_state_dict(snapshot.groups[group])
    restore_optimizer(G_opt, G, snapshot.groups.get("G_opt", {}))
    restore_optimizer(D_opt, D, snapshot.groups.get("D_opt", {}))
    train_tensors = snapshot.groups.get("train", {})
    if "augment_p" in train_tensors:
        augment.p = float(train_tensors["augment_p"])
    if "pl_mean" in train_tensors:
        losses.pl_mean.copy_(train_tensors["pl_mean"])


def _train_only(trained: nn.Module, frozen: nn.Module) -> None:
    """Gradients only for the network this phase steps (the other is only evaluated)."""
    trained.requires_grad_(True)
    frozen.requires_grad_(False)


def _latents(G: nn.Module, labels: torch.Tensor, batch: int, device: torch.device
             ) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Fresh z, and labels drawn from the dataset's own label distribution (conditional G only)."""
    z = torch.randn([batch, G.z_dim], device=device)
    if G.c_dim == 0:
        return z, None
    return z, labels[torch.randint(0, labels.shape[0], [batch], device=device)]


def _optimise(loss: torch.Tensor, net: nn.Module, opt: torch.optim.Optimizer,
              scaler: torch.amp.GradScaler, proc: Process) -> None:
    """One optimiser step on `loss`, with gradients averaged over ranks.

    Without a loss scaler, non-finite gradients are replaced (NVIDIA's guard) so that one bad
    batch cannot poison the weights; with one, the scaler skips such steps itself.
    """
    opt.zero_grad(set_to_none=True)
    scaler.scale(loss).backward()
    params = [p for p in net.parameters() if p.requires_grad]
    average_gradients(params, proc)
    if not scaler.is_enabled():
        for p in params:
            if p.grad is not None:
                torch.nan_to_num(p.grad, nan=0, posinf=1e5, neginf=-1e5, out=p.grad)
    scaler.step(opt)
    scaler.update()


def _tick_record(means: dict[str, float], tick: int, nimg: int, start_nimg: int, seconds: float,
                 augment: AdaptiveAugment, tuner: AdaTuner | None, device: torch.device) -> dict:
    record = {"tick": tick, "nimg": nimg, "kimg": nimg / 1000, "time": time.time(),
              "sec_per_tick": round(seconds, 3),
              "sec_per_kimg": round(seconds / max((nimg - start_nimg) / 1000, 1e-9), 3),
              "ada_p": augment.p, **{k: round(v, 6) for k, v in means.items()}}
    if tuner is not None:
        record["ada_rt"] = tuner.last_rt
    if device.type == "cuda":
        record["max_mem_gb"] = round(torch.cuda.max_memory_allocated(device) / 2**30, 3)
    return record


def _first_steps_line(seconds: float, cfg: TrainConfig, images_to_tick: int) -> str:
    """After the first few steps: their speed, and when the first tick line will come (on a CPU
    the default 4 kimg tick can be hours away, and a silent trainer looks hung)."""
    per_step = seconds / SPEED_REPORT_STEPS
    wait = per_step * max(images_to_tick, 0) / cfg.batch
    return (f"first {SPEED_REPORT_STEPS} steps: {per_step:.2f} s per step of {cfg.batch} images; the first "
            f"tick line in about {_clock(wait)} (one every {cfg.tick_kimg:g} kimg; --tick sets it)")


def _clock(seconds: float) -> str:
    """H:MM:SS, the trainer's log lines' one way of writing a duration."""
    s = int(max(seconds, 0))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


def _progress_line(r: dict, total_kimg: float, deadline: float | None = None) -> str:
    parts = [f"tick {r['tick']:<5d}", f"kimg {r['kimg']:9.3f}/{total_kimg:g}",
             f"sec/kimg {r['sec_per_kimg']:8.2f}"]
    for key, label in (("loss_G", "G"), ("loss_D", "D"), ("r1", "R1"), ("pl", "PL")):
        if key in r:
            parts.append(f"{label} {r[key]:.4f}")
    parts.append(f"aug p {r['ada_p']:.3f}")
    if deadline is not None:  # --time-budget: when the run will stop with its final snapshot
        parts.append(f"left {_clock(deadline - r['time'])}")
    return "  ".join(parts)


def _status(run: RunFolder, state: str, nimg: int, tick: int, cfg: TrainConfig,
            augment: AdaptiveAugment, deadline: float | None, sec_per_kimg: float | None = None) -> None:
    snapshot, sample = run.newest_snapshot(), run.newest_sample()
    previous = run.read_status() or {}
    run.write_status(state=state, kimg=nimg / 1000, total_kimg=cfg.kimg, tick=tick,
                     augment_p=augment.p,
                     sec_per_kimg=sec_per_kimg if sec_per_kimg is not None else previous.get("sec_per_kimg"),
                     snapshot=str(snapshot) if snapshot else None, sample=str(sample) if sample else None,
                     time_left_s=None if deadline is None else round(max(deadline - time.time(), 0.0), 1))
