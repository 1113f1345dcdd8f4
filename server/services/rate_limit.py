"""A sliding-window rate limit per key (session, client address), shared by every worker process of a server.

By default the window's events live in a small SQLite file beside the vote log, so `uvicorn --workers N`
counts one client's votes together instead of giving it N times the limit; replicas on several machines share
a Redis instead (``GLIMPSE_REDIS_URL``, :class:`RedisRateLimiter`). The limits protect the vote log from a
runaway script; they are not a billing meter: nothing is fsynced, and when the store cannot be used at all the
vote is let through (and logged) rather than refused, since the vote log itself then answers for it. Expired
events are deleted on every check, so the store holds at most one window of events.
"""

from __future__ import annotations

import logging
import math
import sqlite3
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

logger = logging.getLogger(__name__)

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS hits (name TEXT NOT NULL, key TEXT NOT NULL, at REAL NOT NULL)",
    "CREATE INDEX IF NOT EXISTS hits_by_key ON hits (name, key, at)",
)


class Limiter(Protocol):
    name: str

    def check(self, key: str) -> int:
        """Count one event for ``key``: 0 if allowed, else the whole seconds to wait before the next is."""
        ...


class RateLimiter:
    """The limit in a SQLite file (one machine; any number of processes)."""

    def __init__(
        self,
        path: Path,
        name: str,
        limit: int,
        window_s: float,
        *,
        clock: Callable[[], float] = time.time,
        timeout_s: float = 5.0,
    ) -> None:
        if limit < 1 or window_s <= 0:
            raise ValueError("limit must be ≥ 1 and window_s > 0")
        self.path = Path(path)
        self.name = name  # several limits share one file
        self.limit = limit
        self.window_s = window_s
        self._clock = clock  # wall-clock time: the file outlives processes
        self._timeout_s = timeout_s
        self._ready = False  # folder and table made (again after any failure: the file may have been removed)

    def check(self, key: str) -> int:
        """Count one event for ``key``: 0 if allowed, else the whole seconds to wait before the next is."""
        now = self._clock()
        try:
            return self._check(key, now)
        except (sqlite3.Error, OSError) as exc:
            self._ready = False
            logger.warning("vote rate limit %s not applied: %s cannot be used (%s)", self.name, self.path, exc)
            return 0

    def _check(self, key: str, now: float) -> int:
        if not self._ready:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=self._timeout_s, isolation_level=None)
        try:
            conn.execute("PRAGMA synchronous=OFF")
            if not self._ready:
                for statement in SCHEMA:
                    conn.execute(statement)
                self._ready = True
            conn.execute("BEGIN IMMEDIATE")  # one writer at a time across processes: count and add together
            try:
                conn.execute("DELETE FROM hits WHERE name = ? AND at <= ?", (self.name, now - self.window_s))
                count, first = conn.execute(
                    "SELECT count(*), min(at) FROM hits WHERE name = ? AND key = ?", (self.name, key)
                ).fetchone()
                if count >= self.limit:
                    wait = max(1, math.ceil(self.window_s - (now - first)))
                else:
                    conn.execute("INSERT INTO hits (name, key, at) VALUES (?, ?, ?)", (self.name, key, now))
                    wait = 0
                conn.execute("COMMIT")
                return wait
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        finally:
            conn.close()


# Drop the expired events, count the rest and add this one only if under the limit, in one atomic step.
# KEYS[1]: the sorted set of one (limit, key); ARGV: now, window, limit, a unique member for this event.
_SLIDING_WINDOW = """
local now, window, limit = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) >= limit then
  local first = tonumber(redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')[2])
  return math.max(1, math.ceil(window - (now - first)))
end
redis.call('ZADD', KEYS[1], now, ARGV[4])
redis.call('PEXPIRE', KEYS[1], math.ceil(window * 1000))
return 0
"""


class RedisRateLimiter:
    """The same limit in Redis, shared by server replicas on several machines: one sorted set per (limit, key)
    that expires with its window. Redis's clock is not used: replicas' clocks are assumed in step (NTP)."""

    def __init__(
        self,
        url: str,
        name: str,
        limit: int,
        window_s: float,
        *,
        clock: Callable[[], float] = time.time,
        timeout_s: float = 2.0,
    ) -> None:
        if limit < 1 or window_s <= 0:
            raise ValueError("limit must be ≥ 1 and window_s > 0")
        import redis

        self.name, self.limit, self.window_s = name, limit, window_s
        self._clock = clock
        self._redis = redis.Redis.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s)
        self._script = self._redis.register_script(_SLIDING_WINDOW)
        self._errors = (redis.RedisError, OSError)

    def check(self, key: str) -> int:
        """Count one event for ``key``: 0 if allowed, else the whole seconds to wait before the next is."""
        now = self._clock()
        try:
            wait = self._script(
                keys=[f"glimpse:limit:{self.name}:{key}"],
                args=[now, self.window_s, self.limit, f"{now}:{uuid.uuid4().hex}"],
            )
            return int(wait)
        except self._errors as exc:
            logger.warning("vote rate limit %s not applied: Redis cannot be used (%s)", self.name, exc)
            return 0
