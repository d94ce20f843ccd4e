"""SIGTERM as an exception, so a command stopped by `kill`, `timeout` or a service manager unwinds.

Python's default for SIGTERM ends the process on the spot: no `finally`, no temp-file cleanup.
While `sigterm_raises()` is active, SIGTERM raises `Terminated` in the main thread instead, like
Ctrl-C raises KeyboardInterrupt, and every atomic write in flight removes its temp file.
"""

from __future__ import annotations

import contextlib
import signal
from typing import Any, Iterator

EXIT_TERMINATED = 128 + signal.SIGTERM
EXIT_BROKEN_PIPE = 128 + 13  # 128 + SIGPIPE, what a shell reports for a tool whose reader went away


class Terminated(BaseException):
    """Raised by SIGTERM; a BaseException so that `except Exception` handlers do not swallow it."""


def _raise_terminated(signum: int, frame: Any) -> None:
    raise Terminated()


@contextlib.contextmanager
def sigterm_raises() -> Iterator[None]:
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
