"""Wiring of the describe pipeline."""

from kedro.pipeline import Node, Pipeline

from .nodes import describe_images


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                describe_images,
                [
                    "images",
                    "image_embeddings",
                    "image_sightings",
                    "image_descriptions_previous",
                    "model_bundle",
                    "params:describe",
                    "params:ingest",
                ],
                "image_descriptions",
                name="describe_images",
            )
        ]
    )
