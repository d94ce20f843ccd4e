"""A terminal progress bar for downloads (tqdm: bytes, rate, time left, terminal width, no-TTY)."""

from __future__ import annotations

import sys
from types import TracebackType

from tqdm import tqdm

from explorer.download.progress import TransferProgress


class ConsoleProgress:
    """Use as `with ConsoleProgress(label) as bar: fetch(url, on_progress=bar)`.

    `enabled=None` shows the bar only when stderr is a terminal (the Python API's default);
    the CLI passes True so logs also show how a download went."""

    def __init__(self, label: str, enabled: bool | None = None) -> None:
        self.label, self.enabled = label, enabled
        self._bar: tqdm | None = None

    def __call__(self, p: TransferProgress) -> None:
        if self._bar is None:
            self._bar = tqdm(total=p.total, initial=p.resumed_from, desc=self.label, unit="B",
                             unit_scale=True, unit_divisor=1024, file=sys.stderr, dynamic_ncols=True,
                             mininterval=0.5, leave=True, disable=None if self.enabled is None else not self.enabled)
            if p.resumed_from and not self._bar.disable:
                self._bar.write(f"resuming {self.label} at {self._bar.format_sizeof(p.resumed_from, 'B', 1024)}",
                                file=sys.stderr)
        self._bar.update(p.done - self._bar.n)

    def __enter__(self) -> "ConsoleProgress":
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._bar is not None:
            self._bar.close()
