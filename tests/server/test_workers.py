"""Two uvicorn worker processes behind one port (`--workers 2`, what `make serve` runs): what must be shared is.

Vote rate limits are counted together (a file beside the vote log), searches-served counts add up in the vote
database, and every worker answers with the same production version.
"""

from __future__ import annotations

import sqlite3

import httpx
import psutil
import pytest

from tests.fixtures.server_process import start_server

pytestmark = pytest.mark.slow

LIMIT = 4


def test_two_workers_share_vote_limits_and_served_counts(project, tmp_path):
    folder, _ = project
    db = tmp_path / "feedback.db"
    env = {
        "GLIMPSE_FEEDBACK_DB": str(db),
        "GLIMPSE_FEEDBACK_VOTES_PER_MINUTE": str(LIMIT),
        "GLIMPSE_FEEDBACK_VOTES_PER_MINUTE_PER_CLIENT": "1000",
        "GLIMPSE_SERVED_FLUSH_S": "3600",  # written at shutdown (and by /stats), not by the timer
    }
    server = start_server(folder, tmp_path / "uvicorn.log", env, workers=2)
    try:
        workers = psutil.Process(server.proc.pid).children(recursive=True)
        assert len([w for w in workers if "python" in w.name().lower()]) >= 2, workers
        searches, versions = 0, set()
        cookie = None
        statuses = []
        for i in range(3 * LIMIT):
            # a new connection each time, so the kernel hands requests to either worker
            with httpx.Client(base_url=server.base_url, timeout=30, cookies=cookie) as client:
                answer = client.get("/api/search", params={"q": f"a photo {i}", "k": 1})
                assert answer.status_code == 200, answer.text
                searches += 1
                versions.add(answer.json()["model"]["version"])
                cookie = cookie or dict(client.cookies)
                result = answer.json()["results"][0]
                vote = {"image_id": result["image_id"], "vote": "up", "query": f"a photo {i}", "model_version": "1"}
                statuses.append(client.post("/api/feedback", json=vote).status_code)
        assert statuses == [201] * LIMIT + [429] * (2 * LIMIT), statuses  # one session, one limit
        assert versions == {"1"}
    finally:
        server.stop()  # each worker writes its served counts on the way out
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM feedback").fetchone()[0] == LIMIT
        assert conn.execute("SELECT sum(searches) FROM served").fetchone()[0] == searches
