"""Counts of searches answered per model version: the denominators of the feedback rates per version.

A search must not wait for a disk write, so counts gather in memory and are added to the feedback database
in one transaction every few seconds (``GLIMPSE_SERVED_FLUSH_S``) and at shutdown. What a crash can lose is
the counts of the last interval, never a vote. A failed write keeps the counts for the next attempt.
Only searches whose results can be voted on are counted: text queries and queries by an indexed image's id.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime

from server.services.feedback import FeedbackStore, FeedbackUnavailableError

logger = logging.getLogger(__name__)


def _today() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d")


class ServedCounter:
    def __init__(self, store: Callable[[], FeedbackStore | None], today: Callable[[], str] = _today) -> None:
        self._store = store  # the store is opened lazily and may be unavailable for a while
        self._today = today
        self._pending: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()

    def add(self, model_version: str) -> None:
        with self._lock:
            self._pending[(self._today(), model_version)] += 1

    def pending(self) -> int:
        with self._lock:
            return sum(self._pending.values())

    def flush(self) -> int:
        """Write what has gathered; returns the number of searches written (0 when the store is unavailable)."""
        with self._flush_lock:
            with self._lock:
                batch, self._pending = self._pending, Counter()
            if not batch:
                return 0
            store = self._store()
            try:
                if store is None:
                    raise FeedbackUnavailableError("the feedback store is not open")
                store.add_served(dict(batch))
            except FeedbackUnavailableError as exc:
                with self._lock:
                    self._pending.update(batch)  # kept for the next flush
                logger.warning("searches-served counts not written yet: %s", exc)
                return 0
            return sum(batch.values())
