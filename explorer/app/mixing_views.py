"""Style mixing made visible: pictures A and B on their own, and the mixing grid of the current A and B.

Both are built from the whole state on screen, so they show what the main picture is made of:
truncation, noise, direction edits, the StyleGAN3 transform and projected latents all apply.
A and B alone render in a background job whenever either changes (not when only the mixing
weights move: the result is then the main picture itself). The grid puts A and its next seeds
down the side and B and its next seeds along the top; cell (i, j) is exactly the main
picture's state with those two sources, so the cell of the current A and B is the picture on
screen. It is saved as a labelled PNG.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from explorer.app.host import AppHost, Feature, JobHandler
from explorer.app.job_kinds import JobKind
from explorer.cli_values import MAX_APP_SEED
from explorer.jobs import JobHandle, Progress
from explorer.latent.state import LatentState
from explorer.model import ModelInfo

MAX_NEIGHBOURS = 7


def has_b(state: LatentState) -> bool:
    return state.mix_seed is not None or state.mix_latent is not None


def picture_a(state: LatentState) -> LatentState:
    """The state without its mixing: picture A as the main view would show it unmixed."""
    return state.replace(mix_seed=None, mix_latent=None, mix_weights=())


def picture_b(state: LatentState) -> LatentState:
    """Picture B alone, with everything else (psi, noise, edits, transform) as A has it."""
    if state.mix_latent is not None:
        return picture_a(state.replace(latent=state.mix_latent, latent_label="B"))
    return picture_a(state.replace(seed=state.mix_seed if state.mix_seed is not None else state.seed,
                                   latent=None, latent_label=""))


def describe_a(state: LatentState) -> str:
    return f"A: {state.latent_label or 'latent'}" if state.latent is not None else f"A: seed {state.seed}"


def describe_b(state: LatentState) -> str:
    if state.mix_latent is not None:
        return "B: latent"
    return f"B: seed {state.mix_seed}" if state.mix_seed is not None else "B: off"


@dataclass(frozen=True)
class GridPlan:
    """The grid's states: `cells[i][j]` mixes row source i with column source j."""

    row_labels: tuple[str, ...]
    col_labels: tuple[str, ...]
    rows: tuple[LatentState, ...]            # A sources alone (the left column)
    cols: tuple[LatentState, ...]            # B sources alone (the top row)
    cells: tuple[tuple[LatentState, ...], ...]


def plan_grid(state: LatentState, neighbours: int, max_seed: int) -> GridPlan:
    """A and its next `neighbours` seeds down the side, B and its next ones along the top
    (a latent has no neighbours: it is one row or column on its own)."""
    n = min(max(neighbours, 0), MAX_NEIGHBOURS)
    if state.latent is not None:
        a_sources = [state]
    else:
        a_sources = [state.replace(seed=s) for s in range(state.seed, min(state.seed + n, max_seed) + 1)]
    if state.mix_latent is not None or state.mix_seed is None:
        b_sources = [state]
    else:
        b_sources = [state.replace(mix_seed=s) for s in range(state.mix_seed, min(state.mix_seed + n, max_seed) + 1)]
    cells = tuple(tuple(a.replace(mix_seed=b.mix_seed, mix_latent=b.mix_latent) for b in b_sources)
                  for a in a_sources)
    return GridPlan(row_labels=tuple(describe_a(a) for a in a_sources),
                    col_labels=tuple(describe_b(b) for b in b_sources),
                    rows=tuple(picture_a(a) for a in a_sources), cols=tuple(picture_b(b) for b in b_sources),
                    cells=cells)


def grid_picture(plan: GridPlan, render) -> np.ndarray:
    """The grid as one RGBA picture: B pictures along the top, A pictures down the side, the
    mixes inside, a transparent corner. `render(state) -> rgba` draws one cell."""
    jobs = [(0, j + 1, s) for j, s in enumerate(plan.cols)]
    for i, a in enumerate(plan.rows):
        jobs.append((i + 1, 0, a))
        jobs.extend((i + 1, j + 1, s) for j, s in enumerate(plan.cells[i]))
    grid = None
    for r, c, state in jobs:
        rgba = render(state)
        h, w = rgba.shape[:2]
        if grid is None:
            grid = np.zeros(((len(plan.rows) + 1) * h, (len(plan.cols) + 1) * w, 4), np.uint8)
        grid[r * h:(r + 1) * h, c * w:(c + 1) * w] = rgba
    return grid


def labelled_grid_png(plan: GridPlan, rgba: np.ndarray) -> np.ndarray:
    """The grid as saved: RGB on a dark background, column labels above, row labels beside."""
    from PIL import Image, ImageDraw, ImageFont
    font = ImageFont.load_default()
    measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    line = int(measure.textbbox((0, 0), "Ag", font=font)[3]) + 6
    left = int(max(measure.textlength(t, font=font) for t in plan.row_labels)) + 10
    rows, cols = len(plan.rows) + 1, len(plan.cols) + 1
    h, w = rgba.shape[0] // rows, rgba.shape[1] // cols
    canvas = Image.new("RGB", (left + rgba.shape[1], line + rgba.shape[0]), (24, 24, 24))
    canvas.paste(Image.fromarray(np.ascontiguousarray(rgba)), (left, line),
                 Image.fromarray(np.ascontiguousarray(rgba[..., 3])))
    draw = ImageDraw.Draw(canvas)
    for j, text in enumerate(plan.col_labels):
        draw.text((left + (j + 1) * w + 3, 3), text, fill=(230, 230, 230), font=font)
    for i, text in enumerate(plan.row_labels):
        draw.text((4, line + (i + 1) * h + h // 2 - line // 2 + 3), text, fill=(230, 230, 230), font=font)
    return np.asarray(canvas)


@dataclass(frozen=True)
class Previews:
    """Pictures A and B alone, for `key` = (A state, B state, model hash)."""

    key: tuple
    a: np.ndarray
    b: np.ndarray
    version: int


class _GridAbandoned(Exception):
    """The model changed (or the job was cancelled) between two cells of a grid."""


@dataclass(frozen=True)
class MixingGrid:
    plan: GridPlan
    rgba: np.ndarray
    version: int


class MixingViews(Feature):
    """The controller's `mixing`; the Style mixing panel draws from it."""

    def __init__(self, host: AppHost) -> None:
        super().__init__(host)
        self.previews: Previews | None = None
        self.grid: MixingGrid | None = None
        self.last_saved: Path | None = None
        self._requested: tuple | None = None
        self._versions = 0

    def job_handlers(self) -> dict[JobKind, JobHandler]:
        return {JobKind.MIX_PREVIEWS: self.previews_finished, JobKind.MIXING_GRID: self.grid_finished,
                JobKind.SAVE_MIXING_GRID: self.grid_saved}

    def model_loaded(self, info: ModelInfo) -> None:
        self.previews = self.grid = None
        self.host.cancel_job(JobKind.MIXING_GRID)  # a grid under way: its cells would come from two models

    # --- A and B alone ---------------------------------------------------------------------------
    def preview_key(self) -> tuple | None:
        state, info = self.host.state, self.host.model_info
        if info is None or not has_b(state):
            return None
        return picture_a(state), picture_b(state), info.content_hash

    def request_previews(self) -> None:
        """Render A and B alone if they changed (called while the panel is on screen)."""
        key = self.preview_key()
        if key is None or key == self._requested or (self.previews is not None and self.previews.key == key):
            return
        self._requested = key
        a_state, b_state, model_hash = key
        engine, library = self.host.engine, self.host.direction_library

        def job(report, cancelled) -> Previews | None:
            import torch
            with engine.borrow_model() as model, torch.no_grad():
                if model.info.content_hash != model_hash or cancelled():
                    return None  # a newer state replaced this job while it waited for the model
                from explorer.engine import render_state
                a = render_state(model, a_state, library, engine.force_fp32).rgba
                b = render_state(model, b_state, library, engine.force_fp32).rgba
            return Previews(key, a, b, 0)
        self.host.track_job(JobKind.MIX_PREVIEWS, engine.run_job("pictures A and B", job))

    def previews_finished(self, handle: JobHandle) -> None:
        if handle.status == "failed":
            self.host.report_job_end(handle)
        elif handle.status == "done" and handle.result is not None:
            self._versions += 1
            p = handle.result
            self.previews = Previews(p.key, p.a, p.b, self._versions)

    # --- the grid --------------------------------------------------------------------------------
    def start_grid(self, neighbours: int) -> None:
        info = self.host.model_info
        if info is None:
            return
        plan = plan_grid(self.host.state, neighbours, MAX_APP_SEED)
        engine, library, model_hash = self.host.engine, self.host.direction_library, info.content_hash
        total = len(plan.rows) * (len(plan.cols) + 1) + len(plan.cols)

        def job(report, cancelled) -> MixingGrid | None:
            import torch

            from explorer.engine import render_state
            done = [0]

            def render(state: LatentState) -> np.ndarray:
                with engine.borrow_model() as model, torch.no_grad():  # per cell: the picture stays live
                    if model.info.content_hash != model_hash or cancelled():
                        raise _GridAbandoned
                    rgba = render_state(model, state, library, engine.force_fp32).rgba
                done[0] += 1
                report(Progress(done[0], total, "mixing grid"))
                return rgba
            try:
                return MixingGrid(plan, grid_picture(plan, render), 0)
            except _GridAbandoned:
                return None  # another model was loaded meanwhile: its cells must not join this grid
        self.host.track_job(JobKind.MIXING_GRID, engine.run_job("mixing grid", job))

    def grid_finished(self, handle: JobHandle) -> None:
        if handle.status != "done":
            self.host.report_job_end(handle)
            return
        if handle.result is None:
            self.host.set_status("the mixing grid was dropped: another model was loaded while it rendered")
            return
        self._versions += 1
        self.grid = MixingGrid(handle.result.plan, handle.result.rgba, self._versions)
        self.host.set_status(f"mixing grid ready: {len(self.grid.plan.rows)} x {len(self.grid.plan.cols)}")

    def save_grid(self) -> None:
        """Write the grid, labelled, as a new PNG in the save folder (never replacing a file)."""
        grid = self.grid
        if grid is None:
            return
        folder = Path(self.host.settings.save_dir).expanduser()

        def job(report, cancelled) -> Path:
            from explorer.app.session import free_name, write_new_file
            from explorer.fileio import png_bytes
            data = png_bytes(labelled_grid_png(grid.plan, grid.rgba), {})
            for _ in range(10):
                path = folder / f"{free_name(folder, 'mixing-grid', ('.png',))}.png"
                try:
                    write_new_file(path, data)
                    return path
                except FileExistsError:
                    continue
            raise OSError(f"no free file name in {folder}")
        self.host.track_job(JobKind.SAVE_MIXING_GRID, self.host.engine.run_job("save mixing grid", job))

    def grid_saved(self, handle: JobHandle) -> None:
        if handle.status != "done":
            self.host.report_job_end(handle)
            return
        self.last_saved = handle.result
        self.host.set_status(f"saved the mixing grid as {handle.result}")
