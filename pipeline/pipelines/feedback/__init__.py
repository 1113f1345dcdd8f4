"""The feedback pipeline: votes from the server's SQLite log exported to the feature store's offline store."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
