"""Projection (GAN inversion): find the latent that makes a generator draw a given image."""

from explorer.project.config import ProjectionConfig
from explorer.project.projector import ProjectionResult, Projector, project

__all__ = ["Projector", "ProjectionConfig", "ProjectionResult", "project"]
