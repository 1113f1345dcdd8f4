"""Wiring of the tune pipeline (run after the feedback export: ``kedro run --pipelines tune``)."""

from kedro.pipeline import Node, Pipeline

from .nodes import collect_votes, register_adapter, tune_adapter


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(collect_votes, ["feedback_export", "params:tune"], "tune_votes", name="collect_votes"),
            Node(
                tune_adapter,
                [
                    "tune_votes",
                    "image_embeddings",
                    "tune_report_previous",
                    "params:tune",
                    "params:evaluate",
                    "params:registry",
                ],
                "tune_report",
                name="tune_adapter",
            ),
            Node(
                register_adapter,
                ["tune_report", "params:tune", "params:registry"],
                "tune_registration",
                name="register_adapter",
            ),
        ]
    )
