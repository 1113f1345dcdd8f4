"""Feast definitions: entity ``image_id`` and the feature views the pipeline publishes and the server reads.

Everything is built by ``definitions(offline_dir)`` so that the data folder is a parameter; the module-level
objects at the bottom use the project's default folder, for the ``feast`` CLI.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from feast import Entity, FeatureView, Field, FileSource, ValueType
from feast.types import Array, Bytes, Float32, Int64, String

from feature_repo.schema import (
    DESCRIPTION,
    DESCRIPTION_FEATURES,
    EMBEDDING,
    INTEGER_FEATURES,
    METADATA,
    METADATA_FEATURES,
    SIGHTING_FEATURES,
    SIGHTINGS,
    THUMBNAIL,
)

PROJECT = "glimpse"
TTL = timedelta(days=3650)  # images do not expire

METADATA_FIELDS = {name: Int64 if name in INTEGER_FEATURES else String for name in METADATA_FEATURES}
DESCRIPTION_FIELDS = dict.fromkeys(DESCRIPTION_FEATURES, String)


def entities() -> tuple[Entity, Entity]:
    image = Entity(name="image", join_keys=["image_id"], value_type=ValueType.STRING, description="content hash")
    model = Entity(name="model", join_keys=["model_version"], value_type=ValueType.STRING, description="bundle version")
    return image, model


def definitions(offline_dir: Path) -> list:
    """Entities and feature views over the parquet files in ``offline_dir`` (the offline store)."""
    image, model = entities()

    def source(name: str) -> FileSource:
        return FileSource(
            name=f"{name}_source", path=str(Path(offline_dir) / f"{name}.parquet"), timestamp_field="event_timestamp"
        )

    def view(name: str, entities_: list[Entity], schema: dict, description: str) -> FeatureView:
        return FeatureView(
            name=name,
            entities=entities_,
            ttl=TTL,
            schema=[Field(name=key, dtype=value) for key, value in schema.items()],
            source=source(name),
            online=True,
            description=description,
        )

    return [
        image,
        model,
        view(METADATA, [image], METADATA_FIELDS, "what the ingest step read, plus source and licence"),
        view(THUMBNAIL, [image], {"thumbnail": Bytes}, "JPEG thumbnail, longest side ≤ 256 px"),
        view(EMBEDDING, [image, model], {"embedding": Array(Float32)}, "shared text/image space, per model version"),
        view(DESCRIPTION, [image], DESCRIPTION_FIELDS, "alt text, long description and the evidence behind them"),
        view(SIGHTINGS, [image], dict.fromkeys(SIGHTING_FEATURES, String), "objects detected and text read"),
    ]


FEEDBACK_FIELDS = {
    "feedback_id": Int64,
    "vote": Int64,
    "query_text": String,
    "query_image_id": String,
    "model_version": String,
    "rank": Int64,
    "session": String,
}


def feedback_view(folder: Path) -> FeatureView:
    """Votes on search results, exported by the feedback pipeline (parquet partitioned by day, offline only)."""
    image, _ = entities()
    return FeatureView(
        name="image_feedback",
        entities=[image],
        ttl=TTL,
        schema=[Field(name=key, dtype=value) for key, value in FEEDBACK_FIELDS.items()],
        source=FileSource(name="image_feedback_source", path=str(folder), timestamp_field="event_timestamp"),
        online=False,
        description="thumbs up (1) / down (-1) on a result: the query, the model version, its rank, the session",
    )


OFFLINE_DIR = Path(__file__).resolve().parents[1] / "data" / "07_feature_store" / "offline"
if __name__ != "__main__":  # objects for `feast apply` run from this folder
    _objects = definitions(OFFLINE_DIR)
    image_entity, model_entity, image_metadata, image_thumbnail, image_embedding, image_description, image_sightings = (
        _objects
    )
