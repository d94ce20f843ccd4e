"""One dockable window per module. A panel draws widgets from the controller's state and calls
controller methods; it holds only UI-local memory (text being typed, a remembered strength)."""

from __future__ import annotations

from typing import Protocol

from explorer.app.controller import AppController


class Panel(Protocol):
    title: str

    def draw(self, ctl: AppController) -> None: ...
