"""Every kind of background job the app tracks, in one place.

The controller keeps at most one job per kind (a newer one cancels the older, see
`AppController.track_job`), and a job's kind says who handles its end: the feature that declared
a handler for it (`Feature.job_handlers`), else the controller. A kind is a `str` so that it
prints and compares like its name; `unique` makes a copy-pasted value an error at import time.
"""

from __future__ import annotations

from enum import Enum, unique


@unique
class JobKind(str, Enum):
    # The controller's own.
    SAVE_IMAGE = "save"
    SAVE_LATENT = "latent"
    RESTORE_CHECK = "restore-check"  # a saved PNG's edits against its W+ (app/controller.py)
    NOISE_VARIANCE = "variance"
    # Directions (app/direction_sets.py).
    DIRECTIONS = "directions"
    DIRECTION_STRIP = "strip"
    # Style mixing (app/mixing_views.py).
    MIX_PREVIEWS = "mix-previews"
    MIXING_GRID = "grid"
    SAVE_MIXING_GRID = "grid-save"
    # The rest, one feature each.
    PROJECTION = "projection"          # app/projections.py
    CHECK_TRAINING = "train-check"     # app/train_runs.py
    STOP_TRAINER = "train-stop"        # app/train_runs.py
    DOWNLOAD = "download"              # app/downloads.py
    DOCTOR = "doctor"                  # app/doctor.py
    VIDEO_EXPORT = "video export"      # app/recording.py
    VIDEO_PREVIEW = "video preview"    # app/recording.py
