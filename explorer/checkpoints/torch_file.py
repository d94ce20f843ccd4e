"""Files written by `torch.save` (zip and pre-1.6 formats), read without torch's own loader.

`torch.load(weights_only=True)` refuses code, but allocates every storage at the size the file
declares before reading it and admits more types than a checkpoint needs. Here the pickle goes
through the restricted unpickler, and each storage is charged to the file's budget and checked
against the bytes actually present before it is allocated. The same reader opens the storage
payloads NVIDIA pickles embed (`torch.storage._load_from_bytes`).
"""

from __future__ import annotations

import io
import struct
import zipfile
from pathlib import Path
from typing import Any, BinaryIO

import torch

from explorer.checkpoints.load_budget import LoadBudget
from explorer.checkpoints.pickle_limits import scan_opcodes
from explorer.checkpoints.restricted_pickle import load_restricted, unpickle_scanned
from explorer.checkpoints.torch_storage import LoadedStorage, StorageKind
from explorer.errors import CheckpointError

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001
MAX_ZIP_ENTRIES = 100_000
_EOCD = b"PK\x05\x06"
_ZIP64_LOCATOR = b"PK\x06\x07"
_ZIP64_EOCD = b"PK\x06\x06"


def _damaged(what: str) -> CheckpointError:
    return CheckpointError(f"the torch file is damaged: {what}")


def _storage_pid(pid: Any, length: int) -> tuple[StorageKind, str, int, Any]:
    """(kind, key, numel, view metadata) of a ('storage', kind, key, location, numel[, view]) id."""
    if not isinstance(pid, tuple) or len(pid) != length or pid[0] not in ("storage", b"storage"):
        raise CheckpointError("refusing to load: the torch file refers to something other than a "
                              "tensor storage (a pickled module?)")
    kind, key, numel = pid[1], pid[2], pid[4]
    if not isinstance(kind, StorageKind) or not isinstance(key, str) or type(numel) is not int or numel < 0:
        raise _damaged("a storage reference is malformed")
    return kind, key, numel, pid[5] if length == 6 else None


def _allocate(kind: StorageKind, numel: int, budget: LoadBudget) -> LoadedStorage:
    budget.charge(numel * kind.element_size, "a tensor storage")
    return LoadedStorage(torch.empty(numel, dtype=kind.dtype))


def _fill(storage: LoadedStorage, stream: BinaryIO) -> None:
    """Read exactly the storage's bytes from `stream` into it."""
    view = memoryview(storage.flat.view(torch.uint8).numpy()) if storage.numel else memoryview(b"")
    done = 0
    while done < len(view):
        n = stream.readinto(view[done:])
        if not n:
            raise _damaged("a tensor storage ends early")
        done += n


class _LegacyStorages:
    """persistent_load for the pre-1.6 format, whose data follows the pickle."""

    def __init__(self, budget: LoadBudget, data_bytes: int) -> None:
        self.budget = budget
        self.data_bytes = data_bytes
        self.declared = 0
        self.roots: dict[str, LoadedStorage] = {}

    def __call__(self, pid: Any) -> LoadedStorage:
        kind, key, numel, view = _storage_pid(pid, 6)
        root = self.roots.get(key)
        if root is None:
            self.declared += 8 + numel * kind.element_size
            if self.declared > self.data_bytes:
                raise _damaged("its storages declare more bytes than the file holds")
            root = self.roots[key] = _allocate(kind, numel, self.budget)
        elif root.flat.dtype != kind.dtype or root.numel != numel:
            raise _damaged(f"storage {key} is declared twice with different sizes")
        if view is None:
            return root
        if not (isinstance(view, tuple) and len(view) == 3 and type(view[1]) is int
                and type(view[2]) is int and 0 <= view[1] and 0 <= view[2] and view[1] + view[2] <= numel):
            raise _damaged("a storage view lies outside its storage")
        return LoadedStorage(root.flat[view[1]:view[1] + view[2]])

    def fill(self, keys: Any, stream: BinaryIO) -> None:
        if not isinstance(keys, list) or sorted(map(str, keys)) != sorted(self.roots):
            raise _damaged("its storage list does not match the storages it uses")
        for key in keys:
            storage = self.roots[key]
            header = stream.read(8)
            if len(header) != 8:
                raise _damaged("a tensor storage ends early")
            (count,) = struct.unpack("<q", header)
            if count != storage.numel:
                raise _damaged(f"storage {key} holds {count} elements but is declared with {storage.numel}")
            _fill(storage, stream)


def read_legacy(stream: BinaryIO, end: int, budget: LoadBudget) -> Any:
    """The object a pre-1.6 `torch.save` wrote into `stream` (which ends at `end`)."""
    if load_restricted(stream, budget, end) != LEGACY_MAGIC:
        raise CheckpointError("not a torch file: the legacy magic number is missing")
    if load_restricted(stream, budget, end) != LEGACY_PROTOCOL:
        raise CheckpointError("this torch file uses an unknown legacy protocol version")
    sys_info = load_restricted(stream, budget, end)
    if not isinstance(sys_info, dict) or sys_info.get("little_endian") is not True:
        raise CheckpointError("big-endian torch files are not supported")
    stop = scan_opcodes(stream, end, budget)
    storages = _LegacyStorages(budget, end - stop)
    result = unpickle_scanned(stream, budget, persistent=storages)
    keys = load_restricted(stream, budget, end)
    storages.fill(keys, stream)
    if stream.tell() != end:
        raise _damaged("it has trailing bytes after the last storage")
    return result


def storage_from_legacy_bytes(data: Any, budget: LoadBudget) -> LoadedStorage:
    """Replaces `torch.storage._load_from_bytes`: one storage, saved in the legacy format."""
    if not isinstance(data, (bytes, bytearray)):
        raise CheckpointError("malformed tensor storage in the pickle")
    result = read_legacy(io.BytesIO(data), len(data), budget)
    if not isinstance(result, LoadedStorage):
        raise CheckpointError("refusing to load: an embedded tensor storage holds something else")
    return result


class _ZipStorages:
    """persistent_load for the zip format: each storage is its own record `<prefix>data/<key>`."""

    def __init__(self, archive: zipfile.ZipFile, prefix: str, budget: LoadBudget) -> None:
        self.archive, self.prefix, self.budget = archive, prefix, budget
        self.loaded: dict[str, LoadedStorage] = {}

    def __call__(self, pid: Any) -> LoadedStorage:
        kind, key, numel, _ = _storage_pid(pid, 5)
        if key in self.loaded:
            storage = self.loaded[key]
            if storage.flat.dtype != kind.dtype or storage.numel != numel:
                raise _damaged(f"storage {key} is declared twice with different sizes")
            return storage
        try:
            info = self.archive.getinfo(f"{self.prefix}data/{key}")
        except KeyError:
            raise _damaged(f"storage {key} is missing") from None
        if info.file_size != numel * kind.element_size:
            raise _damaged(f"storage {key} holds {info.file_size} bytes but is declared with "
                           f"{numel * kind.element_size}")
        storage = _allocate(kind, numel, self.budget)
        with self.archive.open(info) as f:
            _fill(storage, f)
        self.loaded[key] = storage
        return storage


def read_zip(path: Path, budget: LoadBudget) -> Any:
    """The object a zip-format `torch.save` wrote to `path`."""
    check_zip_directory(path)
    with zipfile.ZipFile(path) as archive:
        pickles = [n for n in archive.namelist() if n == "data.pkl" or n.endswith("/data.pkl")]
        if len(pickles) != 1:
            raise _damaged(f"it has {len(pickles)} data.pkl records instead of one")
        prefix = pickles[0][:-len("data.pkl")]
        if f"{prefix}byteorder" in archive.namelist() and archive.read(f"{prefix}byteorder") != b"little":
            raise CheckpointError("big-endian torch files are not supported")
        info = archive.getinfo(pickles[0])
        budget.charge(info.file_size, "the pickle inside the torch file")
        data = archive.read(info)
        return load_restricted(io.BytesIO(data), budget, persistent=_ZipStorages(archive, prefix, budget))


def check_zip_directory(path: Path) -> None:
    """Refuse a zip whose end record claims more entries or a larger directory than is sane.

    zipfile builds an object per entry and reads the whole directory at its claimed size, so
    these numbers are checked from the end record before zipfile sees the file.
    """
    size = path.stat().st_size
    with open(path, "rb") as f:
        f.seek(max(size - 22 - 65535, 0))
        tail = f.read()
        at = tail.rfind(_EOCD)
        if at < 0 or len(tail) - at < 22:
            return  # not a zip end record: zipfile gives its own error
        entries, directory = struct.unpack_from("<HI", tail, at + 10)
        locator = tail.rfind(_ZIP64_LOCATOR, 0, at)
        if locator >= 0 and len(tail) - locator >= 20:
            (offset,) = struct.unpack_from("<Q", tail, locator + 8)
            if offset + 56 <= size:
                f.seek(offset)
                record = f.read(56)
                if record[:4] == _ZIP64_EOCD:
                    entries, directory = struct.unpack_from("<QQ", record, 32)
    if entries > MAX_ZIP_ENTRIES or directory > size:
        raise CheckpointError(f"refusing to load {path.name}: its zip directory claims {entries:,} "
                              f"entries in {directory:,} bytes")


def read_torch_file(path: Path) -> Any:
    """The object in a `torch.save` file of either format, on the CPU, with checked storages."""
    size = path.stat().st_size
    budget = LoadBudget.for_file_size(size)
    with open(path, "rb") as f:
        is_zip = f.read(4) == b"PK\x03\x04"
        if not is_zip:
            f.seek(0)
            return read_legacy(f, size, budget)
    return read_zip(path, budget)
