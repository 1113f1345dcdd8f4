"""Evaluate: Recall@K of the current model bundle."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
