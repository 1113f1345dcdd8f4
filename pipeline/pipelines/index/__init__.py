"""Index: Faiss indexes for text→image and image→image search."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
