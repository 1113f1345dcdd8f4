"""The vote log in PostgreSQL (a real server started by the test): the SQLite store's contract, kept across
replicas, and the pipeline reading it."""

from __future__ import annotations

import multiprocessing

import pytest

from pipeline.pipelines.feedback.nodes import read_votes
from server.services.feedback import FeedbackStore, FeedbackUnavailableError
from server.services.feedback_postgres import PostgresFeedbackStore, redacted
from tools.processes import free_port

QUERY_IMAGE_ID = "ab" * 16


@pytest.fixture
def url(postgres_url):
    """An empty database of the test's server for each test."""
    import psycopg

    name = f"votes_{free_port()}"
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return postgres_url.rsplit("/", 1)[0] + f"/{name}"


def a_vote(**changes) -> dict:
    return {"image_id": "cd" * 16, "vote": 1, "model_version": "1", "session": "s1", "query_text": "cat"} | changes


def _same_sequence(store: FeedbackStore) -> dict:
    """What the API shows after one sequence of votes and served counts (times left out)."""
    first = store.record(**a_vote())
    again = store.record(**a_vote(rank=2))
    store.record(**a_vote(vote=-1))
    store.record(**a_vote(session="s2", model_version="10", query_text=None, query_image_id=QUERY_IMAGE_ID, rank=3))
    store.add_served({("2026-12-04", "1"): 5, ("2026-12-04", "10"): 2})
    store.add_served({("2026-12-04", "1"): 1})
    recent = [{k: v for k, v in row.items() if k != "created_at"} for row in store.recent(10)]
    stats = [{k: v for k, v in row.items() if not k.endswith("_vote_at")} for row in store.stats()]
    return {
        "first": first,
        "again": again,
        "count": store.count(),
        "summary": store.summary(),
        "recent": recent,
        "stats": stats,
        "served": store.served(),
    }


def test_postgres_answers_exactly_as_sqlite_does(url, tmp_path):
    assert _same_sequence(PostgresFeedbackStore(url)) == _same_sequence(FeedbackStore(tmp_path / "feedback.db"))


def test_the_table_is_append_only_even_for_raw_sql(url):
    import psycopg

    store = PostgresFeedbackStore(url)
    store.record(**a_vote())
    with psycopg.connect(url, autocommit=True) as conn:
        for statement in ("UPDATE feedback SET vote = -1", "DELETE FROM feedback", "TRUNCATE feedback"):
            with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
                conn.execute(statement)
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute(
                "INSERT INTO feedback (created_at, session, query_text, image_id, vote, model_version)"
                " VALUES ('t', 's', 'q', 'i', 2, 'm')"
            )
    assert PostgresFeedbackStore(url).count() == 1  # reopening (a second replica starting) keeps everything


def _vote_many(url, session, queue):
    store = PostgresFeedbackStore(url)
    queue.put([store.record(**a_vote(session=session, query_text=f"cat {i % 5}")).duplicate for i in range(40)])


def test_two_replicas_store_a_repeated_vote_once(url):
    """Two processes send the same session's votes at once: each distinct vote is stored exactly once."""
    PostgresFeedbackStore(url)  # the schema, before the race
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    workers = [context.Process(target=_vote_many, args=(url, "same", queue)) for _ in range(2)]
    for worker in workers:
        worker.start()
    results = [queue.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
    assert PostgresFeedbackStore(url).count() == 5  # 5 distinct searches, 80 posts
    assert sum(not d for r in results for d in r) == 5


def test_a_table_of_another_shape_is_refused_and_left_alone(url):
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE feedback (id INTEGER, note TEXT)")
        conn.execute("INSERT INTO feedback VALUES (1, 'theirs')")
    with pytest.raises(FeedbackUnavailableError, match="not touching it"):
        PostgresFeedbackStore(url)
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT note FROM feedback").fetchall() == [("theirs",)]


def test_an_unreachable_database_is_unavailable_and_its_password_never_shown():
    url = f"postgresql://glimpse:s3cret@127.0.0.1:{free_port()}/glimpse"
    with pytest.raises(FeedbackUnavailableError) as caught:
        PostgresFeedbackStore(url, timeout_s=1)
    assert "s3cret" not in str(caught.value) and "***" in str(caught.value)
    assert redacted(url) == url.replace("s3cret", "***")


def test_the_pipeline_reads_the_votes_after_an_id(url):
    store = PostgresFeedbackStore(url)
    ids = [store.record(**a_vote(query_text=f"q{i}", rank=i or None)).id for i in range(3)]
    votes = read_votes(url, ids[0])
    assert votes["feedback_id"].tolist() == ids[1:]
    assert votes["query_text"].tolist() == ["q1", "q2"] and votes["rank"].tolist() == [1, 2]
    assert str(votes["event_timestamp"].dt.tz) == "UTC"
    assert read_votes(url, ids[-1]).empty
