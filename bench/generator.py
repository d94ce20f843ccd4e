"""Forward latency of our generators (map + synthesis), batch 1 and 8, fp32.

    python bench/generator.py [--device cpu] [--threads 2] [--repeats 10]
                              [--nvidia-sg2 PATH_TO_stylegan2-ada-pytorch_checkout]

With --nvidia-sg2, NVIDIA's own StyleGAN2 (from a checkout kept outside this repository) runs
on the same weights in the same process, so the ratio is measured, not remembered.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.common import median_seconds, print_json_line, print_table  # noqa: E402
from explorer.devices import resolve_device  # noqa: E402
from explorer.nets import build_generator  # noqa: E402

# name -> (architecture, kwargs): StyleGAN2 with config-f style channels, StyleGAN3-T/R as in
# NVIDIA's training configs for 256 px and below (cbase 16384 for T, doubled for R).
CONFIGS = {
    "sg2-64": ("stylegan2", dict(img_resolution=64, channel_base=8192, channel_max=256)),
    "sg2-128": ("stylegan2", dict(img_resolution=128, channel_base=16384, channel_max=512)),
    "sg2-256": ("stylegan2", dict(img_resolution=256, channel_base=16384, channel_max=512)),
    "sg3t-64": ("stylegan3", dict(img_resolution=64, channel_base=16384, channel_max=512)),
    "sg3t-128": ("stylegan3", dict(img_resolution=128, channel_base=16384, channel_max=512)),
    "sg3t-256": ("stylegan3", dict(img_resolution=256, channel_base=16384, channel_max=512)),
    "sg3r-64": ("stylegan3", dict(img_resolution=64, channel_base=32768, channel_max=1024,
                                  conv_kernel=1, use_radial_filters=True)),
    "sg3r-128": ("stylegan3", dict(img_resolution=128, channel_base=32768, channel_max=1024,
                                   conv_kernel=1, use_radial_filters=True)),
    "sg3r-256": ("stylegan3", dict(img_resolution=256, channel_base=32768, channel_max=1024,
                                   conv_kernel=1, use_radial_filters=True)),
}


def make_generator(arch: str, kw: dict) -> torch.nn.Module:
    mapping_layers = 8 if arch == "stylegan2" else 2
    kwargs = dict(z_dim=512, w_dim=512, c_dim=0, img_channels=3,
                  mapping_kwargs=dict(num_layers=mapping_layers), **kw)
    if arch == "stylegan2":
        kwargs["conv_clamp"] = 256
    torch.manual_seed(0)
    return build_generator(arch, kwargs).eval().requires_grad_(False)


def nvidia_sg2(checkout: Path, ours: torch.nn.Module) -> torch.nn.Module:
    """NVIDIA's stylegan2-ada Generator with our weights (its reference ops path on CPU)."""
    sys.path.insert(0, str(checkout))
    from training.networks import Generator  # type: ignore  # noqa: E402
    k = ours.init_kwargs
    g = Generator(z_dim=k["z_dim"], c_dim=0, w_dim=k["w_dim"], img_resolution=k["img_resolution"],
                  img_channels=3, mapping_kwargs=dict(num_layers=8),
                  synthesis_kwargs=dict(channel_base=k["channel_base"], channel_max=k["channel_max"],
                                        num_fp16_res=0, conv_clamp=256))
    g.load_state_dict(ours.state_dict())
    return g.eval().requires_grad_(False)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--configs", default=",".join(CONFIGS), help="comma-separated subset of " + ",".join(CONFIGS))
    p.add_argument("--batches", default="1,8")
    p.add_argument("--nvidia-sg2", type=Path, default=None, help="stylegan2-ada-pytorch checkout for a baseline")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    rows = []
    for name in args.configs.split(","):
        arch, kw = CONFIGS[name]
        g = make_generator(arch, kw).to(device)
        params = sum(p.numel() for p in g.parameters()) / 1e6
        ref = nvidia_sg2(args.nvidia_sg2, g).to(device) if args.nvidia_sg2 and arch == "stylegan2" else None
        for batch in (int(b) for b in args.batches.split(",")):
            z = torch.randn(batch, 512, device=device, generator=torch.Generator(device).manual_seed(1))
            with torch.no_grad():
                ms = 1000 * median_seconds(lambda: g.synthesis(g.mapping(z, None), noise_mode="const",
                                                               force_fp32=True), device, args.repeats)
                row = dict(config=name, params_M=round(params, 2), batch=batch, device=device.type,
                           ours_ms=round(ms, 1), img_per_s=round(1000 * batch / ms, 2))
                if ref is not None:
                    ref_ms = 1000 * median_seconds(
                        lambda: ref.synthesis(ref.mapping(z, None), noise_mode="const", force_fp32=True),
                        device, args.repeats)
                    row.update(nvidia_ms=round(ref_ms, 1), speedup=round(ref_ms / ms, 2))
            rows.append(row)
            print(row, file=sys.stderr, flush=True)
    print_table(rows, ["config", "params_M", "batch", "device", "ours_ms", "img_per_s", "nvidia_ms", "speedup"])
    print_json_line("generator", {"threads": args.threads, "rows": rows})


if __name__ == "__main__":
    main()
