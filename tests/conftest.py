"""Shared test helpers: where the reference fixtures live."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
# The reference fixtures travel with the repository, so a fresh clone tests fidelity on its own;
# EXPLORER_FIXTURES points the tests at another set (e.g. a larger private one).
FIXTURES_DIR = Path(os.environ.get("EXPLORER_FIXTURES", REPO_ROOT / "tests" / "fixtures"))


def fixture_names() -> list[str]:
    """Every fixture folder present (the shared set, or a larger hidden one)."""
    if not FIXTURES_DIR.is_dir():
        return []
    return sorted(p.name for p in FIXTURES_DIR.iterdir() if (p / "config.json").is_file())


@pytest.fixture
def fixtures_dir() -> Path:
    if not FIXTURES_DIR.is_dir():
        pytest.skip(f"reference fixtures not found at {FIXTURES_DIR}")
    return FIXTURES_DIR


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny nets run fastest single-threaded: on 2 shared cores, thread hand-offs cost far more
    than the arithmetic (observed up to 100x slower). Restored when the module ends."""
    import torch
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def tiny_checkpoint(tmp_path: Path) -> Path:
    """A real .safetensors file of a tiny random StyleGAN2 (16 px): what the CLI tests open."""
    import torch

    import explorer
    from explorer.model import Model
    from explorer.nets import build_generator
    torch.manual_seed(0)
    g = build_generator("stylegan2", dict(z_dim=16, w_dim=16, c_dim=0, img_resolution=16, img_channels=3,
                                          mapping_kwargs=dict(num_layers=2), channel_base=128, channel_max=16))
    path = tmp_path / "tiny.safetensors"
    explorer.save(Model(g, None, format="test"), path)
    return path
