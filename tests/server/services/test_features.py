"""The feature reader's record cache: served from memory between publishes, never stale after one."""

import json
import shutil
from datetime import UTC, datetime

import pandas as pd
import pytest

from feature_repo import schema as views
from feature_repo.store import open_store
from server.services.features import PUBLICATION, FeatureReader


@pytest.fixture
def store_copy(project, tmp_path):
    folder, _ = project
    root = tmp_path / "store"
    shutil.copytree(folder / "data/07_feature_store", root)
    return root


def some_ids(root, n=3) -> list[str]:
    table = pd.read_parquet(root / "offline" / f"{views.DESCRIPTION}.parquet")
    return sorted(table["image_id"])[:n]


def rewrite_alt(root, image_id: str, alt: str) -> None:
    """What a publish does to one image: a new row in the online store through Feast."""
    row = pd.DataFrame(
        [{"image_id": image_id, "alt": alt, "long": "changed", "evidence": "{}", "event_timestamp": datetime.now(UTC)}]
    )
    open_store(root).write_to_online_store(views.DESCRIPTION, row)


def test_records_are_read_once_then_served_from_memory(store_copy):
    reader = FeatureReader(store_copy)
    ids = some_ids(store_copy)
    first = reader.records([*ids, "0" * 32])
    assert (reader.cache_hits, reader.cache_misses) == (0, 4)
    again = reader.records([*reversed(ids), "0" * 32])
    assert (reader.cache_hits, reader.cache_misses) == (4, 4)
    assert again[:3] == list(reversed(first[:3])) and first[3] is None and again[3] is None
    assert reader.records([]) == [] and (reader.cache_hits, reader.cache_misses) == (4, 4)


def test_a_write_to_the_online_store_empties_the_cache(store_copy):
    reader = FeatureReader(store_copy)
    image_id = some_ids(store_copy, 1)[0]
    before = reader.records([image_id])[0].description["alt"]
    rewrite_alt(store_copy, image_id, "A yak on a hill.")
    after = reader.records([image_id])[0]
    assert before != "A yak on a hill." and after.description["alt"] == "A yak on a hill."
    assert reader.cache_misses == 2 and reader.usable()  # re-read, without reopening the store


def test_a_new_publication_empties_the_cache(store_copy):
    reader = FeatureReader(store_copy)
    ids = some_ids(store_copy)
    reader.records(ids)
    publication = store_copy / PUBLICATION
    summary = json.loads(publication.read_text()) | {"published_at": datetime.now(UTC).isoformat()}
    publication.write_text(json.dumps(summary))
    reader.records(ids)
    assert (reader.cache_hits, reader.cache_misses) == (0, 6)
    reader.records(ids)
    assert reader.cache_hits == 3
