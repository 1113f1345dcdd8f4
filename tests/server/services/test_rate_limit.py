"""The vote rate limit: a sliding window per key, counted together by every worker process of a server (a SQLite
file) or by every replica (a real redis-server started by the test)."""

import multiprocessing
import sqlite3

import pytest

from server.services.rate_limit import RateLimiter, RedisRateLimiter


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["sqlite", "redis"])
def where(request, tmp_path):
    """Where the limits count: a SQLite file, or an empty database of the test's redis-server."""
    if request.param == "sqlite":
        return tmp_path / "limits.db"
    url = request.getfixturevalue("redis_url")
    import redis

    redis.Redis.from_url(url).flushdb()
    return url


def limiter_at(where, name: str, limit: int, window_s: float, **kwargs):
    kind = RateLimiter if not isinstance(where, str) else RedisRateLimiter
    return kind(where, name, limit, window_s, **kwargs)


def test_a_window_allows_the_limit_then_says_how_long_to_wait(where):
    clock = Clock()
    limiter = limiter_at(where, "session", 3, 60.0, clock=clock)
    assert [limiter.check("a") for _ in range(3)] == [0, 0, 0]
    assert limiter.check("a") == 60 and limiter.check("b") == 0  # keys are apart
    clock.now += 45.5
    assert limiter.check("a") == 15  # the oldest event leaves the window in 14.5 s
    clock.now += 15
    assert limiter.check("a") == 0


def test_limits_sharing_a_store_count_apart(where):
    session = limiter_at(where, "session", 1, 60.0)
    client = limiter_at(where, "client", 1, 60.0)
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


def test_redis_keys_expire_with_their_window(redis_url):
    import redis

    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    limiter = RedisRateLimiter(redis_url, "session", 5, 2.0)
    limiter.check("a")
    (key,) = client.keys("glimpse:limit:session:*")
    assert 0 < client.pttl(key) <= 2000  # nothing outlives one window


def _votes(where, limit, count, queue):
    limiter = limiter_at(where, "session", limit, 60.0)
    queue.put(sum(limiter.check("same session") == 0 for _ in range(count)))


def test_processes_count_together(where):
    """Two processes (as `uvicorn --workers 2`, or two replicas) each try 30 votes against a limit of 25: 25
    pass in all."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    workers = [context.Process(target=_votes, args=(where, 25, 30, queue)) for _ in range(2)]
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


def test_an_unreachable_redis_lets_votes_through_and_logs(caplog):
    from tools.processes import free_port

    limiter = RedisRateLimiter(f"redis://127.0.0.1:{free_port()}/0", "session", 1, 60.0, timeout_s=0.5)
    assert [limiter.check("a") for _ in range(3)] == [0, 0, 0]
    assert "vote rate limit session not applied: Redis cannot be used" in caplog.text


@pytest.mark.parametrize(("limit", "window"), [(0, 60.0), (1, 0.0)])
def test_nonsense_limits_are_refused(where, limit, window):
    with pytest.raises(ValueError, match="limit must be"):
        limiter_at(where, "session", limit, window)
