"""See: objects and people detected, and text read, in every image."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
