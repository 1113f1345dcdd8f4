"""Wiring of the feedback pipeline."""

from kedro.pipeline import Node, Pipeline

from .nodes import export_feedback


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline([Node(export_feedback, "params:feedback", "feedback_export", name="export_feedback")])
