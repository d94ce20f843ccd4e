"""The model card's PCA picture: PC0-PC4 of a model as -3 / 0 / +3 sigma edits on all rows at
psi 0.7, for seeds 0, 1 and 2 (one row per PC, one group of three columns per seed, 96 px tiles).

    python scripts/model_card_pca.py assets/model.safetensors assets/model_card/pca_top5.png

Needs the model's PCA set first: `stylegan-explorer directions MODEL --method pca`. Renders
through the CLI's `generate --edit`, so the picture shows what a user gets from the same edits.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image

TILE, GAP, SEEDS, COMPONENTS = 96, 6, 3, 5


def render(model: str, folder: Path, edit: str | None) -> list[Image.Image]:
    """Seeds 0..SEEDS-1 at psi 0.7 with one optional edit, as images in seed order."""
    cmd = [sys.executable, "-m", "explorer", "generate", model, "--seeds", f"0-{SEEDS - 1}",
           "--psi", "0.7", "--out", str(folder)]
    if edit:
        cmd += ["--edit", edit]
    subprocess.run(cmd, check=True, capture_output=True)
    files = sorted(p for p in folder.glob("*.png") if "grid" not in p.name)
    if len(files) != SEEDS:
        raise SystemExit(f"expected {SEEDS} images in {folder}, found {len(files)}")
    return [Image.open(p).convert("RGB").resize((TILE, TILE), Image.LANCZOS) for p in files]


def main() -> None:
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    model, out = sys.argv[1], sys.argv[2]
    with tempfile.TemporaryDirectory() as tmp:
        base = render(model, Path(tmp) / "base", None)
        grid = Image.new("RGB", (3 * SEEDS * TILE + (SEEDS - 1) * GAP, COMPONENTS * TILE), "white")
        for pc in range(COMPONENTS):
            low = render(model, Path(tmp) / f"{pc}-", f"pca:{pc}:-3")
            high = render(model, Path(tmp) / f"{pc}+", f"pca:{pc}:+3")
            for seed in range(SEEDS):
                for k, image in enumerate((low[seed], base[seed], high[seed])):
                    grid.paste(image, ((3 * seed + k) * TILE + seed * GAP, pc * TILE))
    grid.save(out)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
