"""Searches-served counts: gathered in memory, written in batches, kept when a write fails."""

import sqlite3

from server.services.feedback import FeedbackStore
from server.services.served import ServedCounter


def test_counts_are_batched_per_day_and_version(tmp_path):
    store = FeedbackStore(tmp_path / "feedback.db")
    day = ["2026-11-23"]
    counter = ServedCounter(lambda: store, today=lambda: day[0])
    for version in ("1", "1", "2"):
        counter.add(version)
    day[0] = "2026-11-24"
    counter.add("1")
    assert store.served() == {} and counter.pending() == 4
    assert counter.flush() == 4 and counter.pending() == 0 and counter.flush() == 0
    assert store.served() == {"1": 3, "2": 1}
    counter.add("2")
    counter.flush()
    assert store.served() == {"1": 3, "2": 2}
    stats = {v["model_version"]: v for v in store.stats()}
    assert stats["2"]["searches"] == 2 and stats["2"]["votes"] == 0 and stats["2"]["votes_per_search"] == 0.0


def test_a_failed_write_keeps_the_counts_for_the_next_flush(tmp_path):
    store = FeedbackStore(tmp_path / "feedback.db")
    counter = ServedCounter(lambda: store)
    counter.add("1")
    with sqlite3.connect(store.path) as conn:  # the write fails inside SQLite (as on a full disk)
        conn.execute("DROP TABLE served")
    assert counter.flush() == 0 and counter.pending() == 1
    store = FeedbackStore(store.path)  # reopened: the table is back
    assert counter.flush() == 1 and store.served() == {"1": 1}


def test_counts_wait_while_the_store_cannot_be_opened(tmp_path):
    stores: list[FeedbackStore | None] = [None]
    counter = ServedCounter(lambda: stores[0])
    counter.add("1")
    counter.add("1")
    assert counter.flush() == 0 and counter.pending() == 2
    stores[0] = FeedbackStore(tmp_path / "feedback.db")
    assert counter.flush() == 2 and stores[0].served() == {"1": 2}
