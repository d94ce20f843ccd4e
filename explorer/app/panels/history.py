"""History panel: every committed state, newest last; click one to go back to it."""

from __future__ import annotations

from imgui_bundle import imgui

from explorer.app.controller import AppController
from explorer.app.layout import BELOW
from explorer.app.panels.base import Panel

SHOWN = 30


class HistoryPanel(Panel):
    title = "History"
    dock = BELOW

    def draw(self, ctl: AppController) -> None:
        history = ctl.history
        imgui.begin_disabled(not history.can_undo())
        if imgui.button("Undo (Ctrl+Z)"):
            ctl.undo()
        imgui.end_disabled()
        imgui.same_line()
        imgui.begin_disabled(not history.can_redo())
        if imgui.button("Redo (Ctrl+Y)"):
            ctl.redo()
        imgui.end_disabled()
        entries = history.entries
        first = max(0, len(entries) - SHOWN)
        if first:
            imgui.text_disabled(f"... {first} older steps")
        for i in range(first, len(entries)):
            imgui.push_id(i)
            if imgui.selectable(f"{i:3d}  {entries[i].label}", i == history.index)[0]:
                ctl.jump_to(i)
            imgui.pop_id()
