"""Turn (architecture, constructor kwargs, state dict) into a live network, with readable errors.

Every reader ends here, so a checkpoint whose tensors do not fit the network its settings
describe is reported the same way whatever the file format was. The settings are checked
against sane bounds first, then the shapes they imply are compared with the file's tensors
(`settings_fit`, nothing built); only a checkpoint that fits is built. So settings that would
make a huge network fail in milliseconds, not after gigabytes.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

import torch

from explorer.checkpoints.settings_check import check_discriminator_settings, check_generator_settings
from explorer.checkpoints.settings_fit import Shapes, check_fits, discriminator_shapes, generator_shapes
from explorer.errors import CheckpointError
from explorer.nets import build_discriminator, build_generator

# Buffers every constructor derives from its kwargs; a reader may leave them out.
_DERIVED_BUFFER_SUFFIXES = ("resample_filter", "up_filter", "down_filter")


def generator_from_state(architecture: str, kwargs: dict[str, Any],
                         state: Mapping[str, torch.Tensor],
                         allow_derived_missing: bool = False) -> torch.nn.Module:
    """Build a generator of `architecture` from `kwargs` and load `state` into it."""
    check_generator_settings(architecture, kwargs)
    return _build_checked(lambda: generator_shapes(architecture, kwargs),
                          lambda: build_generator(architecture, kwargs), state, "generator",
                          allow_derived_missing)


def discriminator_from_state(kwargs: dict[str, Any], state: Mapping[str, torch.Tensor],
                             allow_derived_missing: bool = False) -> torch.nn.Module:
    """Build a StyleGAN2 discriminator from `kwargs` and load `state` into it."""
    check_discriminator_settings(kwargs)
    return _build_checked(lambda: discriminator_shapes(kwargs), lambda: build_discriminator(kwargs),
                          state, "discriminator", allow_derived_missing)


def _build_checked(shapes: Callable[[], Shapes], build: Callable[[], torch.nn.Module],
                   state: Mapping[str, torch.Tensor], what: str, allow_derived_missing: bool) -> torch.nn.Module:
    """Compare the shapes the settings imply with the file's, then build and load for real."""
    try:
        check_fits(shapes(), state, what)
        net = build()
    except (TypeError, ValueError, KeyError, AssertionError, ZeroDivisionError, OverflowError) as e:
        raise CheckpointError(f"unsupported {what} settings in the checkpoint: {_first_line(e)}") from e
    load_weights(net, state, what, allow_derived_missing)
    return net


def check_weights(shapes: Mapping[str, tuple[int, ...]], state: Mapping[str, torch.Tensor], what: str,
                  allow_derived_missing: bool = False) -> None:
    """Refuse a state with missing, unexpected or mis-shaped tensors for a net of `shapes`."""
    missing = [k for k in shapes if k not in state
               and not (allow_derived_missing and k.endswith(_DERIVED_BUFFER_SUFFIXES))]
    unexpected = [k for k in state if k not in shapes]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing {_few(missing)}")
        if unexpected:
            parts.append(f"unexpected {_few(unexpected)}")
        raise CheckpointError(f"the {what} weights do not match its settings: {'; '.join(parts)}")
    for name, tensor in state.items():
        if tuple(tensor.shape) != tuple(shapes[name]):
            raise CheckpointError(f"the {what} tensor {name} has shape {list(tensor.shape)} but "
                                  f"its settings imply {list(shapes[name])}")


def load_weights(net: torch.nn.Module, state: Mapping[str, torch.Tensor], what: str,
                 allow_derived_missing: bool = False) -> None:
    """Copy `state` into `net`, refusing missing, unexpected or mis-shaped tensors."""
    own = net.state_dict()
    check_weights({k: tuple(v.shape) for k, v in own.items()}, state, what, allow_derived_missing)
    with torch.no_grad():
        for name, tensor in state.items():
            own[name].copy_(tensor.to(own[name].dtype))


def _few(names: list[str], limit: int = 3) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _first_line(e: BaseException) -> str:
    lines = str(e).strip().splitlines()
    return lines[0] if lines else type(e).__name__
