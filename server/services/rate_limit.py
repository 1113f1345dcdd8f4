"""A sliding-window rate limit per key (session, client address), in memory.

Enough for one server process: the limits protect the vote log from a runaway script, they are not a billing
meter. Memory is bounded: at most ``max_keys`` keys, the least recently seen dropped first.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict, deque


class RateLimiter:
    def __init__(self, limit: int, window_s: float, *, max_keys: int = 10_000, clock=time.monotonic) -> None:
        if limit < 1 or window_s <= 0:
            raise ValueError("limit must be ≥ 1 and window_s > 0")
        self.limit = limit
        self.window_s = window_s
        self.max_keys = max_keys
        self._clock = clock
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def check(self, key: str) -> int:
        """Count one event for ``key``: 0 if allowed, else the whole seconds to wait before the next is."""
        now = self._clock()
        with self._lock:
            hits = self._hits.pop(key, None) or deque()
            while hits and now - hits[0] >= self.window_s:
                hits.popleft()
            self._hits[key] = hits  # most recently seen last
            while len(self._hits) > self.max_keys:
                self._hits.popitem(last=False)
            if len(hits) >= self.limit:
                return max(1, math.ceil(self.window_s - (now - hits[0])))
            hits.append(now)
            return 0
