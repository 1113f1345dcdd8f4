"""Project pipelines, by name (``kedro run --pipelines NAME``); the default runs them all in order."""

from kedro.pipeline import Pipeline

from pipeline.pipelines import describe, embed, evaluate, feedback, index, ingest, publish, register, see, tune


def register_pipelines() -> dict[str, Pipeline]:
    pipelines = {
        "ingest": ingest.create_pipeline(),
        "embed": embed.create_pipeline(),
        "index": index.create_pipeline(),
        "see": see.create_pipeline(),
        "describe": describe.create_pipeline(),
        "publish": publish.create_pipeline(),
        "evaluate": evaluate.create_pipeline(),
        "register": register.create_pipeline(),
    }
    pipelines["__default__"] = sum(pipelines.values(), Pipeline([]))
    # Not part of the default run: it reads the server's vote log, which a collection build does not need.
    pipelines["feedback"] = feedback.create_pipeline()
    pipelines["tune"] = feedback.create_pipeline() + tune.create_pipeline()
    return pipelines
