"""Native file dialogs (portable-file-dialogs, shipped with imgui-bundle) that never stall the UI.

A dialog runs outside the frame loop (zenity / kdialog on Linux, the system's own elsewhere):
`ask` starts it and returns at once, `poll` (once per UI frame) asks it "answered yet?" without
waiting, and hands a chosen path to the callback on the UI thread. One dialog at a time: the
dialogs are modal to the user, not to the app, so the picture keeps rendering meanwhile.

`opener` is the boundary to the operating system; tests replace it (and nothing else) to play
the user who picks a file.
"""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass
from typing import Callable, Protocol

CHECKPOINT_FILTERS = ("Models, saved pictures, latents", "*.pkl *.pt *.pth *.safetensors *.png *.npz",
                      "All files", "*")
IMAGE_FILTERS = ("Images", "*.png *.jpg *.jpeg *.webp *.bmp *.tif *.tiff", "All files", "*")
LATENT_FILTERS = ("W+ latents (.npz)", "*.npz", "All files", "*")
DIRECTION_FILTERS = ("Direction sets (.npz)", "*.npz", "All files", "*")
LINUX_DIALOG_PROGRAMS = ("zenity", "kdialog", "qarma", "matedialog")


@dataclass(frozen=True)
class DialogRequest:
    """What to ask the user: `kind` is "open", "save" or "folder"."""

    kind: str
    title: str
    default_path: str = ""
    filters: tuple[str, ...] = ()
    typed_instead: str = "type the path into the box beside the button"  # without a dialog program


class PendingDialog(Protocol):
    def ready(self) -> bool: ...          # answered (never blocks)
    def paths(self) -> list[str]: ...     # the answer; empty when cancelled
    def kill(self) -> None: ...


class DialogUnavailable(Exception):
    """No native dialog can be shown here; the message says what to do instead."""


class _NativeDialog:
    """Adapts a portable-file-dialogs object to `PendingDialog`."""

    def __init__(self, dialog: object, kind: str) -> None:
        self._dialog, self._kind = dialog, kind

    def ready(self) -> bool:
        return bool(self._dialog.ready(0))  # 0 ms: ask, never wait

    def paths(self) -> list[str]:
        result = self._dialog.result()
        chosen = result if isinstance(result, list) else [result]
        return [p for p in chosen if p]

    def kill(self) -> None:
        self._dialog.kill()


def native_dialog(request: DialogRequest) -> PendingDialog:
    """Start the operating system's dialog for `request` (returns while it is still open)."""
    if sys.platform.startswith("linux") and not any(shutil.which(p) for p in LINUX_DIALOG_PROGRAMS):
        raise DialogUnavailable(f"no file dialog program found: install zenity (or kdialog), "
                                f"or {request.typed_instead}")
    from imgui_bundle import portable_file_dialogs as pfd
    filters = list(request.filters) or pfd.all_files_filter()
    if request.kind == "open":
        dialog = pfd.open_file(request.title, request.default_path, filters)
    elif request.kind == "save":
        dialog = pfd.save_file(request.title, request.default_path, filters)
    elif request.kind == "folder":
        dialog = pfd.select_folder(request.title, request.default_path)
    else:
        raise ValueError(f"unknown dialog kind {request.kind!r}")
    return _NativeDialog(dialog, request.kind)


class FileDialogs:
    """At most one open dialog; its answer reaches a callback on the UI thread (see `poll`)."""

    def __init__(self, opener: Callable[[DialogRequest], PendingDialog] = native_dialog) -> None:
        self.opener = opener
        self.request: DialogRequest | None = None   # the question on screen, if any
        self._pending: PendingDialog | None = None
        self._on_chosen: Callable[[str], None] | None = None

    @property
    def busy(self) -> bool:
        return self._pending is not None

    def ask(self, request: DialogRequest, on_chosen: Callable[[str], None],
            on_problem: Callable[[str], None]) -> None:
        """Open a dialog; `on_chosen(path)` runs once the user picks one (not if they cancel)."""
        if self._pending is not None:
            on_problem(f"a file dialog is already open ({self.request.title}): answer it first")
            return
        try:
            self._pending = self.opener(request)
        except DialogUnavailable as e:
            on_problem(str(e))
            return
        except Exception as e:  # a broken dialog program must not take the app down
            on_problem(f"could not open the file dialog: {e}")
            return
        self.request, self._on_chosen = request, on_chosen

    def poll(self) -> None:
        """Once per UI frame: deliver the answer if the user gave one."""
        pending = self._pending
        if pending is None or not pending.ready():
            return
        on_chosen, paths = self._on_chosen, pending.paths()
        self._pending, self.request, self._on_chosen = None, None, None
        if paths and on_chosen is not None:
            on_chosen(paths[0])

    def close(self) -> None:
        if self._pending is not None:
            self._pending.kill()
            self._pending = None
