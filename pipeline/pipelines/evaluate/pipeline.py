"""Wiring of the evaluate pipeline."""

from kedro.pipeline import Node, Pipeline

from .nodes import evaluate_model


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                evaluate_model,
                ["model_bundle", "evaluation_previous", "params:evaluate"],
                "evaluation",
                name="evaluate_model",
            )
        ]
    )
