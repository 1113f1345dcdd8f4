"""Wiring of the ingest pipeline: scan the folder, then bring the tables up to date."""

from kedro.pipeline import Node, Pipeline

from .nodes import ingest_images, scan_folder


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(scan_folder, "params:ingest", "image_listing", name="scan_folder"),
            Node(
                ingest_images,
                [
                    "image_listing",
                    "ingested_files_previous",
                    "images_previous",
                    "ingest_rejects_previous",
                    "params:ingest",
                ],
                ["ingested_files", "images", "ingest_rejects"],
                name="ingest_images",
            ),
        ]
    )
