"""Turn (architecture, constructor kwargs, state dict) into a live network, with readable errors.

Every reader ends here, so a checkpoint whose tensors do not fit the network its settings
describe is reported the same way whatever the file format was.
"""

from __future__ import annotations

from typing import Any, Mapping

import torch

from explorer.errors import CheckpointError
from explorer.nets import build_discriminator, build_generator

# Buffers every constructor derives from its kwargs; a reader may leave them out.
_DERIVED_BUFFER_SUFFIXES = ("resample_filter", "up_filter", "down_filter")


def generator_from_state(architecture: str, kwargs: dict[str, Any],
                         state: Mapping[str, torch.Tensor],
                         allow_derived_missing: bool = False) -> torch.nn.Module:
    """Build a generator of `architecture` from `kwargs` and load `state` into it."""
    try:
        net = build_generator(architecture, kwargs)
    except (TypeError, ValueError, KeyError, AssertionError) as e:
        raise CheckpointError(f"unsupported generator settings in the checkpoint: {e}") from e
    load_weights(net, state, "generator", allow_derived_missing)
    return net


def discriminator_from_state(kwargs: dict[str, Any], state: Mapping[str, torch.Tensor],
                             allow_derived_missing: bool = False) -> torch.nn.Module:
    """Build a StyleGAN2 discriminator from `kwargs` and load `state` into it."""
    try:
        net = build_discriminator(kwargs)
    except (TypeError, ValueError, KeyError, AssertionError) as e:
        raise CheckpointError(f"unsupported discriminator settings in the checkpoint: {e}") from e
    load_weights(net, state, "discriminator", allow_derived_missing)
    return net


def load_weights(net: torch.nn.Module, state: Mapping[str, torch.Tensor], what: str,
                 allow_derived_missing: bool = False) -> None:
    """Copy `state` into `net`, refusing missing, unexpected or mis-shaped tensors."""
    own = net.state_dict()
    missing = [k for k in own if k not in state
               and not (allow_derived_missing and k.endswith(_DERIVED_BUFFER_SUFFIXES))]
    unexpected = [k for k in state if k not in own]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing {_few(missing)}")
        if unexpected:
            parts.append(f"unexpected {_few(unexpected)}")
        raise CheckpointError(f"the {what} weights do not match its settings: {'; '.join(parts)}")
    for name, tensor in state.items():
        if tuple(tensor.shape) != tuple(own[name].shape):
            raise CheckpointError(f"the {what} tensor {name} has shape {list(tensor.shape)} but "
                                  f"its settings imply {list(own[name].shape)}")
    with torch.no_grad():
        for name, tensor in state.items():
            own[name].copy_(tensor.to(own[name].dtype))


def _few(names: list[str], limit: int = 3) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")
