"""The tune pipeline: votes → a query adapter on top of the production encoder → a new model version."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
