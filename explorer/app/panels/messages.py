"""Messages window (View > Messages): every status message so far, errors in red, newest last."""

from __future__ import annotations

from imgui_bundle import imgui

from explorer.app.controller import AppController
from explorer.app.layout import place_floating
from explorer.app.style import ERROR_COLOR
from explorer.app.widgets import wrapped_text

TITLE = "Messages"


class MessagesWindow:
    def __init__(self) -> None:
        self.open = False
        self._shown = 0  # messages on screen last frame: scroll to the bottom when one arrives

    def draw(self, ctl: AppController) -> None:
        if not self.open:
            return
        log = ctl.messages
        place_floating(TITLE)
        opened, self.open = imgui.begin(TITLE, self.open)
        if opened:
            log.seen()
            if imgui.button("Copy all"):
                imgui.set_clipboard_text(log.text())
            imgui.same_line()
            if imgui.button("Clear"):
                log.clear()
            imgui.same_line()
            imgui.text_disabled(f"{len(log)} messages")
            if imgui.begin_child("log", imgui.ImVec2(0, 0), imgui.ChildFlags_.borders):
                for m in log:
                    imgui.text_disabled(m.clock)
                    imgui.same_line()
                    wrapped_text(m.text, ERROR_COLOR if m.is_error else None)
                if log.repeats:
                    imgui.text_disabled(f"(the last message {log.repeats + 1} times)")
                if len(log) != self._shown:
                    imgui.set_scroll_here_y(1.0)
                    self._shown = len(log)
            imgui.end_child()
        imgui.end()
