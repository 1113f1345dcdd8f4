"""Wiring of the embed pipeline: export the encoder bundle, then embed the images table."""

from kedro.pipeline import Node, Pipeline

from .nodes import embed_images, export_model


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(export_model, "params:model", "model_bundle", name="export_onnx"),
            Node(
                embed_images,
                ["images", "image_embeddings_previous", "model_bundle", "params:ingest", "params:embed"],
                "image_embeddings",
                name="embed_images",
            ),
        ]
    )
