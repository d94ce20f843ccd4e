"""Every command checks its values and output paths before heavy work, never overwrites a result
without --force, streams and reports long jobs, and leaves no temp file when interrupted."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import explorer
from explorer.cli import main
from explorer.model import Model
from explorer.nets import build_generator
from tests.test_train_support import REPO, make_shapes_folder, subprocess_env

pytestmark = pytest.mark.usefixtures("one_torch_thread")
MISSING_CKPT = "/nonexistent/model.pkl"  # errors about outputs must come before the model is read
READ_ONLY = Path("/proc/stylegan-explorer-out")  # not writable, even by root


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    g = build_generator("stylegan2", dict(z_dim=16, w_dim=16, c_dim=0, img_resolution=16, img_channels=3,
                                          mapping_kwargs=dict(num_layers=2), channel_base=128, channel_max=16))
    path = tmp_path_factory.mktemp("ckpt") / "tiny.safetensors"
    explorer.save(Model(g, None, format="test"), path)
    return path


@pytest.fixture(scope="module")
def image(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("img") / "target.png"
    Image.fromarray(np.full((20, 24, 3), 90, np.uint8)).save(path)
    return path


def _error(capsys, argv: list[str]) -> str:
    """Run the CLI expecting a one-line user error (exit 1) and return that line."""
    code = main([str(a) for a in argv])
    err = capsys.readouterr().err
    assert code == 1, err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    return err


def _usage_error(capsys, argv: list[str]) -> str:
    with pytest.raises(SystemExit) as info:
        main([str(a) for a in argv])
    assert info.value.code == 2
    return capsys.readouterr().err


# --------------------------------------------------------------------------- output paths

def test_out_that_is_a_file_fails_before_the_model_is_read(image, tmp_path, capsys) -> None:
    file = tmp_path / "file.txt"
    file.write_text("x")
    assert "is a file, not a folder" in _error(capsys, ["generate", MISSING_CKPT, "--out", file])
    assert "is a file, not a folder" in _error(capsys, ["project", MISSING_CKPT, image, "--out", file])
    assert "is a file" in _error(capsys, ["directions", MISSING_CKPT, "--method", "pca",
                                          "--out", file / "pca.npz"])


def test_read_only_out_fails_before_the_model_is_read(capsys) -> None:
    if not Path("/proc/self").is_dir():
        pytest.skip("needs a read-only /proc")
    assert "not writable" in _error(capsys, ["generate", MISSING_CKPT, "--out", READ_ONLY])
    assert "not writable" in _error(capsys, ["directions", MISSING_CKPT, "--method", "pca",
                                             "--out", READ_ONLY / "pca.npz"])


def test_clashing_names_fail_before_the_model_is_read(tmp_path, capsys) -> None:
    (tmp_path / "out" / "grid.png").mkdir(parents=True)
    assert "is a folder" in _error(capsys, ["generate", MISSING_CKPT, "--out", tmp_path / "out"])
    assert "listed twice" in _error(capsys, ["generate", MISSING_CKPT, "--seeds", "1,0-2",
                                             "--out", tmp_path / "o2"])
    (tmp_path / "sets.npz").mkdir()
    assert "is a folder" in _error(capsys, ["directions", MISSING_CKPT, "--method", "pca",
                                            "--out", tmp_path / "sets.npz"])


def test_outputs_never_overwrite_the_inputs(ckpt, image, tmp_path, capsys) -> None:
    assert "overwrite the input" in _error(capsys, ["directions", ckpt, "--method", "pca",
                                                    "--out", ckpt, "--force"])
    assert "overwrite the input" in _error(capsys, ["project", ckpt, image, "--out", image.parent,
                                                    "--force"])


def test_generate_never_overwrites_without_force(ckpt, tmp_path, capsys) -> None:
    out = tmp_path / "out"
    assert main(["generate", str(ckpt), "--seeds", "1-2", "--out", str(out)]) == 0
    capsys.readouterr()
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    err = _error(capsys, ["generate", ckpt, "--seeds", "2-3", "--psi", "0.5", "--out", out])
    assert "seed0002.png already exists; pass --force" in err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # nothing rendered, nothing lost
    assert main(["generate", str(ckpt), "--seeds", "2-3", "--psi", "0.5", "--out", str(out), "--force"]) == 0
    assert (out / "seed0002.png").read_bytes() != before["seed0002.png"]
    assert (out / "seed0001.png").read_bytes() == before["seed0001.png"]


def test_project_and_directions_never_overwrite_without_force(ckpt, image, tmp_path, capsys) -> None:
    out = tmp_path / "proj"
    out.mkdir()
    (out / "projected_w.npz").write_bytes(b"earlier result")
    assert "projected_w.npz already exists" in _error(capsys, ["project", MISSING_CKPT, image, "--out", out])
    npz = tmp_path / "pca.npz"
    npz.write_bytes(b"earlier result")
    assert "pca.npz already exists" in _error(capsys, ["directions", MISSING_CKPT, "--method", "pca",
                                                       "--out", npz])
    assert npz.read_bytes() == b"earlier result"
    assert main(["directions", str(ckpt), "--method", "pca", "--samples", "500", "--components", "4",
                 "--sigma-samples", "100", "--cache-dir", str(tmp_path / "cache"), "--out", str(npz),
                 "--force"]) == 0
    assert npz.read_bytes()[:2] == b"PK"


# --------------------------------------------------------------------------- values

@pytest.mark.parametrize("argv, expected", [
    (["generate", "{ckpt}", "--seeds", "4294967296", "--out", "{out}"], "too large"),
    (["generate", "{ckpt}", "--seeds", "0-4294967295", "--out", "{out}"], "more than 1,000,000 seeds"),
    (["generate", "{ckpt}", "--translate", "nan,0", "--out", "{out}"], "finite"),
    (["generate", "{ckpt}", "--edit", "pca:0:nan", "--out", "{out}"], "finite number of sigmas"),
    (["generate", "{ckpt}", "--class", "0", "--out", "{out}"], "unconditional"),
    (["generate", "{ckpt}", "--cutoff", "7", "--out", "{out}"], "--cutoff must be between 0 and num_ws=6"),
    (["generate", "{ckpt}", "--translate", "0.1,0", "--out", "{out}"], "move a StyleGAN3 model's input grid"),
    (["generate", "{ckpt}", "--rotate", "30", "--out", "{out}"], "this is a stylegan2 model"),
    (["video", "{ckpt}", "--seeds", "0", "--translate-path", "0,0:0.3,0", "--out", "{out}/pan.gif"],
     "--translate-path and --rotate-path move a StyleGAN3"),
    (["project", "{ckpt}", "{image}", "--class", "2", "--out", "{out}"], "unconditional"),
    (["project", "{ckpt}", "{out}/missing.png", "--out", "{out}"], "no such file"),
    (["project", "{ckpt}", "{ckpt}", "--out", "{out}"], "not an image file"),
    (["project", "{ckpt}", "{image}", "--loss", "l1*inf", "--out", "{out}"], "positive finite"),
    (["directions", "{ckpt}", "--method", "pca", "--components", "1000"], "at most 16 directions (the model's w_dim)"),
    (["directions", "{ckpt}", "--method", "kmeans", "--components", "50", "--samples", "20"],
     "more than the 20 samples"),
    (["directions", "{ckpt}", "--method", "pca", "--class", "1"], "unconditional"),
])
def test_bad_values_are_one_line_errors(argv, expected, ckpt, image, tmp_path, capsys) -> None:
    filled = [a.format(ckpt=ckpt, image=image, out=tmp_path / "o") for a in argv]
    if filled[0] == "directions":
        filled += ["--cache-dir", str(tmp_path / "cache")]
    assert expected in _error(capsys, filled)
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").rglob("*.npz"))


@pytest.mark.parametrize("argv, expected", [
    (["generate", "x", "--psi", "nan", "--out", "o"], "--psi: must be a finite number"),
    (["generate", "x", "--rotate", "inf", "--out", "o"], "--rotate: must be a finite number"),
    (["generate", "x", "--cutoff", "-3", "--out", "o"], "--cutoff: must be at least 0"),
    (["project", "x", "y", "--steps", "0", "--out", "o"], "--steps: must be from 1"),
    (["project", "x", "y", "--seed", "4294967296", "--out", "o"], "--seed: must be from 0 to 4294967295"),
    (["directions", "x", "--method", "pca", "--components", "0"], "--components: must be at least 1"),
    (["directions", "x", "--method", "pca", "--samples", "-1"], "--samples: must be from 1"),
])
def test_bad_numbers_are_usage_errors(argv, expected, capsys) -> None:
    assert expected in _usage_error(capsys, argv)


@pytest.mark.parametrize("flags, expected", [
    (["--resolution", "0"], "--resolution must be a power of two from 8"),
    (["--resolution", "48"], "--resolution must be a power of two"),
    (["--resolution", "4096"], "larger than the images"),
    (["--kimg", "nan"], "--kimg must be a finite number"),
    (["--batch", "0"], "--batch must be from 1"),
    (["--lr", "0"], "--lr must be above 0"),
    (["--seed", "4294967296"], "--seed must be from 0 to 4294967295"),
    (["--aug-p", "1.5"], "--aug-p must be from 0 to 1"),
    (["--kimg", "0"], "--kimg must be above 0 and at most 1000000000, not 0"),
])
def test_train_values_fail_before_any_work(flags, expected, tmp_path, capsys) -> None:
    data = make_shapes_folder(tmp_path / "data", count=4)
    err = _error(capsys, ["train", "--data", data, "--out", tmp_path / "run", "--cache-dir", tmp_path / "cache",
                          "--device", "cpu", *flags])
    assert expected in err
    assert not (tmp_path / "run").exists()


def test_train_out_and_dataset_values(tmp_path, capsys) -> None:
    data = make_shapes_folder(tmp_path / "data", count=4)
    file = tmp_path / "file"
    file.write_text("x")
    assert "is a file, not a folder" in _error(capsys, ["train", "--data", data, "--out", file])
    assert "no such dataset" in _error(capsys, ["train", "--data", tmp_path / "nowhere", "--out", tmp_path / "r"])
    assert "power of two" in _error(capsys, ["dataset", "prepare", data, "--resolution", "0",
                                             "--cache-dir", tmp_path / "cache"])
    (tmp_path / "avatars").mkdir()
    (tmp_path / "avatars" / "manifest.json").write_text("{}")
    assert "already holds a dataset" in _error(capsys, ["dataset", "avatars", "--count", "2",
                                                        "--out", tmp_path / "avatars"])


# --------------------------------------------------------------------------- long jobs

def test_generate_streams_reports_progress_and_bounds_the_grid(ckpt, tmp_path, capsys) -> None:
    out = tmp_path / "many"
    assert main(["generate", str(ckpt), "--seeds", "0-69", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert "rendered 70/70" in captured.err
    assert "the grid shows the first 64" in captured.out
    assert len(list(out.glob("seed*.png"))) == 70
    assert Image.open(out / "grid.png").size == (8 * 16, 8 * 16)


def test_generate_removes_temp_files_of_killed_writers_only(ckpt, tmp_path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    stale = out / ".seed0001.png.999999999-0a1b2c.tmp"  # no such pid: a writer killed with SIGKILL
    live = out / f".notes.txt.{os.getpid()}-0a1b2c.tmp"  # a writer that is still running
    stale.write_bytes(b"half a png")
    live.write_bytes(b"in progress")
    assert main(["generate", str(ckpt), "--seeds", "1", "--out", str(out)]) == 0
    assert not stale.exists() and live.exists()


def _wait_for(condition, proc: subprocess.Popen, what: str, timeout: float = 90) -> None:
    deadline = time.time() + timeout
    while not condition():
        assert proc.poll() is None, f"exited (rc {proc.returncode}) before {what}: {proc.stderr.read()}"
        assert time.time() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _interruptible() -> None:
    """In the child: Ctrl-C as a terminal delivers it. A process started with SIGINT ignored
    (a shell's background job: the test runner under `xvfb-run`, say) keeps ignoring it, and
    Python then installs no KeyboardInterrupt handler at all."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.parametrize("sig, code, to_group", [
    (signal.SIGTERM, 143, True), (signal.SIGTERM, 143, False), (signal.SIGINT, 130, True)])
def test_interrupted_generate_leaves_no_temp_files(ckpt, tmp_path, sig, code, to_group) -> None:
    """Images written before the signal stay; the one being written is not left half-done."""
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "explorer.cli", "generate", str(ckpt), "--seeds", "0-99999",
                             "--out", str(out), "--device", "cpu"], cwd=REPO, env=subprocess_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=_interruptible)
    try:
        _wait_for(lambda: len(list(out.glob("seed*.png"))) >= 20, proc, "20 images")
        (os.killpg if to_group else os.kill)(proc.pid, sig)
        assert proc.wait(timeout=30) == code
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    err = proc.stderr.read()
    assert "Traceback" not in err, err
    assert not list(out.glob(".*.tmp")) and not list(out.glob("*.tmp"))
    written = sorted(out.glob("seed*.png"))
    assert 20 <= len(written) < 100_000
    for path in written:
        Image.open(path).verify()  # every file that exists is a whole PNG


def test_a_reader_that_goes_away_ends_the_command_quietly(ckpt) -> None:
    """`stylegan-explorer info CKPT | head -1`: no traceback when the pipe closes early."""
    proc = subprocess.Popen([sys.executable, "-m", "explorer", "info", str(ckpt)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=subprocess_env(), cwd=REPO)
    proc.stdout.close()  # the reader is gone before the command prints anything
    code = proc.wait(timeout=120)  # what it writes to stderr fits the pipe's buffer
    err = proc.stderr.read().decode()
    assert code == 141 and err == "", (code, err)  # 141 = 128 + SIGPIPE


def test_a_broken_pipe_that_is_not_stdout_is_a_one_line_error(ckpt, monkeypatch, capsys) -> None:
    """A worker's pipe breaking is a failure to report, not a reader that had enough."""
    import explorer.cli.info

    def broken(args):
        raise BrokenPipeError(32, "Broken pipe")
    monkeypatch.setattr(explorer.cli.info, "run", broken)
    assert main(["info", str(ckpt)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Broken pipe" in err and len(err.strip().splitlines()) == 1


def test_project_checks_its_picture_before_the_outputs(image, tmp_path, capsys) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "target.png").write_bytes(b"an earlier result")
    assert "is a folder; choose an image file" in _error(capsys, ["project", MISSING_CKPT, tmp_path, "--out", out])
    fake = tmp_path / "fake.jpg"
    fake.write_text("not a photo")
    assert "not an image file" in _error(capsys, ["project", MISSING_CKPT, fake, "--out", out])
    assert "already exists" in _error(capsys, ["project", MISSING_CKPT, image, "--out", out])
