"""`stylegan-explorer` without a subcommand: a clear line and exit code 2 where no window can open."""

import os
import subprocess
import sys

import pytest

from explorer.cli.app_launcher import NO_DISPLAY_EXIT, build_parser, display_problem
from explorer.cli_values import MAX_APP_SEED
from tests.conftest import REPO_ROOT


def test_display_is_required_on_linux_only():
    assert "no display" in display_problem({}, "linux")
    assert display_problem({"DISPLAY": ":0"}, "linux") is None
    assert display_problem({"WAYLAND_DISPLAY": "wayland-0"}, "linux") is None
    assert display_problem({}, "darwin") is None
    assert display_problem({}, "win32") is None


def test_no_display_exits_2_with_one_line(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["PYTHONPATH"] = str(REPO_ROOT)
    proc = subprocess.run([sys.executable, "-m", "explorer", "--seed", "3"], capture_output=True,
                          text=True, timeout=60, env=env, cwd=tmp_path)
    assert proc.returncode == NO_DISPLAY_EXIT
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: no display")
    assert not list(tmp_path.iterdir())


def test_flags_preset_the_state():
    args = build_parser().parse_args(["model.pkl", "--seed", "12", "--psi", "0.5", "--device", "cpu",
                                      "--screenshot", "out.png", "--frames", "3"])
    assert (args.checkpoint, args.seed, args.psi, args.device) == ("model.pkl", 12, 0.5, "cpu")
    assert (args.screenshot, args.frames) == ("out.png", 3)


def test_missing_checkpoint_is_reported_before_a_window_opens(monkeypatch, tmp_path, capsys):
    from explorer.cli.app_launcher import run_app_command
    monkeypatch.setenv("DISPLAY", ":99")
    assert run_app_command([str(tmp_path / "missing.pkl")]) == 1
    assert "no such checkpoint file" in capsys.readouterr().err


@pytest.mark.parametrize("seed", ["-1", str(MAX_APP_SEED + 1), "3000000000", "seven"])
def test_a_seed_the_seed_box_cannot_hold_is_one_usage_line(seed, capsys):
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(["--seed", seed])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert "--seed" in err[-1] and "Traceback" not in "".join(err)
    assert build_parser().parse_args(["--seed", str(MAX_APP_SEED)]).seed == MAX_APP_SEED
