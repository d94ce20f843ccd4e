"""What a check concludes: a `Finding` with a severity, the numbers behind it, a picture, what it
means and what to change. One vocabulary for the CLI's JSON lines, the HTML report and the app.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# Droplet signs (the doctor's check and the Layers panel's table): a layer's spike index
# (max|x| / std of its features) and its excess over the typical (median) layer's.
WARN_EXCESS, WARN_SPIKE = 2.0, 12.0
NOTE_EXCESS, NOTE_SPIKE = 1.5, 9.0


def spike_severity(spike: float, typical: float) -> str:
    """'warn', 'note' or 'ok' for a layer's spike index against the typical layer's."""
    excess = spike / typical if typical > 0 else 0.0
    if excess >= WARN_EXCESS and spike >= WARN_SPIKE:
        return "warn"
    if excess >= NOTE_EXCESS and spike >= NOTE_SPIKE:
        return "note"
    return "ok"

# "skip": the check could not judge (too few seeds, a missing feature network): not a note.
SEVERITIES = ("skip", "ok", "note", "warn")
CHECKS = ("droplets", "sticking", "noise", "w_space", "diversity", "training")


@dataclass(frozen=True)
class Finding:
    """One conclusion of one check.

    `layer`, `seed` and `position` say where to look (the app shows that layer for that seed,
    with a marker at `position`, a (y, x) fraction of the layer's height and width). A finding
    about the whole set of seeds (noise, sticking, diversity without near-duplicates) names no
    seed: the app then shows the layer on the user's own picture.
    `numbers` holds the evidence behind `value`; `picture` is RGBA uint8 [H, W, 4] or None, and
    `caption` says what its parts show (the app and the HTML report print it with the picture).
    """

    check: str
    severity: str
    message: str
    fix: str = ""
    value: float | None = None
    layer: str | None = None
    seed: int | None = None
    position: tuple[float, float] | None = None
    numbers: dict[str, Any] = field(default_factory=dict)
    picture: np.ndarray | None = field(default=None, compare=False, repr=False)
    caption: str = ""

    def __post_init__(self) -> None:
        if self.check not in CHECKS:
            raise ValueError(f"check must be one of {CHECKS}, not {self.check!r}")
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {SEVERITIES}, not {self.severity!r}")

    @property
    def rank(self) -> int:
        """0 skip, 1 ok, 2 note, 3 warn: sorts the worst first."""
        return SEVERITIES.index(self.severity)

    def to_dict(self) -> dict[str, Any]:
        """The JSON line of `diagnose --json` (the picture is a file name the caller adds)."""
        return {"check": self.check, "severity": self.severity, "layer": self.layer,
                "value": _plain(self.value), "message": self.message, "fix": self.fix,
                "seed": self.seed,
                "position": None if self.position is None else [round(float(v), 4) for v in self.position],
                "numbers": _plain(self.numbers)}


def _plain(value: Any) -> Any:
    """numpy scalars and non-finite floats made JSON-safe (NaN/inf become None)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return round(value, 4) if math.isfinite(value) else None
    return value


def worst(findings: list[Finding]) -> str:
    """The most severe level among `findings` ("ok" for none)."""
    return max((f.severity for f in findings), key=SEVERITIES.index, default="ok")
