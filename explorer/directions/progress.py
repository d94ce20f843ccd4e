"""Progress and cancellation for direction computations, in the vocabulary of `explorer.jobs`.

Every computation here can run as a background job (`explorer.jobs`): it reports
`Progress` and stops with `JobCancelled` when asked, and it works just as well called directly
with no callbacks at all (tests, CLI, notebooks).
"""

from __future__ import annotations

from explorer.jobs import Cancelled, JobCancelled, Progress, Report


class StepCounter:
    """Counts work units across the phases of one computation, reporting and checking for cancel."""

    def __init__(self, total: int, report: Report | None = None, cancelled: Cancelled | None = None) -> None:
        self.total = int(total)
        self.step = 0
        self._report = report
        self._cancelled = cancelled

    def advance(self, units: int, message: str) -> None:
        """Count `units` done; raise `JobCancelled` if a cancel was asked for."""
        self.step = min(self.total, self.step + int(units))
        if self._cancelled is not None and self._cancelled():
            raise JobCancelled()
        if self._report is not None:
            self._report(Progress(self.step, self.total, message))
