"""What to render: the `LatentState` and how it becomes a W+ tensor."""

from explorer.latent.state import DirectionEdit, LatentState

__all__ = ["LatentState", "DirectionEdit"]
