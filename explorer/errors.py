"""Errors a user can cause. Each carries a one-line message saying what to do."""


class ExplorerError(Exception):
    """Base class: the CLI prints the message and exits 1; the GUI shows it in the status line."""


class CheckpointError(ExplorerError):
    """A file could not be read as a generator checkpoint (unknown, corrupt, unsafe, truncated)."""


class ImageInputError(ExplorerError):
    """An image file could not be used (not an image, empty, too large)."""


class DownloadError(ExplorerError):
    """A checkpoint could not be downloaded (no network, HTTP error, dropped connection, full disk)."""


class InputError(ExplorerError, ValueError):
    """A value passed to the API or a command is out of range, mis-shaped or not finite.

    It is a ValueError for Python callers and an ExplorerError, so the CLI and the GUI show its
    one line instead of a traceback.
    """


def one_line_error(exc: BaseException) -> str:
    """User errors carry their own message; anything else says what kind of failure it was."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if isinstance(exc, ExplorerError) and text:
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
