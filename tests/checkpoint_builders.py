"""Write real-structure checkpoint files from a fixture folder (config.json + state.npz).

The reference fixtures ship weights as plain arrays; these builders turn them into the files
users actually have, so the loaders are tested on the genuine byte-level formats:

* `write_nvidia_pickle`: an NVIDIA training snapshot whose networks are persistence records
  (`torch_utils.persistence._reconstruct_persistent_obj(meta)`), nested like the real modules;
* `write_rosinality_checkpoint`: a rosinality `torch.save` dict (convert_weight.py style, or
  train.py style with an `argparse.Namespace` and no latent_avg);
* `write_tf_pickle`: a TF-era `(G, D, Gs)` tuple of `dnnlib.tflib.network.Network` objects.

The pickles reference NVIDIA's module paths, which do not exist here; `_fake_modules`
installs stand-ins in `sys.modules` only while pickling.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import pickle
import sys
import tempfile
import types
from collections import OrderedDict
from pathlib import Path
from typing import Any, Iterator, Mapping

import numpy as np
import torch

NVIDIA_FORMATS = ("nvidia-stylegan2-ada-pytorch", "nvidia-stylegan3-repo")
ROSINALITY_FORMAT = "rosinality-stylegan2-pytorch"

# Names NVIDIA registers as buffers; everything else in a state dict is a parameter.
_BUFFER_NAMES = {"w_avg", "noise_const", "resample_filter", "up_filter", "down_filter",
                 "magnitude_ema", "transform", "freqs", "phases"}
_CLASS_NAMES = {"": "Generator", "mapping": "MappingNetwork", "synthesis": "SynthesisNetwork",
                "input": "SynthesisInput", "affine": "FullyConnectedLayer", "torgb": "ToRGBLayer",
                "skip": "Conv2dLayer", "embed": "FullyConnectedLayer"}


def read_config(fixture_dir: Path) -> dict[str, Any]:
    return json.loads((Path(fixture_dir) / "config.json").read_text())


def read_state(fixture_dir: Path) -> dict[str, torch.Tensor]:
    with np.load(Path(fixture_dir) / "state.npz") as data:
        return {k: torch.from_numpy(data[k].copy()) for k in data.files}


def marker_path(fixture_dir: Path) -> Path:
    """Where our builders' module_src would write if anyone executed it."""
    return Path(tempfile.gettempdir()) / f"MODULE_SRC_EXECUTED_builder_{Path(fixture_dir).name}"


def marker_source(marker: Path) -> str:
    """A module_src that leaves a file behind when executed: proof that a loader ran it."""
    return f"import pathlib\npathlib.Path({str(marker)!r}).write_text('module_src was executed')\n"


# --------------------------------------------------------------------------- pickling helpers

class NvidiaRecord:
    """A network as NVIDIA's persistence pickles it: a call with one `meta` dict."""

    def __init__(self, meta: dict[str, Any]) -> None:
        self.meta = meta


class TFNetwork:
    """Pickles like TF's Network: NEWOBJ of `dnnlib.tflib.network.Network` plus a state dict."""

    def __init__(self, **state: Any) -> None:
        self.__dict__.update(state)


class _EasyDict(dict):
    pass


def _reconstruct_persistent_obj(meta: dict[str, Any]) -> Any:  # only its name is pickled
    raise AssertionError("builders never unpickle")


@contextlib.contextmanager
def _fake_modules() -> Iterator[None]:
    """Publish stand-ins under NVIDIA's module paths so pickle can name them, then remove them."""
    modules = {name: types.ModuleType(name) for name in
               ("torch_utils", "torch_utils.persistence", "dnnlib", "dnnlib.util", "dnnlib.tflib",
                "dnnlib.tflib.network")}
    placements = [("torch_utils.persistence", "_reconstruct_persistent_obj", _reconstruct_persistent_obj),
                  ("dnnlib.util", "EasyDict", _EasyDict), ("dnnlib.tflib.network", "Network", TFNetwork)]
    originals = {}
    for module_name, attr, obj in placements:
        setattr(modules[module_name], attr, obj)
        originals[obj] = (obj.__module__, obj.__qualname__)
        obj.__module__, obj.__qualname__ = module_name, attr
    saved = {name: sys.modules.get(name) for name in modules}
    sys.modules.update(modules)
    try:
        yield
    finally:
        for name, old in saved.items():
            if old is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = old
        for obj, (module_name, qualname) in originals.items():
            obj.__module__, obj.__qualname__ = module_name, qualname


class _RecordPickler(pickle.Pickler):
    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, NvidiaRecord):
            return _reconstruct_persistent_obj, (obj.meta,)
        return NotImplemented


def _dump(obj: Any, out_path: Path) -> Path:
    out_path = Path(out_path)
    with _fake_modules(), open(out_path, "wb") as f:
        _RecordPickler(f, protocol=pickle.HIGHEST_PROTOCOL).dump(obj)
    return out_path


def _easydicts(value: Any) -> Any:
    """Nested kwargs dicts become EasyDicts, as train.py writes them."""
    if isinstance(value, dict):
        return _EasyDict({k: _easydicts(v) for k, v in value.items()})
    return value


# --------------------------------------------------------------------------- NVIDIA pickles

def nvidia_record(state: Mapping[str, torch.Tensor], init_kwargs: dict[str, Any],
                  module_src: str, class_name: str = "Generator") -> NvidiaRecord:
    """A persistence-record tree with one record per dotted-name prefix, like real modules."""
    tree: dict[str, Any] = {}
    for name, tensor in state.items():
        *path, leaf = name.split(".")
        node = tree
        for part in path:
            node = node.setdefault(part, {})
        node[leaf] = tensor
    return _record_from_tree(tree, "", module_src, init_kwargs, class_name)


def _record_from_tree(tree: dict[str, Any], name: str, module_src: str,
                      init_kwargs: dict[str, Any], class_name: str) -> NvidiaRecord:
    params: dict[str, Any] = OrderedDict()
    buffers: dict[str, Any] = OrderedDict()
    modules: dict[str, Any] = OrderedDict()
    for key, value in tree.items():
        if isinstance(value, dict):
            modules[key] = _record_from_tree(value, key, module_src, {}, "")
        elif key in _BUFFER_NAMES:
            buffers[key] = value.clone()
        else:
            params[key] = torch.nn.Parameter(value.clone(), requires_grad=False)
    state = {
        "training": False, "_parameters": params, "_buffers": buffers,
        "_non_persistent_buffers_set": set(), "_forward_hooks": OrderedDict(),
        "_modules": modules, "weight_gain": np.float64(1.0),
        "_init_args": (), "_init_kwargs": {k: _easydicts(v) for k, v in init_kwargs.items()},
    }
    resolved = class_name or _CLASS_NAMES.get(name, "SynthesisBlock" if name[:1] == "b" else "SynthesisLayer")
    return NvidiaRecord({"type": "class", "version": 6, "module_src": module_src,
                    "class_name": resolved, "state": state})


def write_nvidia_pickle(fixture_dir: Path, out_path: Path, marker: Path | None = None) -> Path:
    """A training snapshot {G, G_ema, augment_pipe, training_set_kwargs} from the fixture.

    G holds perturbed weights, so a loader that picks G instead of G_ema fails the comparison.
    """
    config = read_config(fixture_dir)
    state = read_state(fixture_dir)
    src = marker_source(marker or marker_path(fixture_dir))
    g_state = {k: (v + 0.5 if v.is_floating_point() and v.ndim > 0 else v) for k, v in state.items()}
    snapshot = {
        "G": nvidia_record(g_state, config["init_kwargs"], src),
        "G_ema": nvidia_record(state, config["init_kwargs"], src),
        "augment_pipe": None,
        "training_set_kwargs": _easydicts({"class_name": "training.dataset.ImageFolderDataset",
                                           "path": "datasets/example.zip", "use_labels": False,
                                           "max_size": 10, "xflip": False,
                                           "resolution": config["init_kwargs"]["img_resolution"]}),
    }
    return _dump(snapshot, out_path)


def write_pickle_of(obj: Any, out_path: Path) -> Path:
    """Pickle any object built from `nvidia_record`s and plain data (for malicious-file tests)."""
    return _dump(obj, out_path)


# --------------------------------------------------------------------------- rosinality

def nvidia_to_rosinality(state: Mapping[str, torch.Tensor], img_resolution: int
                         ) -> dict[str, torch.Tensor]:
    """The inverse of FORMATS.md §4: an NVIDIA SG2 (skip) state dict in rosinality's names."""
    out: dict[str, torch.Tensor] = {}
    i = 0
    while f"mapping.fc{i}.weight" in state:
        out[f"style.{i + 1}.weight"] = state[f"mapping.fc{i}.weight"]
        out[f"style.{i + 1}.bias"] = state[f"mapping.fc{i}.bias"]
        i += 1
    out["input.input"] = state["synthesis.b4.const"][None]
    blur = torch.tensor([1.0, 3.0, 3.0, 1.0])
    kernel = torch.outer(blur, blur) / 16.0
    _conv_to_rosinality(state, out, "synthesis.b4.conv1", "conv1", "noises.noise_0")
    _rgb_to_rosinality(state, out, "synthesis.b4.torgb", "to_rgb1")
    res, j = 8, 0
    while res <= img_resolution:
        block = f"synthesis.b{res}"
        _conv_to_rosinality(state, out, f"{block}.conv0", f"convs.{2 * j}", f"noises.noise_{2 * j + 1}")
        out[f"convs.{2 * j}.conv.blur.kernel"] = kernel * 4
        _conv_to_rosinality(state, out, f"{block}.conv1", f"convs.{2 * j + 1}", f"noises.noise_{2 * j + 2}")
        _rgb_to_rosinality(state, out, f"{block}.torgb", f"to_rgbs.{j}")
        out[f"to_rgbs.{j}.upsample.kernel"] = kernel * 4
        res, j = res * 2, j + 1
    return out


def _conv_to_rosinality(state: Mapping[str, torch.Tensor], out: dict[str, torch.Tensor],
                        src: str, dst: str, noise: str) -> None:
    out[f"{dst}.conv.weight"] = state[f"{src}.weight"][None]
    out[f"{dst}.conv.modulation.weight"] = state[f"{src}.affine.weight"]
    out[f"{dst}.conv.modulation.bias"] = state[f"{src}.affine.bias"]
    out[f"{dst}.noise.weight"] = state[f"{src}.noise_strength"].reshape(1)
    out[f"{dst}.activate.bias"] = state[f"{src}.bias"]
    out[noise] = state[f"{src}.noise_const"][None, None]


def _rgb_to_rosinality(state: Mapping[str, torch.Tensor], out: dict[str, torch.Tensor],
                       src: str, dst: str) -> None:
    out[f"{dst}.conv.weight"] = state[f"{src}.weight"][None]
    out[f"{dst}.conv.modulation.weight"] = state[f"{src}.affine.weight"]
    out[f"{dst}.conv.modulation.bias"] = state[f"{src}.affine.bias"]
    out[f"{dst}.bias"] = state[f"{src}.bias"].reshape(1, -1, 1, 1)


def nvidia_d_to_rosinality(state: Mapping[str, torch.Tensor], img_resolution: int
                           ) -> dict[str, torch.Tensor]:
    """An NVIDIA resnet discriminator state dict in rosinality's Discriminator names."""
    blur = torch.tensor([1.0, 3.0, 3.0, 1.0])
    kernel = torch.outer(blur, blur) / 16.0
    top = f"b{img_resolution}"
    out = {"convs.0.0.weight": state[f"{top}.fromrgb.weight"], "convs.0.1.bias": state[f"{top}.fromrgb.bias"]}
    res, k = img_resolution, 1
    while res > 4:
        src, dst = f"b{res}", f"convs.{k}"
        out[f"{dst}.conv1.0.weight"] = state[f"{src}.conv0.weight"]
        out[f"{dst}.conv1.1.bias"] = state[f"{src}.conv0.bias"]
        out[f"{dst}.conv2.0.kernel"] = kernel
        out[f"{dst}.conv2.1.weight"] = state[f"{src}.conv1.weight"]
        out[f"{dst}.conv2.2.bias"] = state[f"{src}.conv1.bias"]
        out[f"{dst}.skip.0.kernel"] = kernel
        out[f"{dst}.skip.1.weight"] = state[f"{src}.skip.weight"]
        res, k = res // 2, k + 1
    out.update({"final_conv.0.weight": state["b4.conv.weight"], "final_conv.1.bias": state["b4.conv.bias"],
                "final_linear.0.weight": state["b4.fc.weight"], "final_linear.0.bias": state["b4.fc.bias"],
                "final_linear.1.weight": state["b4.out.weight"], "final_linear.1.bias": state["b4.out.bias"]})
    return out


def has_rosinality_equivalent(fixture_dir: str | Path) -> bool:
    """rosinality's generator is StyleGAN2 with the skip architecture, no classes and z_dim == w_dim."""
    config = read_config(fixture_dir)
    if config["format"] == ROSINALITY_FORMAT:
        return True
    kwargs = config["init_kwargs"]
    synthesis = {**kwargs, **kwargs.get("synthesis_kwargs", {})}
    return (config["format"] in NVIDIA_FORMATS and "synthesis.b4.const" in read_state(fixture_dir)
            and synthesis.get("architecture", "skip") == "skip" and kwargs.get("c_dim", 0) == 0
            and kwargs["z_dim"] == kwargs["w_dim"])


def rosinality_generator_state(fixture_dir: Path) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """(g_ema state dict in rosinality names, latent_avg) for a rosinality or NVIDIA SG2 fixture."""
    config = read_config(fixture_dir)
    state = read_state(fixture_dir)
    if config["format"] == ROSINALITY_FORMAT:
        with np.load(Path(fixture_dir) / "expected.npz") as expected:
            latent_avg = torch.from_numpy(expected["truncation_latent"].copy())
        return state, latent_avg
    kwargs = config["init_kwargs"]
    if not has_rosinality_equivalent(fixture_dir):
        raise ValueError(f"{Path(fixture_dir).name} has no rosinality equivalent")
    return nvidia_to_rosinality(state, kwargs["img_resolution"]), state["mapping.w_avg"]


def write_rosinality_checkpoint(fixture_dir: Path, out_path: Path, training: bool = False,
                                d_state: Mapping[str, torch.Tensor] | None = None,
                                legacy_format: bool = False) -> Path:
    """A rosinality `torch.save` dict for the fixture.

    Default: convert_weight.py's {'g_ema', 'latent_avg'}. training=True: train.py's
    {'g', 'd', 'g_ema', 'g_optim', 'd_optim', 'args', 'ada_aug_p'}, which has no latent_avg;
    `d_state` (rosinality names) fills 'd' there.
    """
    g_ema, latent_avg = rosinality_generator_state(fixture_dir)
    if training:
        kwargs = read_config(fixture_dir)["init_kwargs"]
        size = kwargs.get("size", kwargs.get("img_resolution"))
        checkpoint: dict[str, Any] = {
            "g": {k: v + 0.25 for k, v in g_ema.items()}, "g_ema": g_ema,
            "g_optim": {"state": {}, "param_groups": [{"lr": 0.002, "params": [0, 1]}]},
            "d_optim": {"state": {}, "param_groups": [{"lr": 0.002, "params": [0, 1]}]},
            "args": argparse.Namespace(size=size, batch=4, iter=800000, n_sample=64, r1=10.0,
                                       path="lmdb/", channel_multiplier=2, augment=False),
            "ada_aug_p": 0.0,
        }
        if d_state is not None:
            checkpoint["d"] = dict(d_state)
    else:
        checkpoint = {"g_ema": g_ema, "latent_avg": latent_avg}
    torch.save(checkpoint, out_path, _use_new_zipfile_serialization=not legacy_format)
    return Path(out_path)


# --------------------------------------------------------------------------- TF-era pickles

def _hwio(weight: torch.Tensor, flip: bool = False) -> np.ndarray:
    array = weight.numpy().transpose(2, 3, 1, 0)
    return np.ascontiguousarray(array[::-1, ::-1] if flip else array)


def _io(weight: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray(weight.numpy().T)


def tf_generator_variables(state: Mapping[str, torch.Tensor], kwargs: dict[str, Any]
                           ) -> dict[str, list[tuple[str, np.ndarray]]]:
    """TF variables per component ('' for Gs itself) for an NVIDIA SG2 generator state dict."""
    synthesis = {**kwargs, **kwargs.get("synthesis_kwargs", {})}
    architecture = synthesis.get("architecture", "skip")
    mapping: list[tuple[str, np.ndarray]] = []
    i = 0
    while f"mapping.fc{i}.weight" in state:
        mapping += [(f"Dense{i}/weight", _io(state[f"mapping.fc{i}.weight"])),
                    (f"Dense{i}/bias", state[f"mapping.fc{i}.bias"].numpy())]
        i += 1
    if "mapping.embed.weight" in state:
        mapping += [("LabelEmbed/weight", _io(state["mapping.embed.weight"])),
                    ("LabelEmbed/bias", state["mapping.embed.bias"].numpy())]
    synth: list[tuple[str, np.ndarray]] = [("4x4/Const/const", state["synthesis.b4.const"][None].numpy())]
    noise_index = 0

    def modulated(src: str, scope: str, flip: bool = False) -> None:
        nonlocal noise_index
        synth.extend([(f"{scope}/weight", _hwio(state[f"{src}.weight"], flip)),
                      (f"{scope}/bias", state[f"{src}.bias"].numpy()),
                      (f"{scope}/noise_strength", state[f"{src}.noise_strength"].numpy()),
                      (f"{scope}/mod_weight", _io(state[f"{src}.affine.weight"])),
                      (f"{scope}/mod_bias", state[f"{src}.affine.bias"].numpy() - 1),
                      (f"noise{noise_index}", state[f"{src}.noise_const"][None, None].numpy())])
        noise_index += 1

    res = 4
    while f"synthesis.b{res}.conv1.weight" in state:
        block = f"synthesis.b{res}"
        if res == 4:
            modulated(f"{block}.conv1", "4x4/Conv")
        else:
            modulated(f"{block}.conv0", f"{res}x{res}/Conv0_up", flip=True)
            modulated(f"{block}.conv1", f"{res}x{res}/Conv1")
            if architecture == "resnet":
                synth.append((f"{res}x{res}/Skip/weight", _hwio(state[f"{block}.skip.weight"], flip=True)))
        if f"{block}.torgb.weight" in state:
            synth.extend([(f"{res}x{res}/ToRGB/weight", _hwio(state[f"{block}.torgb.weight"])),
                          (f"{res}x{res}/ToRGB/bias", state[f"{block}.torgb.bias"].numpy()),
                          (f"{res}x{res}/ToRGB/mod_weight", _io(state[f"{block}.torgb.affine.weight"])),
                          (f"{res}x{res}/ToRGB/mod_bias", state[f"{block}.torgb.affine.bias"].numpy() - 1)])
        res *= 2
    synth.append(("lod", np.float32(0.0)))
    return {"": [("dlatent_avg", state["mapping.w_avg"].numpy())], "mapping": mapping, "synthesis": synth}


def tf_discriminator_variables(state: Mapping[str, torch.Tensor]) -> list[tuple[str, np.ndarray]]:
    """TF variables for an NVIDIA (resnet, unconditional) discriminator state dict."""
    out: list[tuple[str, np.ndarray]] = []
    for name, tensor in state.items():
        parts = name.split(".")
        if parts[-1] not in ("weight", "bias") or parts[0] == "mapping":
            continue
        res = int(parts[0][1:])
        layer = {"fromrgb": "FromRGB", "conv0": "Conv0", "conv1": "Conv1_down", "skip": "Skip",
                 "conv": "Conv", "fc": "Dense0", "out": "Output"}[parts[1]]
        scope = "Output" if layer == "Output" else f"{res}x{res}/{layer}"
        value = _io(tensor) if tensor.ndim == 2 else (_hwio(tensor) if tensor.ndim == 4 else tensor.numpy())
        out.append((f"{scope}/{parts[-1]}", value))
    return out


def write_tf_pickle(fixture_dir: Path, out_path: Path, d_state: Mapping[str, torch.Tensor] | None = None,
                    d_kwargs: Mapping[str, Any] | None = None, marker: Path | None = None) -> Path:
    """A TF-era (G, D, Gs) pickle for an unconditional NVIDIA SG2 fixture (D optional)."""
    config = read_config(fixture_dir)
    kwargs = config["init_kwargs"]
    state = read_state(fixture_dir)
    if "synthesis.b4.const" not in state:
        raise ValueError(f"{Path(fixture_dir).name} is not a StyleGAN2 generator")
    synthesis = {**kwargs, **kwargs.get("synthesis_kwargs", {})}
    static = {"latent_size": kwargs["z_dim"], "dlatent_size": kwargs["w_dim"],
              "label_size": kwargs.get("c_dim", 0), "resolution": kwargs["img_resolution"],
              "num_channels": kwargs.get("img_channels", 3),
              "mapping_layers": kwargs.get("mapping_kwargs", {}).get("num_layers", 8),
              "fmap_base": synthesis.get("channel_base", 32768) // 2,
              "fmap_max": synthesis.get("channel_max", 512),
              "architecture": synthesis.get("architecture", "skip"),
              "conv_clamp": synthesis.get("conv_clamp", 256 if "synthesis_kwargs" not in kwargs else None),
              "num_fp16_res": synthesis.get("num_fp16_res", 0), "truncation_psi": 0.5}
    src = marker_source(marker or marker_path(fixture_dir))

    def generator(name: str) -> TFNetwork:
        variables = tf_generator_variables(state, kwargs)
        components = {comp: TFNetwork(version=4, name=f"G_{comp}", static_kwargs={},
                                       components={}, variables=variables[comp],
                                       build_module_src=src, build_func_name=f"G_{comp}")
                      for comp in ("mapping", "synthesis")}
        return TFNetwork(version=4, name=name, static_kwargs=dict(static), components=components,
                          variables=variables[""], build_module_src=src, build_func_name="G_main")

    d_static = {}
    d_vars: list[tuple[str, np.ndarray]] = []
    if d_state is not None:
        dk = dict(d_kwargs or {})
        d_static = {"resolution": dk["img_resolution"], "num_channels": dk.get("img_channels", 3),
                    "label_size": dk.get("c_dim", 0), "fmap_base": dk.get("channel_base", 32768) // 2,
                    "fmap_max": dk.get("channel_max", 512), "architecture": dk.get("architecture", "resnet"),
                    "mbstd_group_size": dk.get("epilogue_kwargs", {}).get("mbstd_group_size", 4),
                    "conv_clamp": dk.get("conv_clamp"), "num_fp16_res": dk.get("num_fp16_res", 0)}
        d_vars = tf_discriminator_variables(d_state)
    d = TFNetwork(version=4, name="D", static_kwargs=d_static, components={}, variables=d_vars,
                   build_module_src=src, build_func_name="D_stylegan2")
    return _dump((generator("G"), d, generator("Gs")), out_path)


# --------------------------------------------------------------------------- the user's file

def user_checkpoint(fixture_dir: Path, out_dir: Path) -> Path:
    """The file a user would have for this fixture: the one shipped in the folder (NVIDIA's
    network-snapshot.pkl, rosinality's checkpoint.pt), else one built from state.npz into
    `out_dir`. ValueError for a fixture format no builder writes."""
    fixture_dir, fmt = Path(fixture_dir), read_config(fixture_dir)["format"]
    if fmt in NVIDIA_FORMATS:
        shipped = fixture_dir / "network-snapshot.pkl"
        return shipped if shipped.is_file() else write_nvidia_pickle(fixture_dir, out_dir / "snapshot.pkl")
    if fmt == ROSINALITY_FORMAT:
        shipped = fixture_dir / "checkpoint.pt"
        return shipped if shipped.is_file() else write_rosinality_checkpoint(fixture_dir, out_dir / "checkpoint.pt")
    raise ValueError(f"no checkpoint builder for fixture format {fmt!r}")
