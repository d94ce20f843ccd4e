"""Checks on where a command will write, made before it loads a model or renders anything.

An `--out` that is a file, a folder nobody may write to, or a name already taken by a folder
would otherwise fail only after all the work, with a traceback; an existing result would be
silently replaced. Each check raises a one-line `InputError` naming the path and what to do.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Iterable

from explorer.errors import InputError


def _nearest_existing(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path(".").resolve()


def check_writable_folder(folder: Path, flag: str = "--out") -> None:
    """`folder` is (or can become) a folder we can create files in."""
    if folder.exists() and not folder.is_dir():
        raise InputError(f"{flag} {folder} is a file, not a folder; choose a folder")
    base = _nearest_existing(folder)
    if not base.is_dir():
        raise InputError(f"{flag} {folder} cannot be created: {base} is a file")
    try:
        with tempfile.TemporaryFile(dir=base):  # a real write: permission bits lie to root and on read-only mounts
            pass
    except OSError as e:
        raise InputError(f"{flag} {folder} is not writable ({base}: {e.strerror or e})") from None


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def check_new_outputs(paths: Iterable[Path], force: bool, inputs: Iterable[Path] = (),
                      flag: str = "--out") -> None:
    """None of `paths` is a folder, an input of this command, or (without --force) an existing file."""
    inputs = [Path(p) for p in inputs]
    seen: set[Path] = set()
    for path in paths:
        path = Path(path)
        key = path.resolve()
        if key in seen:
            raise InputError(f"two outputs would both be written to {path}")
        seen.add(key)
        if path.is_dir():
            raise InputError(f"{path} is a folder, but this command writes a file there; move it or "
                             f"choose another {flag}")
        for source in inputs:
            if key == source.resolve() or _same_file(path, source):
                raise InputError(f"{flag} would overwrite the input {source}; choose another {flag}")
        if path.exists() and not force:
            raise InputError(f"{path} already exists; pass --force to overwrite it, or choose another {flag}")


def check_output_folder(folder: Path, names: Iterable[str], force: bool, inputs: Iterable[Path] = ()) -> None:
    """A folder we may write `names` into: writable, and no name clashes (see check_new_outputs)."""
    check_writable_folder(folder)
    check_new_outputs((folder / name for name in names), force, inputs)


def check_output_file(path: Path, force: bool, inputs: Iterable[Path] = (), flag: str = "--out") -> None:
    """A file path we may write: its folder is writable and it clashes with nothing."""
    if path.name in ("", ".", ".."):
        raise InputError(f"{flag} {path} names a folder; give a file name")
    check_writable_folder(path.parent, flag)
    check_new_outputs([path], force, inputs, flag)
