"""The adversarial corpus (`tests/hostile_files.py`): each file is refused with a one-line
CheckpointError, quickly and within a memory budget, by a process that survives it.

All files are loaded by one child process (`tests/load_probe.py`) that reports, per file, what
was raised and its peak RSS; a crash shows as a missing report.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import explorer
from explorer.model import Model
from tests import hostile_files as hf
from tests.test_train_support import REPO, subprocess_env

MEMORY_BUDGET_MB = 250   # peak RSS above the child's baseline (torch and explorer imported)
TIME_BUDGET_S = 20.0
CONTROLS = ("valid pickle", "valid safetensors", "valid rosinality")


def _write_controls(folder: Path) -> dict[str, Path]:
    paths = {name: folder / f"control{i}" for i, name in enumerate(CONTROLS)}
    hf.cb.write_pickle_of(hf.snapshot(), paths["valid pickle"])
    explorer.save(Model(hf.tiny_generator("stylegan3"), None, format="test"), paths["valid safetensors"])
    hf.rosinality_file(paths["valid rosinality"])
    return paths


@pytest.fixture(scope="module")
def probe(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("hostile")
    paths = _write_controls(folder)
    for i, (name, (build, _)) in enumerate(hf.CASES.items()):
        paths[name] = folder / f"case{i:02d}.pkl"  # the name says nothing: content is sniffed
        build(paths[name])
    proc = subprocess.run([sys.executable, "-m", "tests.load_probe", *map(str, paths.values())],
                          capture_output=True, text=True, timeout=900, env=subprocess_env(), cwd=REPO)
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    by_path = {line["path"]: line for line in lines if "path" in line}
    return {"proc": proc, "baseline": lines[0]["baseline_mb"],
            "results": {name: by_path.get(str(path)) for name, path in paths.items()},
            "sizes": {name: path.stat().st_size for name, path in paths.items()}}


def _result(probe: dict, name: str) -> dict:
    result = probe["results"][name]
    proc = probe["proc"]
    assert result is not None, (f"the loading process died on {name!r} (exit {proc.returncode}): "
                                f"{proc.stderr[-1500:]}")
    return result


@pytest.mark.parametrize("name", CONTROLS)
def test_controls_load(probe: dict, name: str) -> None:
    result = _result(probe, name)
    assert result["type"] == "loaded", result


@pytest.mark.parametrize("name", list(hf.CASES))
def test_hostile_file_is_refused(probe: dict, name: str) -> None:
    result = _result(probe, name)
    expected = hf.CASES[name][1]
    assert result["type"] == "CheckpointError", result
    message = result["message"]
    assert message and "\n" not in message, message
    assert expected in message, message
    assert result["peak_mb"] - probe["baseline"] < MEMORY_BUDGET_MB, result
    assert result["seconds"] < TIME_BUDGET_S, result


def test_probe_exits_cleanly(probe: dict) -> None:
    assert probe["proc"].returncode == 0, probe["proc"].stderr[-2000:]


def test_budget_allows_real_checkpoints_and_refuses_their_bombs() -> None:
    """The same budget that refuses the bombs loads a real network: 4x the file plus 64 MiB."""
    from explorer.checkpoints.load_budget import FIXED_ALLOWANCE, LoadBudget
    budget = LoadBudget.for_file_size(100 * 2**20)
    budget.charge(3 * 100 * 2**20, "three copies of the file")
    with pytest.raises(explorer.CheckpointError, match="memory budget"):
        budget.charge(100 * 2**20 + FIXED_ALLOWANCE + 1, "one more")
    assert LoadBudget.for_file_size(10 * 2**30).limit == 4 * 2**30
