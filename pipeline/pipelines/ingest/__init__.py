"""Ingest: folder of images → files, images and rejects tables."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
