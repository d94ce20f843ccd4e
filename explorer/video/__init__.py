"""Videos of latent walks: keyframe paths, batched rendering, MP4/GIF/PNG export.

    path = VideoPath.uniform([LatentState(seed=0, psi=0.7), LatentState(seed=5, psi=0.7)], 60)
    export_video(borrow_model(model), PathSource(path), "walk.mp4", "mp4", ExportSettings(fps=30))
"""

from explorer.video.encode import FORMATS, max_fps, output_format
from explorer.video.export import ExportResult, ExportSettings, borrow_model, export_video
from explorer.video.frames import FrameSource, PathSource, StateSequence, render_frames
from explorer.video.path import EASINGS, SPACES, PathFrame, VideoPath, path_frames, path_states

__all__ = ["EASINGS", "FORMATS", "SPACES", "ExportResult", "ExportSettings", "FrameSource", "PathFrame",
           "PathSource", "StateSequence", "VideoPath", "borrow_model", "export_video", "max_fps",
           "output_format",
           "path_frames", "path_states", "render_frames"]
