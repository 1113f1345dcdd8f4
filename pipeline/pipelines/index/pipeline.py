"""Wiring of the index pipeline."""

from kedro.pipeline import Node, Pipeline

from .nodes import build_indexes


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                build_indexes,
                ["image_embeddings", "model_bundle", "text_index_previous", "image_index_previous", "params:index"],
                ["text_index", "image_index", "index_summary"],
                name="build_indexes",
            )
        ]
    )
