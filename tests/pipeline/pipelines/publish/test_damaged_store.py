"""Publish with unchanged inputs skips only while the store is whole: a deleted or damaged store file is rebuilt by
the next run, instead of the run saying "up to date" over a store the server cannot read."""

import os

import pytest

from pipeline.pipelines.publish.nodes import publish_features, store_problems


def scramble(path):
    path.write_bytes(os.urandom(max(path.stat().st_size, 4096)))


DAMAGE = {
    "online-deleted": lambda root: (root / "online.db").unlink(),
    "online-random-bytes": lambda root: scramble(root / "online.db"),
    "registry-deleted": lambda root: (root / "registry.db").unlink(),
    "registry-random-bytes": lambda root: scramble(root / "registry.db"),
    "registry-truncated": lambda root: (root / "registry.db").write_bytes((root / "registry.db").read_bytes()[:200]),
    "offline-table-deleted": lambda root: (root / "offline" / "image_metadata.parquet").unlink(),
}


@pytest.mark.parametrize("damage", list(DAMAGE), ids=list(DAMAGE))
def test_a_damaged_store_is_published_again(tables, tmp_path, damage):
    images, embeddings, descriptions, sightings, manifest = tables
    root = tmp_path / "store"
    params = {"store_root": str(root), "demo_manifest": str(manifest)}
    first = publish_features(images, embeddings, descriptions, sightings, None, params)
    assert store_problems(root) == []
    DAMAGE[damage](root)
    assert store_problems(root) != []
    again = publish_features(images, embeddings, descriptions, sightings, first, params)
    assert again is not first and again["fingerprint"] == first["fingerprint"]
    assert store_problems(root) == []

    from feature_repo.store import open_store

    online = (
        open_store(root)
        .get_online_features(
            features=["image_metadata:path", "image_description:alt"], entity_rows=[{"image_id": "a1"}]
        )
        .to_dict()
    )
    assert online["path"] == ["pets/cat.jpg"] and online["alt"] == ["Probably a tabby cat, in grey"]
    assert publish_features(images, embeddings, descriptions, sightings, again, params) is again  # whole again: skipped
