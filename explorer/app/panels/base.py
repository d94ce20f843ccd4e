"""What a panel is: one dockable window that declares where it lives and what it holds.

The window builds one instance of each class in `explorer.app.panels.PANELS`, gives each a
dockable window titled `title` in the dock space `dock` (app/layout.py), hides the
`stylegan3_only` ones while another architecture is loaded, releases the GL textures of its
`views()` before the GL context goes, and calls `every_frame` once per UI frame.
"""

from __future__ import annotations

from typing import ClassVar

from explorer.app.controller import AppController
from explorer.app.image_view import ImageView


class Panel:
    """A dockable window: draws from the controller's state and calls controller methods; it
    keeps only UI-local memory (text being typed, a remembered strength, its textures)."""

    title: ClassVar[str]
    dock: ClassVar[str]                     # the dock space of the first-launch layout
    stylegan3_only: ClassVar[bool] = False  # shown only while a StyleGAN3 model is loaded

    def draw(self, ctl: AppController) -> None:
        raise NotImplementedError

    def views(self) -> tuple[ImageView, ...]:
        """The image views (GL textures) this panel draws; released while the GL context exists."""
        return ()

    def every_frame(self, ctl: AppController) -> None:
        """Once per UI frame, whether or not the panel is visible (its floating windows, timing)."""

    def wants_focus(self, ctl: AppController) -> bool:
        """True when the panel should come to the front (the window then focuses it once)."""
        return False
