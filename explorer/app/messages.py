"""The status line and the message log behind it.

A status message is only worth the space while it is news: information fades after a few
seconds, an error stays until the user does something else (the next edit, file or job clears
it). Nothing is lost: every message also goes into the log (View -> Messages), newest last.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import Callable, Iterator

from explorer.latent.state import LatentState

INFO_SECONDS = 8.0     # how long an information message stays in the status line
LOG_SIZE = 500         # the log keeps this many messages


@dataclass(frozen=True)
class Status:
    """The status line: the latest message, and the state whose render failed (if it did)."""

    text: str = ""
    is_error: bool = False
    failed_state: LatentState | None = None
    at: float = field(default=0.0, compare=False)  # time.monotonic() when it was said

    def shown(self, now: float) -> bool:
        """Whether the status line still shows it: errors until cleared, the rest for a while."""
        return bool(self.text) and (self.is_error or now - self.at < INFO_SECONDS)


@dataclass(frozen=True)
class Message:
    text: str
    is_error: bool
    wall_time: float  # time.time(), for the log's clock column

    @property
    def clock(self) -> str:
        return time.strftime("%H:%M:%S", time.localtime(self.wall_time))


class MessageLog:
    """Every status message, newest last; repeats of the newest are counted, not stored twice."""

    def __init__(self, size: int = LOG_SIZE, clock: Callable[[], float] = time.time) -> None:
        self._messages: deque[Message] = deque(maxlen=size)
        self._clock = clock
        self.repeats = 0          # how often the newest message was said again
        self.errors_unseen = 0    # errors since the log was last looked at

    def add(self, text: str, is_error: bool) -> None:
        if not text:
            return
        last = self._messages[-1] if self._messages else None
        if last is not None and (last.text, last.is_error) == (text, is_error):
            self.repeats += 1
        else:
            self._messages.append(Message(text, is_error, self._clock()))
            self.repeats = 0
        if is_error:
            self.errors_unseen += 1

    def clear(self) -> None:
        self._messages.clear()
        self.repeats = self.errors_unseen = 0

    def seen(self) -> None:
        self.errors_unseen = 0

    def __iter__(self) -> Iterator[Message]:
        return iter(self._messages)

    def __len__(self) -> int:
        return len(self._messages)

    def text(self) -> str:
        """The whole log as plain lines (for the clipboard)."""
        return "\n".join(f"{m.clock}  {'error: ' if m.is_error else ''}{m.text}" for m in self._messages)
