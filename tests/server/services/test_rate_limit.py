"""The vote rate limit: a sliding window per key, counted together by every worker process of a server."""

import multiprocessing
import sqlite3

import pytest

from server.services.rate_limit import RateLimiter


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_a_window_allows_the_limit_then_says_how_long_to_wait(tmp_path):
    clock = Clock()
    limiter = RateLimiter(tmp_path / "limits.db", "session", 3, 60.0, clock=clock)
    assert [limiter.check("a") for _ in range(3)] == [0, 0, 0]
    assert limiter.check("a") == 60 and limiter.check("b") == 0  # keys are apart
    clock.now += 45.5
    assert limiter.check("a") == 15  # the oldest event leaves the window in 14.5 s
    clock.now += 15
    assert limiter.check("a") == 0


def test_limits_sharing_a_file_count_apart(tmp_path):
    session = RateLimiter(tmp_path / "limits.db", "session", 1, 60.0)
    client = RateLimiter(tmp_path / "limits.db", "client", 1, 60.0)
    assert (session.check("x"), client.check("x")) == (0, 0)
    assert session.check("x") > 0 and client.check("x") > 0


def test_expired_events_are_deleted(tmp_path):
    clock = Clock()
    limiter = RateLimiter(tmp_path / "limits.db", "session", 100, 60.0, clock=clock)
    for i in range(50):
        limiter.check(f"key {i}")
    clock.now += 61
    limiter.check("new")
    with sqlite3.connect(tmp_path / "limits.db") as db:
        assert db.execute("SELECT count(*) FROM hits").fetchone()[0] == 1


def _votes(path, limit, count, queue):
    limiter = RateLimiter(path, "session", limit, 60.0)
    queue.put(sum(limiter.check("same session") == 0 for _ in range(count)))


def test_worker_processes_count_together(tmp_path):
    """Two processes (as `uvicorn --workers 2`) each try 30 votes against a limit of 25: 25 pass in all."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    workers = [context.Process(target=_votes, args=(tmp_path / "limits.db", 25, 30, queue)) for _ in range(2)]
    for worker in workers:
        worker.start()
    allowed = [queue.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
    assert sum(allowed) == 25, allowed


def test_an_unusable_file_lets_votes_through_and_logs(tmp_path, caplog):
    (tmp_path / "limits.db").mkdir()  # a folder where the file should be
    limiter = RateLimiter(tmp_path / "limits.db", "session", 1, 60.0)
    assert [limiter.check("a") for _ in range(3)] == [0, 0, 0]
    assert "vote rate limit session not applied" in caplog.text


@pytest.mark.parametrize(("limit", "window"), [(0, 60.0), (1, 0.0)])
def test_nonsense_limits_are_refused(tmp_path, limit, window):
    with pytest.raises(ValueError, match="limit must be"):
        RateLimiter(tmp_path / "limits.db", "session", limit, window)
