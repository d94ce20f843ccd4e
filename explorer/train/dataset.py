"""Training images, preprocessed once into a uint8 array so that every epoch is a cheap memory read.

`prepare_dataset` decodes each image of a folder or zip, centre-crops it to a square, resizes it
to the training resolution and stores the lot as one `.npy` array in a cache folder, next to a
manifest (count, resolution, labels, what was skipped, a content hash). Corrupt files are
skipped and counted, never fatal. The cache is keyed by the source's file listing, so a second
run on unchanged data starts at once. `ImageDataset` then serves that array (memory-mapped) to a
`DataLoader`; `InfiniteSampler` feeds it forever, shuffled, split across distributed ranks.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import multiprocessing
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import torch
from PIL import Image, ImageOps

from explorer.errors import ExplorerError
from explorer.fileio import atomic_write_bytes
from explorer.train.dataset_source import LABELS_FILE, ImageSource

PREPROCESS_VERSION = 1  # bump when the pixels a given source produces change
MAX_LISTED_SKIPS = 20
CHANNELS = 3


@dataclass(frozen=True)
class Manifest:
    """What a prepared dataset holds; `content_hash` depends only on file contents and labels."""

    source: str
    count: int
    resolution: int
    channels: int
    content_hash: str
    label_kind: str  # "none", "class" (integer labels, one-hot) or "vector"
    label_dim: int
    skipped_corrupt: int
    skipped_unlabelled: int
    skipped_files: list[str] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)


@dataclass(frozen=True)
class PreparedDataset:
    """A finished cache entry: the images array, the labels array and their manifest."""

    folder: Path
    manifest: Manifest

    @property
    def images_path(self) -> Path:
        return self.folder / "images.npy"

    @property
    def labels_path(self) -> Path:
        return self.folder / "labels.npy"


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "stylegan-explorer" / "datasets"


def infer_resolution(source: ImageSource, cap: int = 256) -> int:
    """The largest power of two that fits the first readable image's short side (at most `cap`)."""
    for name in source.names:
        try:
            with Image.open(io.BytesIO(source.read(name))) as img:
                short = min(img.size)
        except (OSError, ValueError, Image.DecompressionBombError):
            continue
        if short >= 4:
            return min(2 ** int(math.log2(short)), cap)
    raise ExplorerError(f"{source.path} holds no readable image of at least 4x4 pixels")


def check_resolution_fits(source: ImageSource, resolution: int) -> None:
    """A power of two of at least 8 that the images reach: upscaling 128 px data to 4096 px would
    only fill the disk with a blurred dataset (and take hours to do it)."""
    if resolution < 8 or 2 ** int(math.log2(resolution)) != resolution:
        raise ExplorerError(f"resolution must be a power of two of at least 8, not {resolution}")
    fits = infer_resolution(source, cap=2**30)
    if resolution > fits:
        raise ExplorerError(f"--resolution {resolution} is larger than the images in {source.path} "
                            f"(the first one fits at most {fits} px); choose {fits} or less")


def square_image(data: bytes, resolution: int) -> np.ndarray | None:
    """Decode, centre-crop to a square and resize to [R, R, 3] uint8; None when undecodable.

    EXIF orientation is honoured and transparency is composited over white, so what a file
    viewer shows is what the network sees.
    """
    try:
        with Image.open(io.BytesIO(data)) as img:
            img = ImageOps.exif_transpose(img)
            if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
                rgba = img.convert("RGBA")
                img = Image.new("RGB", rgba.size, (255, 255, 255))
                img.paste(rgba, mask=rgba.getchannel("A"))
            img = img.convert("RGB")
            w, h = img.size
            side = min(w, h)
            if side < 1:
                return None
            left, top = (w - side) // 2, (h - side) // 2
            img = img.resize((resolution, resolution), Image.LANCZOS, box=(left, top, left + side, top + side))
            return np.asarray(img, dtype=np.uint8)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return None


def _parse_labels(raw: dict[str, Any] | None, names: list[str]) -> tuple[str, int, dict[str, np.ndarray]]:
    """(kind, dim, name -> float32 label) for the images that have a label in `dataset.json`."""
    if raw is None:
        return "none", 0, {}
    values = {n: raw[n] for n in names if n in raw}
    if not values:
        return "none", 0, {}
    if all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in values.values()):
        dim = max(values.values()) + 1
        return "class", dim, {n: np.eye(dim, dtype=np.float32)[v] for n, v in values.items()}
    if all(isinstance(v, list) and all(isinstance(x, (int, float)) for x in v) for v in values.values()):
        dims = {len(v) for v in values.values()}
        if len(dims) == 1:
            return "vector", dims.pop(), {n: np.asarray(v, np.float32) for n, v in values.items()}
    raise ExplorerError(f"{LABELS_FILE}: labels must all be class indices (0, 1, ...) "
                        "or all be number lists of one length")


def _cache_key(source: ImageSource, resolution: int) -> str:
    h = hashlib.sha256()
    h.update(json.dumps([str(source.path), resolution, PREPROCESS_VERSION, source.fingerprint()]).encode())
    labels = source.labels()
    h.update(json.dumps(labels, sort_keys=True).encode())
    return h.hexdigest()[:20]


def read_manifest(folder: Path) -> Manifest:
    return Manifest(**json.loads((folder / "manifest.json").read_text()))


def prepare_dataset(path: str | os.PathLike[str], resolution: int | None = None,
                    cache_dir: str | os.PathLike[str] | None = None, workers: int = 1,
                    progress: Callable[[int, int], None] | None = None) -> PreparedDataset:
    """Preprocess the images at `path` into the cache (or reuse a finished cache entry)."""
    with ImageSource(path) as source:
        if resolution is None:
            resolution = infer_resolution(source)
        else:
            check_resolution_fits(source, resolution)
        folder = Path(cache_dir or default_cache_dir()) / f"{_cache_key(source, resolution)}-{resolution}"
        if (folder / "manifest.json").is_file():
            return PreparedDataset(folder, read_manifest(folder))
        folder.mkdir(parents=True, exist_ok=True)
        label_kind, label_dim, labels = _parse_labels(source.labels(), source.names)
        names = source.names
        unlabelled = [n for n in names if label_kind != "none" and n not in labels]
        names = [n for n in names if label_kind == "none" or n in labels]

        tmp_images = folder / f".images.{os.getpid()}.npy"
        array = np.lib.format.open_memmap(tmp_images, mode="w+", dtype=np.uint8,
                                           shape=(len(names), CHANNELS, resolution, resolution))
        kept: list[str] = []
        corrupt: list[str] = []
        content = hashlib.sha256()
        for done, (name, digest, pixels) in enumerate(_decode_all(source, names, resolution, workers), 1):
            if pixels is None:
                corrupt.append(name)
            else:
                array[len(kept)] = pixels.transpose(2, 0, 1)
                kept.append(name)
                label = labels[name].tolist() if name in labels else None
                content.update(json.dumps([name, digest, label]).encode())
            if progress is not None:
                progress(done, len(names))
        if not kept:
            tmp_images.unlink(missing_ok=True)
            raise ExplorerError(f"none of the {len(names)} images in {source.path} could be decoded")
        array.flush()
        del array
        _shrink_npy(tmp_images, folder / "images.npy", len(kept))
        label_array = (np.stack([labels[n] for n in kept]) if label_kind != "none"
                       else np.zeros((len(kept), 0), np.float32))
        buf = io.BytesIO()
        np.save(buf, label_array)
        atomic_write_bytes(folder / "labels.npy", buf.getvalue())
        manifest = Manifest(
            source=str(source.path), count=len(kept), resolution=resolution, channels=CHANNELS,
            content_hash=content.hexdigest()[:16], label_kind=label_kind, label_dim=label_dim,
            skipped_corrupt=len(corrupt), skipped_unlabelled=len(unlabelled),
            skipped_files=(corrupt + unlabelled)[:MAX_LISTED_SKIPS])
        atomic_write_bytes(folder / "manifest.json", manifest.to_json().encode())
        return PreparedDataset(folder, manifest)


def _shrink_npy(tmp: Path, final: Path, count: int) -> None:
    """Rename the preallocated array into place, dropping the unused rows of skipped files."""
    full = np.load(tmp, mmap_mode="r")
    if count == full.shape[0]:
        del full
        os.replace(tmp, final)
        return
    out = np.lib.format.open_memmap(tmp.with_suffix(".part.npy"), mode="w+", dtype=np.uint8,
                                    shape=(count, *full.shape[1:]))
    out[:] = full[:count]
    out.flush()
    del out, full
    os.replace(tmp.with_suffix(".part.npy"), final)
    tmp.unlink()


def _decode_all(source: ImageSource, names: list[str], resolution: int, workers: int
                ) -> Iterator[tuple[str, str, np.ndarray | None]]:
    """(name, sha256 of the file, pixels or None) for each name, in order.

    The main process reads the files (cheap) and the pool decodes them (expensive), a block
    at a time so that memory stays bounded however large the dataset is.
    """
    if workers <= 1 or len(names) < 64:
        for name in names:
            yield _decode_bytes((name, source.read(name), resolution))
        return
    block = 64 * workers
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        for start in range(0, len(names), block):
            tasks = [(n, source.read(n), resolution) for n in names[start:start + block]]
            yield from pool.imap(_decode_bytes, tasks, chunksize=8)


def _decode_bytes(task: tuple[str, bytes, int]) -> tuple[str, str, np.ndarray | None]:
    name, data, resolution = task
    return name, hashlib.sha256(data).hexdigest(), square_image(data, resolution)


class ImageDataset(torch.utils.data.Dataset):
    """(uint8 image [C, R, R], float32 label [label_dim]) pairs from a prepared dataset.

    With `xflip` the dataset is twice as long and the second half is mirrored, as NVIDIA's
    `--mirror`. The array is opened lazily so that each DataLoader worker maps it itself.
    """

    def __init__(self, prepared: PreparedDataset, xflip: bool = False) -> None:
        self.prepared = prepared
        self.manifest = prepared.manifest
        self.xflip = xflip
        self.labels = torch.from_numpy(np.load(prepared.labels_path))
        self._images: np.ndarray | None = None

    @property
    def resolution(self) -> int:
        return self.manifest.resolution

    @property
    def label_dim(self) -> int:
        return self.manifest.label_dim

    def __len__(self) -> int:
        return self.manifest.count * (2 if self.xflip else 1)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        if self._images is None:
            self._images = np.load(self.prepared.images_path, mmap_mode="r")
        i = index % self.manifest.count
        img = np.array(self._images[i])
        if index >= self.manifest.count:
            img = img[:, :, ::-1].copy()
        return torch.from_numpy(img), self.labels[i]

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_images": None}


class InfiniteSampler(torch.utils.data.Sampler[int]):
    """Endless shuffled indices; rank r of w takes every w-th, so ranks never share a sample."""

    def __init__(self, size: int, rank: int = 0, world_size: int = 1, seed: int = 0) -> None:
        self.size, self.rank, self.world_size, self.seed = size, rank, world_size, seed

    def __iter__(self) -> Iterator[int]:
        rng = np.random.default_rng(self.seed)
        step = 0
        while True:
            for index in rng.permutation(self.size):
                if step % self.world_size == self.rank:
                    yield int(index)
                step += 1
