"""Embed: encoder → ONNX bundle → embeddings of every ingested image."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
