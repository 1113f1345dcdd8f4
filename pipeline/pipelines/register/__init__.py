"""Register: MLflow model version + aliases."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
