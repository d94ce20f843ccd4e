"""Models panel: NVIDIA's published models (the catalogue) to download and open, and the cache."""

from __future__ import annotations

from imgui_bundle import imgui

from explorer.app.controller import AppController
from explorer.app.layout import BELOW
from explorer.app.panels.base import Panel
from explorer.download import CacheEntry, PublishedModel, RemoteSource, format_bytes, published_models


def draw_download_progress(ctl: AppController) -> None:
    """The running download's bar and Cancel button (shared with the Model panel)."""
    progress = ctl.downloads.progress()
    if progress is None:
        return
    fraction, text = progress
    imgui.text(f"downloading {ctl.downloads.active.source.label}")
    imgui.progress_bar(fraction, imgui.ImVec2(-imgui.calc_text_size("Cancel").x - 24, 0), text)
    imgui.same_line()
    if imgui.button("Cancel##download"):
        ctl.downloads.cancel()


class ModelsPanel(Panel):
    title = "Models"
    dock = BELOW

    def __init__(self) -> None:
        self.selected: str | None = None

    def draw(self, ctl: AppController) -> None:
        downloads = ctl.downloads
        imgui.text_wrapped("NVIDIA's published StyleGAN models. Each downloads once into the cache and "
                           "opens offline after that.")
        draw_download_progress(ctl)
        entries = {e.url: e for e in downloads.entries()}
        models = published_models()
        # Two columns: the model (name, then resolution / dataset / family in grey) and its buttons,
        # so a narrow dock still shows everything without clipping.
        flags = imgui.TableFlags_.row_bg | imgui.TableFlags_.borders_inner_h | imgui.TableFlags_.scroll_y
        row = 2 * imgui.get_text_line_height_with_spacing()
        # Room for the details below, but never under four and a half rows: the half row shows there is more.
        height = min(row * len(models) + 8, max(imgui.get_content_region_avail().y - 150, 4.5 * row))
        if imgui.begin_table("catalogue", 2, flags, imgui.ImVec2(0, height)):
            imgui.table_setup_column("model", imgui.TableColumnFlags_.width_stretch)
            imgui.table_setup_column("actions", imgui.TableColumnFlags_.width_fixed)
            for m in models:
                self._row(ctl, m, entries.get(m.url))
            imgui.end_table()
        self._details(ctl, entries)
        self._other_downloads(ctl, [e for e in entries.values() if not any(m.url == e.url for m in models)])
        imgui.separator()
        imgui.text_disabled(f"cache: {format_bytes(downloads.total_size())} in {downloads.cache.folder}")

    def _row(self, ctl: AppController, m: PublishedModel, entry: CacheEntry | None) -> None:
        imgui.table_next_row()
        imgui.table_next_column()
        if imgui.selectable(f"{m.name}##select", self.selected == m.name)[0]:
            self.selected = m.name
        if imgui.is_item_hovered():
            imgui.set_tooltip(f"{m.title}{'  (' + m.note + ')' if m.note else ''}\n{m.licence}\n{m.url}")
        size = f"  {format_bytes(entry.size)}{'' if entry.complete else ' partial'}" if entry else ""
        imgui.text_disabled(f"{m.resolution} px  {m.dataset}  {m.family}{'-' + m.config if m.config else ''}{size}")
        imgui.table_next_column()
        active = ctl.downloads.active
        if active is not None and active.source.url == m.url:
            imgui.text_disabled("downloading")
            return
        if entry is not None and entry.complete:
            if imgui.small_button(f"Open##{m.name}"):
                ctl.open_path(m.url)
        else:
            if imgui.small_button(f"Download##{m.name}"):
                ctl.downloads.start(RemoteSource(m.url, m), open_when_done=True)
            if entry is not None and imgui.is_item_hovered():
                imgui.set_tooltip(f"resumes the {format_bytes(entry.size)} already downloaded")
        if entry is not None:
            imgui.same_line()
            if imgui.small_button(f"Delete##{m.name}"):
                ctl.downloads.delete(m.url, m.name)

    def _details(self, ctl: AppController, entries: dict[str, CacheEntry]) -> None:
        m = next((m for m in published_models() if m.name == self.selected), None)
        if m is None:
            imgui.text_disabled("select a model for its details; Download opens it when done")
            return
        entry = entries.get(m.url)
        size = (f"{format_bytes(entry.size)} {'downloaded' if entry.complete else 'partly downloaded'}"
                if entry else (f"{format_bytes(m.size)}, not downloaded" if m.size else "not downloaded"))
        imgui.text(f"{m.title}{'  (' + m.note + ')' if m.note else ''}")
        imgui.text_disabled(size)
        imgui.text_wrapped(f"Licence: {m.licence}")
        imgui.text_wrapped(m.url)

    @staticmethod
    def _other_downloads(ctl: AppController, others: list[CacheEntry]) -> None:
        """Downloads by URL that are not in the catalogue (opened from the Open box or a drop)."""
        if not others or not imgui.tree_node(f"other downloads ({len(others)})"):
            return
        for i, e in enumerate(others):
            imgui.push_id(f"other{i}")
            label = RemoteSource(e.url).label
            if e.complete and imgui.small_button("Open"):
                ctl.open_path(e.url)
            imgui.same_line()
            if imgui.small_button("Delete"):
                ctl.downloads.delete(e.url, label)
            imgui.same_line()
            imgui.text(f"{label}  {format_bytes(e.size)}{'' if e.complete else ' (partial)'}")
            if imgui.is_item_hovered():
                imgui.set_tooltip(e.url)
            imgui.pop_id()
        imgui.tree_pop()
