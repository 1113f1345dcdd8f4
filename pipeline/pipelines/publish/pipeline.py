"""Wiring of the publish pipeline."""

from kedro.pipeline import Node, Pipeline

from .nodes import publish_features


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                publish_features,
                [
                    "images",
                    "image_embeddings",
                    "image_descriptions",
                    "image_sightings",
                    "publication_previous",
                    "params:publish",
                ],
                "publication",
                name="publish_features",
            )
        ]
    )
