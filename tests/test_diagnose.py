"""The artifact doctor on models whose defect is known because the test made it.

Tiny real StyleGAN2/3 generators (random weights, 32 px), each with one planted defect, and the
reference fixtures for the StyleGAN2 vs StyleGAN3 sticking comparison. Each defect must be named
by its check; the healthy model must raise no warning.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

import explorer
from explorer.cli import main
from explorer.diagnose import diagnose, diagnose_model, parse_checks
from explorer.diagnose.droplets import feature_layers
from explorer.diagnose.sticking import check_sticking
from explorer.diagnose.training import check_training
from explorer.directions.progress import StepCounter
from explorer.jobs import JobCancelled
from explorer.errors import InputError
from explorer.model import Model
from explorer.nets import build_generator
from explorer.nets.discriminator import StyleGAN2Discriminator
from explorer.train.metrics import top_singular_values
from explorer.train.run_folder import RunFolder
from tests.conftest import FIXTURES_DIR

SEEDS = 8
PLANTED_LAYER = "b16.conv1"


def tiny_generator(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return build_generator("stylegan2", dict(
        z_dim=32, w_dim=32, c_dim=0, img_resolution=32, img_channels=3,
        mapping_kwargs=dict(num_layers=2), channel_base=256, channel_max=32))


def tiny_model(seed: int = 0) -> Model:
    return Model(tiny_generator(seed), None, format="test")


def planted_spike_model() -> Model:
    """One position of b16.conv1 gets +100 in every channel for every seed (const noise): a droplet.
    The layer's random noise stays weak (strength 0.01), so only the constant blob is new."""
    g = tiny_generator()
    layer = g.synthesis.blocks[2].conv1
    assert layer.resolution == 16
    with torch.no_grad():
        layer.noise_strength.fill_(0.01)
        layer.noise_const.zero_()
        layer.noise_const[5, 9] = 100 / 0.01
    return Model(g, None, format="test")


def constant_mapping_model() -> Model:
    """The mapping's last layer has zero weights: w is its bias for every z."""
    g = tiny_generator()
    with torch.no_grad():
        last = g.mapping.fc1
        last.weight.zero_()
    return Model(g, None, format="test")


def by_check(findings) -> dict:
    return {f.check: f for f in findings}


@pytest.fixture(scope="module")
def healthy(one_torch_thread):
    return by_check(diagnose_model(tiny_model(), seeds=SEEDS))


@pytest.fixture(scope="module")
def planted(one_torch_thread):
    return by_check(diagnose_model(planted_spike_model(), seeds=SEEDS))


def test_healthy_tiny_model_raises_no_warning(healthy):
    assert set(healthy) == {"droplets", "sticking", "noise", "w_space", "diversity"}
    warned = {c: f.message for c, f in healthy.items() if f.severity == "warn"}
    assert not warned
    assert healthy["droplets"].severity == "ok"
    assert healthy["w_space"].severity == "ok" and healthy["w_space"].value > 2
    # Untrained: noise_strength is zero at init, so the noise inputs do nothing (a note, not a warning).
    assert healthy["noise"].severity == "note" and "do nothing" in healthy["noise"].message
    # Every picture says what its parts show.
    assert all(f.caption for f in healthy.values() if f.picture is not None)
    # Findings about the whole set name no seed (the app would otherwise show "seed 0" as if it were the one).
    assert healthy["noise"].seed is healthy["sticking"].seed is None
    assert healthy["diversity"].seed is None or healthy["diversity"].numbers["largest_cluster"]


def test_planted_spike_is_named_and_nothing_else_warns(planted, healthy):
    f = planted["droplets"]
    assert f.severity == "warn", f.message
    assert f.layer == PLANTED_LAYER
    assert f.numbers["suspects"][0] == PLANTED_LAYER
    assert f.numbers["position_px"] == [5, 9] and f.numbers["same_place"] == 1.0
    assert f.position == pytest.approx((5.5 / 16, 9.5 / 16))
    assert f.value > 2 * healthy["droplets"].value
    assert PLANTED_LAYER in f.message and f.fix
    assert f.picture is not None and f.picture.dtype == np.uint8 and f.picture.shape[2] == 4
    others = {c: g.message for c, g in planted.items() if c != "droplets" and g.severity == "warn"}
    assert not others


def test_constant_mapping_warns_in_w_space(one_torch_thread):
    found = by_check(diagnose_model(constant_mapping_model(), seeds=SEEDS, checks=("w_space",)))
    f = found["w_space"]
    assert f.severity == "warn" and "collapsed" in f.message
    assert f.numbers["spread"] < 1e-3
    assert f.numbers["diversity_by_psi"]["1.0"] < 1e-4
    assert f.fix


def test_stylegan3_sticks_less_than_stylegan2(one_torch_thread):
    from tests.test_fixture_checkpoints import checkpoint_for
    if not FIXTURES_DIR.is_dir():
        pytest.skip("reference fixtures not found")
    seeds = list(range(4))
    scores = {}
    for name in ("sg2_32", "sg2_64_resnet", "sg3t_32", "sg3r_32"):
        if not (FIXTURES_DIR / name).is_dir():
            continue
        import tempfile
        from pathlib import Path
        with tempfile.TemporaryDirectory() as tmp:
            model = explorer.load(checkpoint_for(FIXTURES_DIR / name, Path(tmp)))
        f = check_sticking(model, seeds, StepCounter(10**6))
        scores[name] = f.value
        assert f.check == "sticking" and 0 <= f.value <= 1.0001
    sg2 = [v for k, v in scores.items() if k.startswith("sg2")]
    sg3 = [v for k, v in scores.items() if k.startswith("sg3")]
    if not sg2 or not sg3:
        pytest.skip("needs StyleGAN2 and StyleGAN3 fixtures")
    assert max(sg3) < min(sg2), scores


def write_run(folder, blow_up: bool, ticks: int = 10) -> RunFolder:
    """A run folder whose metrics are the real per-layer singular values of a tiny G and D,
    recorded tick by tick while training is mimicked: all weights drift a little and, when
    `blow_up`, one G layer and one D layer grow 1.5x per tick."""
    torch.manual_seed(0)
    g = tiny_generator()
    d = StyleGAN2Discriminator(c_dim=0, img_resolution=32, img_channels=3, channel_base=256, channel_max=32)
    run = RunFolder(folder)
    for tick in range(1, ticks + 1):
        with torch.no_grad():
            for p in list(g.parameters()) + list(d.parameters()):
                p.mul_(1.01)
            if blow_up:
                g.synthesis.blocks[2].conv0.weight.mul_(1.5)
                d.b16.conv1.weight.mul_(1.5)
        run.append_metrics({"tick": tick, "kimg": tick * 0.5, "loss_G": 1.0 + 0.01 * tick,
                            "loss_D": 1.2, "r1": 0.05, "ada_p": 0.0,
                            "sv": {**top_singular_values(g, "G"), **top_singular_values(d, "D")}})
    return run


def test_run_folder_with_exploding_singular_values_warns(tmp_path):
    run = write_run(tmp_path / "run", blow_up=True)
    f = check_training(run.path, StepCounter(100))
    assert f.severity == "warn" and "blow up" in f.message
    assert f.layer == "b16.conv0"
    grown = f.numbers["growth"]
    assert grown["G.synthesis.b16.conv0"] > 10 and grown["D.b16.conv1"] > 10
    assert "metrics.jsonl" == f.numbers["source"]


def test_stable_run_folder_is_ok(tmp_path):
    run = write_run(tmp_path / "run", blow_up=False)
    f = check_training(run.path, StepCounter(100))
    assert f.severity == "ok", f.message


def test_run_folder_without_sv_reads_snapshots(tmp_path):
    """Older runs: the singular values are measured from the snapshots themselves."""
    run = RunFolder(tmp_path / "run")
    run.snapshots_dir.mkdir(parents=True)
    g = tiny_generator()
    for k, nimg in enumerate((1000, 2000, 3000)):
        with torch.no_grad():
            g.synthesis.blocks[1].conv1.weight.mul_(4.0 if k else 1.0)
        explorer.save(Model(g, None, format="test"), run.snapshot_path(nimg))
        run.append_metrics({"tick": k + 1, "kimg": nimg / 1000, "loss_G": 1.0, "loss_D": 1.0})
    diagnosis = diagnose(run.path, checks=("training",))
    f = diagnosis.findings[0]
    assert f.numbers["source"] == "snapshots" and f.severity == "warn" and f.layer == "b8.conv1"


def test_cancel_stops_the_doctor():
    calls = []

    def cancelled() -> bool:
        calls.append(1)
        return len(calls) > 2
    with pytest.raises(JobCancelled):
        diagnose_model(tiny_model(), seeds=SEEDS, cancelled=cancelled)


def test_progress_reaches_the_total():
    seen = []
    diagnose_model(tiny_model(), seeds=4, checks=("droplets", "noise"), report=seen.append)
    assert seen[-1].step == seen[-1].total > 0
    assert [p.step for p in seen] == sorted(p.step for p in seen)


def test_parse_checks_rejects_unknown_names():
    assert parse_checks("droplets, noise") == ("droplets", "noise")
    assert "training" in parse_checks(None)
    with pytest.raises(InputError, match="unknown check 'drops'"):
        parse_checks("drops")


def test_feature_layers_skip_rgb_outputs():
    names = feature_layers(tiny_model())
    assert "b32.conv1" in names and not any(n.endswith((".torgb", ".img")) for n in names)


def test_cli_json_lines_and_report(tmp_path, capsys, one_torch_thread):
    ckpt = tmp_path / "planted.safetensors"
    explorer.save(planted_spike_model(), ckpt)
    out = tmp_path / "report"
    assert main(["diagnose", str(ckpt), "--seeds", "4", "--checks", "droplets,noise,w_space", "--json",
                 "--out", str(out), "--device", "cpu"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["check"] for r in lines] == ["droplets", "noise", "w_space"]
    for r in lines:
        assert {"check", "severity", "layer", "value", "message", "fix"} <= set(r)
        assert r["severity"] in ("ok", "note", "warn")
        assert (out / r["picture"]).is_file()
    assert lines[0]["severity"] == "warn" and lines[0]["layer"] == PLANTED_LAYER
    assert isinstance(lines[0]["value"], float) and math.isfinite(lines[0]["value"])
    assert "droplets.png" in (out / "report.html").read_text()
    # A second run into the same folder needs --force.
    assert main(["diagnose", str(ckpt), "--seeds", "4", "--checks", "droplets", "--out", str(out)]) == 1
    assert "--force" in capsys.readouterr().err


def test_cli_summary_on_a_run_folder(tmp_path, capsys):
    run = write_run(tmp_path / "run", blow_up=True, ticks=6)
    assert main(["diagnose", str(run.path)]) == 0
    out = capsys.readouterr().out
    assert "[WARN] training" in out and "blow up" in out and "fix:" in out


@pytest.mark.parametrize("argv, message", [
    (["diagnose", "/nonexistent/model.pkl"], "no such file"),
    (["diagnose", "{tmp}"], "not a training run"),
    (["diagnose", "{tmp}", "--checks", "sparkle"], "unknown check"),
])
def test_cli_bad_input_is_one_line(tmp_path, capsys, argv, message):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    assert main(argv) == 1
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


FIXTURE_NAMES = sorted(p.name for p in FIXTURES_DIR.iterdir() if (p / "config.json").is_file()) \
    if FIXTURES_DIR.is_dir() else []


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_cli_json_on_every_fixture(name, tmp_path, capsys, one_torch_thread):
    """Every model check runs on every reference fixture (conditional, resnet, rosinality, SG3),
    loaded from the file a user would have, and prints one well-formed JSON object per check."""
    from tests.test_fixture_checkpoints import checkpoint_for
    ckpt = checkpoint_for(FIXTURES_DIR / name, tmp_path)
    assert main(["diagnose", str(ckpt), "--seeds", "2", "--json", "--device", "cpu"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["check"] for r in lines] == ["droplets", "sticking", "noise", "w_space", "diversity"]
    noise = next(r for r in lines if r["check"] == "noise")
    assert (noise["severity"] == "skip") == name.startswith("sg3")  # StyleGAN3 has no noise inputs to judge
    for r in lines:  # two seeds are too few to judge diversity: that check says it was skipped
        assert r["severity"] == ("skip" if r["check"] == "diversity" else r["severity"])
        assert r["severity"] in ("skip", "ok", "note", "warn") and r["message"]
        assert r["value"] is None or math.isfinite(r["value"])


def test_one_seed_leaves_picture_diversity_unmeasured_not_zero(one_torch_thread):
    seen = []
    f = by_check(diagnose_model(tiny_model(), seeds=1, checks=("w_space",), report=seen.append))["w_space"]
    assert f.severity == "ok" and "not measured (it needs at least 2 seeds)" in f.message
    assert f.numbers["diversity_by_psi"] == {}
    assert seen[-1].step == seen[-1].total  # the progress total counts no diversity renders


def test_the_training_check_alone_on_a_model_file_says_it_needs_a_run_folder(tmp_path):
    path = tmp_path / "model.safetensors"
    explorer.save(tiny_model(), path)
    with pytest.raises(InputError, match="reads a training run folder"):
        diagnose(path, checks=("training",), device="cpu")


def test_chart_labels_keep_the_end_of_a_layer_name():
    from PIL import Image, ImageDraw

    from explorer.diagnose.pictures import _fit
    draw = ImageDraw.Draw(Image.new("RGBA", (10, 10)))
    assert _fit(draw, "b16.conv0", 1000) == "b16.conv0"
    short = _fit(draw, "b128.conv1", draw.textlength("b128.conv1") - 1)
    assert short.startswith("~") and short.endswith("conv1") and draw.textlength(short) < draw.textlength("b128.conv1")


def test_seed_share_of_few_seeds_reads_as_many_seeds(one_torch_thread):
    """The seed share of 4 seeds, averaged over many draws, equals that of all 32: without Bessel's
    correction it read 3/4 of it, and 4 seeds of the shipped model said 'mode collapse' (0.41 vs 0.59)."""
    from explorer.diagnose.diversity import SHARE_TAPS, lite0_features, seed_share
    from explorer.project.losses.efficientnet_lite0 import load_efficientnet_lite0
    net = load_efficientnet_lite0(torch.device("cpu"))
    _, pooled, taps = lite0_features(tiny_model(), list(range(32)), net, StepCounter(10**6))
    assert pooled.shape[0] == 32 and all(taps[t].shape[0] == 32 for t in SHARE_TAPS)
    full = np.mean([seed_share(taps[t]) for t in SHARE_TAPS])
    rng = np.random.default_rng(0)
    few = [np.mean([seed_share(taps[t][idx]) for t in SHARE_TAPS])
           for idx in (rng.choice(32, 4, replace=False) for _ in range(200))]
    assert 0.3 < full < 1.1
    assert np.mean(few) == pytest.approx(full, abs=0.05)


def test_too_few_seeds_for_diversity_is_skipped_not_a_note_and_the_cli_agrees(tmp_path, capsys, one_torch_thread):
    """Below MIN_SEEDS diversity gives no verdict (no renders, no warning); from it, a verdict."""
    from explorer.diagnose.diversity import MIN_SEEDS
    assert MIN_SEEDS == 16
    seen = []
    f = diagnose_model(tiny_model(), seeds=4, checks=("diversity",), report=seen.append)[0]
    assert f.severity == "skip" and f.value is None and not f.fix and f.picture is None
    assert f.message.startswith("too few seeds to judge diversity (4 here)") and "16 seeds" in f.message
    assert f.numbers == {"samples": 4, "min_samples": 16}
    assert not seen  # nothing rendered for it
    ckpt = tmp_path / "tiny.safetensors"
    explorer.save(tiny_model(), ckpt)
    assert main(["diagnose", str(ckpt), "--seeds", "4", "--checks", "diversity", "--json", "--device", "cpu"]) == 0
    line = json.loads(capsys.readouterr().out)
    assert (line["severity"], line["value"], line["message"]) == ("skip", None, f.message)
    judged = diagnose_model(tiny_model(), seeds=MIN_SEEDS, checks=("diversity",))[0]
    assert judged.severity in ("ok", "note", "warn") and judged.value is not None
    assert judged.numbers["samples"] == MIN_SEEDS and judged.picture is not None


def test_one_spike_rule_for_the_doctor_and_the_layers_table():
    """A high spike is a droplet sign only where it also stands out from the typical layer's."""
    from explorer.diagnose.findings import spike_severity
    assert spike_severity(16.9, 10.0) == "note"  # 1.7x: the shipped model's b16.conv0
    assert spike_severity(25.0, 10.0) == "warn"
    assert spike_severity(11.0, 10.0) == "ok"  # the highest of the table, but ordinary
    assert spike_severity(8.0, 2.0) == "ok"  # stands out, but a small spike
    assert spike_severity(5.0, 0.0) == "ok"


def test_noise_percentages_either_side_of_the_idle_line_never_print_the_same() -> None:
    from explorer.diagnose.noise import NOTHING, _percent
    assert _percent(NOTHING * 1.1) != _percent(NOTHING * 0.9)  # 0.11 % vs 0.09 %, not 0.1 % twice
    assert _percent(0.25) == "25.0%"


def test_the_diversity_headline_names_what_triggered_it() -> None:
    from explorer.diagnose.diversity import NOTE_SHARE, WARN_SHARE, diversity_verdict
    assert diversity_verdict(NOTE_SHARE + 0.05, 0, 32) == ("ok", "the samples are diverse")
    assert diversity_verdict(NOTE_SHARE - 0.01, 0, 32) == ("note", "diversity is on the low side")
    severity, headline = diversity_verdict(NOTE_SHARE + 0.05, 3, 32)  # the shipped model: 0.62, 3 of 32
    assert severity == "note" and "near-duplicates" in headline and "low" not in headline
    assert diversity_verdict(WARN_SHARE - 0.01, 0, 32)[0] == diversity_verdict(0.9, 8, 32)[0] == "warn"
