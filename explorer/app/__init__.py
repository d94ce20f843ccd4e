"""The desktop app: an imgui-bundle window that edits a `LatentState` and shows the engine's frames.

Headless (unit-tested without a display): `controller` (the edited state, history, files, engine
traffic), `history`, `session` (PNGs that carry their state, W+ .npz), `dropped_files`, `settings`,
`default_model`. Drawing (main thread only): `window` (runner, layout, per-frame loop),
`image_view` and `textures` (OpenGL), `panels/` (one dockable window each), `style`.
"""
