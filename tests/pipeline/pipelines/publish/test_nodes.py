"""Publishing to a real Feast store (SQLite online store, parquet offline store) in a temp folder."""

from datetime import UTC, datetime

from pipeline.pipelines.publish.nodes import feature_tables, publish_features


def test_feature_tables_join_the_manifest(tables):
    images, embeddings, descriptions, sightings, manifest = tables
    out = feature_tables(images, embeddings, descriptions, sightings, manifest, datetime.now(UTC))
    meta = out["image_metadata"].set_index("image_id")
    assert meta.loc["a1", "licence"] == "CC0-1.0" and meta.loc["a1", "source_description"] == "A cat."
    assert meta.loc["b2", "source"] == "" and meta.loc["b2", "licence"] == ""
    assert str(meta["event_timestamp"].dt.tz) == "UTC"
    assert sorted(out["image_description"]["image_id"]) == ["a1", "b2"]  # only images still in the collection
    seen = out["image_sightings"].set_index("image_id")
    assert seen.loc["a1", "counts"] == '{"cat": 1}' and seen.loc["b2", "counts"] == "{}"  # 0.4 is not counted
    assert seen.loc["a1", "text"] == "MEOW"


def test_publish_round_trip_and_idempotence(tables, tmp_path):
    images, embeddings, descriptions, sightings, manifest = tables
    params = {"store_root": str(tmp_path / "store"), "demo_manifest": str(manifest)}
    first = publish_features(images, embeddings, descriptions, sightings, None, params)
    assert first["rows"] == {
        "image_metadata": 2,
        "image_thumbnail": 2,
        "image_embedding": 2,
        "image_description": 2,
        "image_sightings": 2,
    }
    assert (
        publish_features(images, embeddings, descriptions, sightings, first, params) is first
    )  # unchanged: nothing redone

    from feature_repo.store import open_store

    store = open_store(tmp_path / "store")
    online = store.get_online_features(
        features=[
            "image_metadata:path",
            "image_metadata:licence",
            "image_thumbnail:thumbnail",
            "image_embedding:embedding",
            "image_description:alt",
            "image_description:evidence",
        ],
        entity_rows=[{"image_id": "a1", "model_version": "v1"}, {"image_id": "zz", "model_version": "v1"}],
    ).to_dict()
    assert online["path"] == ["pets/cat.jpg", None]
    assert online["licence"][0] == "CC0-1.0" and online["thumbnail"][0] == b"jpeg-a"
    assert online["embedding"][0] == [1.0, 0.0, 0.0, 0.0]
    assert online["alt"] == ["Probably a tabby cat, in grey", None] and online["evidence"][0] == '{"labels": []}'

    moved = images.assign(path=["pets/kitty.jpg", "top.png"])
    second = publish_features(moved, embeddings, descriptions, sightings, first, params)
    assert second["fingerprint"] != first["fingerprint"]
    again = store.get_online_features(features=["image_metadata:path"], entity_rows=[{"image_id": "a1"}]).to_dict()
    assert again["path"] == ["pets/kitty.jpg"]


def test_a_new_description_is_republished(tables, tmp_path):
    images, embeddings, descriptions, sightings, manifest = tables
    params = {"store_root": str(tmp_path / "store"), "demo_manifest": str(manifest)}
    first = publish_features(images, embeddings, descriptions, sightings, None, params)
    redescribed = descriptions.assign(signature=["s1-new", "s2", "s3"], alt=["A cat, in grey", "Unidentified", "x"])
    second = publish_features(images, embeddings, redescribed, sightings, first, params)
    assert second["fingerprint"] != first["fingerprint"]
    from feature_repo.store import open_store

    online = (
        open_store(tmp_path / "store")
        .get_online_features(features=["image_description:alt"], entity_rows=[{"image_id": "a1"}])
        .to_dict()
    )
    assert online["alt"] == ["A cat, in grey"]
