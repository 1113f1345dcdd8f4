"""Publish: feature tables → Feast offline store (parquet) → online store (SQLite)."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
