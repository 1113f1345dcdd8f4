"""Wiring of the register pipeline."""

from kedro.pipeline import Node, Pipeline

from .nodes import register_model


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                register_model,
                ["model_bundle", "evaluation", "index_summary", "params:registry"],
                "registration",
                name="register_model",
            )
        ]
    )
