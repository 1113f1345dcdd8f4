"""Project pipelines, by name (``kedro run --pipeline NAME``)."""

from kedro.pipeline import Pipeline

from pipeline.pipelines import ingest


def register_pipelines() -> dict[str, Pipeline]:
    pipelines = {"ingest": ingest.create_pipeline()}
    pipelines["__default__"] = sum(pipelines.values(), Pipeline([]))
    return pipelines
