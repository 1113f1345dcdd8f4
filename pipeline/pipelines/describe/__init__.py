"""Describe: alt text and long descriptions of every image, for screen readers and speech."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
