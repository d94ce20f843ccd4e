"""Tell checkpoint formats apart by their first bytes, never by the file name.

Users rename files freely (a rosinality `.pt` saved as `.pkl`, our `.safetensors` sent as
`.bin`), so the extension says nothing reliable about how a file must be parsed.
"""

from __future__ import annotations

import json
import struct
import zipfile
from pathlib import Path

from explorer.checkpoints.torch_file import check_zip_directory
from explorer.errors import CheckpointError

PICKLE = "pickle"
TORCH_ZIP = "torch-zip"
TORCH_LEGACY = "torch-legacy"
SAFETENSORS = "safetensors"

# torch.save's pre-1.6 format opens with a pickled magic number (a LONG1 opcode holding it).
_TORCH_LEGACY_PREFIX = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19"
_ZIP_MAGIC = b"PK\x03\x04"
_HEAD_BYTES = 64


def sniff_format(path: Path) -> str:
    """One of PICKLE, TORCH_ZIP, TORCH_LEGACY or SAFETENSORS; CheckpointError for anything else."""
    size = path.stat().st_size
    if size == 0:
        raise CheckpointError(f"{path.name} is empty")
    with open(path, "rb") as f:
        head = f.read(_HEAD_BYTES)
    if head.startswith(_ZIP_MAGIC):
        return _sniff_zip(path)
    if head.startswith(_TORCH_LEGACY_PREFIX):
        return TORCH_LEGACY
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return PICKLE
    if _looks_like_safetensors(path, head, size):
        return SAFETENSORS
    raise CheckpointError(f"{path.name} is not a checkpoint this program can read "
                          f"({_describe(head)}); expected an NVIDIA .pkl, a rosinality .pt "
                          "or a .safetensors file")


def _sniff_zip(path: Path) -> str:
    """torch.save's zip archives hold `<name>/data.pkl`; other zips are not checkpoints."""
    check_zip_directory(path)
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError) as e:
        raise CheckpointError(f"{path.name} is a damaged zip file ({e})") from e
    if any(name == "data.pkl" or name.endswith("/data.pkl") for name in names):
        return TORCH_ZIP
    if names and all(name.endswith(".npy") for name in names):
        raise CheckpointError(f"{path.name} is a NumPy .npz (a W+ latent or a direction set), not a model: "
                              "open a model, then load the latent in the app (or drop it on the window), "
                              "or give a direction set to `generate --edit`")
    raise CheckpointError(f"{path.name} is a zip archive but not a torch checkpoint "
                          "(no data.pkl inside); is it a dataset?")


def _looks_like_safetensors(path: Path, head: bytes, size: int) -> bool:
    """An 8-byte little-endian header length, then that many bytes of JSON object."""
    if len(head) < 9:
        return False
    (header_len,) = struct.unpack("<Q", head[:8])
    if header_len < 2 or 8 + header_len > size or head[8:9] != b"{":
        return False
    with open(path, "rb") as f:
        f.seek(8)
        header = f.read(header_len)
    try:
        return isinstance(json.loads(header), dict)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return False


def _describe(head: bytes) -> str:
    """A few words on what the file seems to be, so the user knows what went wrong."""
    known = {b"\xff\xd8\xff": "a JPEG image", b"\x89PNG": "a PNG image", b"GIF8": "a GIF image",
             b"\x1f\x8b": "a gzip archive", b"%PDF": "a PDF document"}
    for magic, what in known.items():
        if head.startswith(magic):
            return f"it looks like {what}"
    if all(b >= 0x20 or b in b"\t\r\n" for b in head):
        return "it looks like a text file"
    return "unrecognised content"
