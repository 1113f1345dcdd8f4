"""Wiring of the see pipeline: detect objects and read text in every ingested image."""

from kedro.pipeline import Node, Pipeline

from .nodes import see_images


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                see_images,
                ["images", "image_sightings_previous", "params:see", "params:ingest"],
                "image_sightings",
                name="see_images",
            )
        ]
    )
