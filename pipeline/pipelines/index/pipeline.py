"""Wiring of the index pipeline."""

from kedro.pipeline import Node, Pipeline

from .nodes import build_indexes


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                build_indexes,
                [
                    "image_embeddings",
                    "image_sightings",
                    "image_descriptions",
                    "model_bundle",
                    "indexes_previous",
                    "params:index",
                ],
                ["indexes", "index_summary"],
                name="build_indexes",
            )
        ]
    )
