"""A vote acknowledged is a vote kept: SIGKILL the real server process right after it answered 201.

SQLite in WAL mode with ``synchronous=FULL`` makes each commit durable before ``record`` returns, and the route
answers only after that. A SIGKILL gives the process no chance to flush anything, so every acknowledged vote
must already be in the file (its WAL included) when a fresh reader opens it.
"""

from __future__ import annotations

import sqlite3
import threading

import httpx
import pytest

from server.services.feedback import FeedbackStore
from tests.fixtures.server_process import start_server

pytestmark = pytest.mark.slow

N_SEQUENTIAL = 60
N_THREADS = 4


@pytest.fixture
def server_env(tmp_path):
    db = tmp_path / "feedback.db"
    env = {
        "GLIMPSE_FEEDBACK_DB": str(db),
        "GLIMPSE_FEEDBACK_VOTES_PER_MINUTE": "100000",
        "GLIMPSE_FEEDBACK_VOTES_PER_MINUTE_PER_CLIENT": "100000",
    }
    return db, env


def vote(client: httpx.Client, image_id: str, query: str) -> int | None:
    """Post one vote; the row id if the server acknowledged it (201), else None."""
    try:
        response = client.post(
            "/api/feedback",
            json={"image_id": image_id, "vote": "up", "query": query, "model_version": "1", "rank": 1},
        )
    except httpx.HTTPError:
        return None  # the server died mid-request: not acknowledged, may or may not be stored
    return response.json()["id"] if response.status_code == 201 else None


def stored(db) -> dict[int, str]:
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return dict(conn.execute("SELECT id, query_text FROM feedback"))


def test_sigkill_right_after_acknowledgement_loses_nothing(project, tmp_path, server_env):
    folder, _ = project
    db, env = server_env
    server = start_server(folder, tmp_path / "uvicorn.log", env)
    try:
        with httpx.Client(base_url=server.base_url, timeout=30) as client:
            image_id = client.get("/api/search", params={"q": "photo", "k": 1}).json()["results"][0]["image_id"]
            acknowledged = {}
            for i in range(N_SEQUENTIAL):
                row_id = vote(client, image_id, f"sequential {i}")
                assert row_id is not None
                acknowledged[row_id] = f"sequential {i}"
            server.kill()  # immediately after the last 201
    finally:
        server.stop()
    on_disk = stored(db)
    assert {k: on_disk.get(k) for k in acknowledged} == acknowledged

    # The same file serves a restarted server, which keeps appending.
    again = start_server(folder, tmp_path / "uvicorn.log", env)
    try:
        with httpx.Client(base_url=again.base_url, timeout=30) as client:
            assert vote(client, image_id, "after restart") is not None
            assert client.get("/api/feedback/summary").json()["total"] == N_SEQUENTIAL + 1
    finally:
        again.stop()


def test_sigkill_while_votes_are_in_flight_keeps_every_acknowledged_one(project, tmp_path, server_env):
    folder, _ = project
    db, env = server_env
    server = start_server(folder, tmp_path / "uvicorn.log", env)
    acknowledged: dict[int, str] = {}
    lock = threading.Lock()
    stop = threading.Event()
    enough = threading.Event()

    def voter(n: int, image_id: str) -> None:
        with httpx.Client(base_url=server.base_url, timeout=30) as client:
            i = 0
            while not stop.is_set():
                query = f"thread {n} vote {i}"
                row_id = vote(client, image_id, query)
                if row_id is None:
                    return
                with lock:
                    acknowledged[row_id] = query
                    if len(acknowledged) >= 80:
                        enough.set()
                i += 1

    try:
        with httpx.Client(base_url=server.base_url, timeout=30) as client:
            image_id = client.get("/api/search", params={"q": "photo", "k": 1}).json()["results"][0]["image_id"]
        threads = [threading.Thread(target=voter, args=(n, image_id)) for n in range(N_THREADS)]
        for t in threads:
            t.start()
        assert enough.wait(timeout=120), "the server did not acknowledge 80 votes in 120 s"
        server.kill()  # votes are still being posted by every thread
        stop.set()
        for t in threads:
            t.join(timeout=60)
    finally:
        stop.set()
        server.stop()
    with lock:
        expected = dict(acknowledged)
    on_disk = stored(db)
    missing = [k for k in expected if on_disk.get(k) != expected[k]]
    assert not missing, f"{len(missing)} of {len(expected)} acknowledged votes lost"
    assert FeedbackStore(db).count() >= len(expected)
