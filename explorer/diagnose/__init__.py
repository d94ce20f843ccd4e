"""The artifact doctor: find a generator's artifacts, show the evidence, say what to change.

One module per check (droplets, sticking, noise, w_space, diversity, training), each returning
a `Finding`; `doctor.diagnose` runs them with one progress count; `report` writes pictures and
an HTML page; `command` is the `diagnose` subcommand.
"""

from explorer.diagnose.doctor import DEFAULT_SEEDS, Diagnosis, diagnose, diagnose_model, parse_checks
from explorer.diagnose.findings import CHECKS, SEVERITIES, Finding, worst

__all__ = ["CHECKS", "DEFAULT_SEEDS", "SEVERITIES", "Diagnosis", "Finding", "diagnose", "diagnose_model",
           "parse_checks", "worst"]
