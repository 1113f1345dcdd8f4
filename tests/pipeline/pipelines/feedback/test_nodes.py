"""Votes exported from the server's SQLite log to the Feast offline store, partitioned by day, read back by Feast."""

from __future__ import annotations

import hashlib
import sqlite3

import pandas as pd
import pytest

from pipeline.pipelines.feedback.nodes import export_feedback, exported_up_to
from server.services.feedback import FeedbackStore

pytestmark = pytest.mark.slow

IMAGE_A, IMAGE_B = "aa" * 16, "bb" * 16


def backdate(db, row_id: int, when: str) -> None:
    """Give a vote another day (the table refuses UPDATE, so rebuild it around the trigger for the test)."""
    with sqlite3.connect(db) as conn:
        conn.execute("DROP TRIGGER feedback_no_update")
        conn.execute("UPDATE feedback SET created_at = ? WHERE id = ?", (when, row_id))


@pytest.fixture
def setup(tmp_path):
    db = tmp_path / "feedback.db"
    store = FeedbackStore(db)
    ids = [
        store.record(image_id=IMAGE_A, vote=1, model_version="1", session="s1", query_text="a red car", rank=1).id,
        store.record(image_id=IMAGE_B, vote=-1, model_version="1", session="s1", query_text="a red car", rank=2).id,
        store.record(image_id=IMAGE_A, vote=1, model_version="2", session="s2", query_image_id=IMAGE_B).id,
    ]
    backdate(db, ids[0], "2026-11-20T10:00:00.000000Z")
    params = {"store_root": str(tmp_path / "store"), "feedback_db": str(db)}
    return store, params, tmp_path / "store" / "offline" / "feedback"


def test_votes_land_in_day_partitions_once(setup):
    store, params, folder = setup
    before = hashlib.sha256(store.path.read_bytes()).hexdigest()
    first = export_feedback(params)
    assert first["new_votes"] == 3 and first["up_to_id"] == 3
    days = sorted(p.name for p in folder.iterdir() if p.is_dir())
    assert days[0] == "date=2026-11-20" and len(days) == 2
    table = pd.concat(pd.read_parquet(p) for p in sorted(folder.glob("date=*/*.parquet")))
    assert sorted(table["feedback_id"]) == [1, 2, 3]
    assert set(table.columns) >= {"image_id", "vote", "query_text", "query_image_id", "model_version", "rank"}
    assert hashlib.sha256(store.path.read_bytes()).hexdigest() == before  # the log is only read

    again = export_feedback(params)  # nothing new: nothing written
    assert again["new_votes"] == 0 and again["files"] == []
    store.record(image_id=IMAGE_B, vote=1, model_version="1", session="s3", query_text="a blue boat")
    third = export_feedback(params)
    assert third["new_votes"] == 1 and third["up_to_id"] == 4 and exported_up_to(folder) == 4
    assert len(list(folder.glob("date=*/*.parquet"))) == 3
    assert not list(folder.glob("date=*/.*"))  # no temporary files left


def test_feast_reads_the_votes_like_other_features(setup):
    _, params, _ = setup
    export_feedback(params)
    from feature_repo.store import open_store

    store = open_store(params["store_root"])
    view = store.get_feature_view("image_feedback")
    assert {f.name for f in view.features} >= {"vote", "query_text", "model_version"}
    entity_rows = pd.DataFrame(
        {"image_id": [IMAGE_A, IMAGE_B], "event_timestamp": pd.to_datetime(["2026-12-31", "2026-12-31"], utc=True)}
    )
    frame = store.get_historical_features(
        entity_df=entity_rows, features=["image_feedback:vote", "image_feedback:model_version"]
    ).to_df()
    latest = dict(zip(frame["image_id"], zip(frame["vote"], frame["model_version"], strict=True), strict=True))
    assert latest == {IMAGE_A: (1, "2"), IMAGE_B: (-1, "1")}  # each image's latest vote as of the date


def test_no_log_yet_exports_nothing(tmp_path):
    params = {"store_root": str(tmp_path / "store"), "feedback_db": str(tmp_path / "absent.db")}
    summary = export_feedback(params)
    assert summary["new_votes"] == 0 and summary["files"] == [] and not (tmp_path / "absent.db").exists()
