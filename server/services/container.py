"""The long-lived services of the app, opened lazily so a missing artifact gives ``readyz`` = false,
not a crash loop.

A service that cannot be opened is retried on the next request (nothing caches a failure), and an open one
whose files were deleted or replaced since is dropped and reopened, so restoring the files or re-running the
pipeline makes the server ready again without a restart. Problems name the file (relative to the project root)
and what to do.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path

from feature_repo.store import sqlite_tables
from server.core.config import Settings
from server.schemas import PoolStatus
from server.services.features import FeatureReader, file_identity
from server.services.feedback import FeedbackStore, open_feedback_store
from server.services.model_pool import ModelPool

logger = logging.getLogger(__name__)

REGISTRY_TABLES = ("registered_models", "model_versions", "registered_model_aliases")


class Services:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.pool_problem = ""
        self.features_problem = ""
        self.feedback_problem = ""
        self._pool: ModelPool | None = None
        self._features: FeatureReader | None = None
        self._feedback: FeedbackStore | None = None
        self._lock = threading.Lock()
        self._registry_file: tuple[Path, tuple[int, int] | None] | None = None  # the SQLite registry, as opened

    def shown(self, path: Path | str) -> str:
        """A path as messages give it: relative to the project root when inside it."""
        path = Path(path)
        root = Path(self.settings.project_root)
        for base in (root, root.resolve()):
            if path.is_relative_to(base):
                return path.relative_to(base).as_posix()
        return str(path)

    def _registry_db(self) -> Path | None:
        uri = self.settings.resolved_registry_uri
        return Path(uri.removeprefix("sqlite:///")) if uri.startswith("sqlite:///") else None

    def _check_registry_db(self, db: Path) -> None:
        """The SQLite registry exists and is MLflow's (never created or changed here: read-only)."""
        rebuild = "run the pipeline (make pipeline) or restore the file"
        if not db.is_file():
            raise FileNotFoundError(f"the model registry {self.shown(db)} is missing: {rebuild}")
        try:
            tables = sqlite_tables(db)
        except sqlite3.Error as exc:
            raise ValueError(f"the model registry {self.shown(db)} cannot be read ({exc}): {rebuild}") from None
        if not set(REGISTRY_TABLES) <= tables:
            raise ValueError(f"the model registry {self.shown(db)} holds no registered models: {rebuild}")

    def pool(self) -> ModelPool | None:
        pool = self._pool
        if pool is not None and self._registry_file is not None:
            db, known = self._registry_file
            if file_identity(db) != known:  # deleted or replaced: the open client would read a stale or empty file
                with self._lock:
                    if self._pool is pool:
                        logger.warning("model registry %s was deleted or replaced; reopening it", self.shown(db))
                        self._pool = None
        if self._pool is None:
            with self._lock:
                if self._pool is None:
                    try:
                        from models.registry import Registry

                        s = self.settings
                        db = self._registry_db()
                        if db is not None:
                            self._check_registry_db(db)
                            self._registry_file = (db, file_identity(db))
                        registry = Registry(s.resolved_registry_uri, s.path(s.registry_artifacts), s.model_name)
                        self._pool = ModelPool(
                            registry,
                            s.path(s.index_root),
                            max_models=s.pool_max_models,
                            memory_budget_bytes=s.pool_memory_budget_mb * 2**20,
                            idle_ttl_s=s.pool_idle_ttl_s,
                            alias_refresh_s=s.alias_refresh_s,
                            threads=s.onnx_threads,
                            shown=self.shown,
                        )
                        self.pool_problem = ""
                    except Exception as exc:  # noqa: BLE001 - reported through readyz and 503s
                        problem = f"model registry unavailable: {exc}"
                        if problem != self.pool_problem:  # retried on every request: logged once per problem
                            logger.error(problem)
                        self.pool_problem = problem
        return self._pool

    def features(self) -> FeatureReader | None:
        reader = self._features
        if reader is not None and not reader.usable():  # a read failed, or its files were deleted or replaced
            with self._lock:
                if self._features is reader:
                    logger.warning("feature store %s changed or failed; reopening it", self.shown(reader.root))
                    self._features = None
        if self._features is None:
            with self._lock:
                if self._features is None:
                    try:
                        root = self.settings.path(self.settings.feature_store)
                        self._features = FeatureReader(root, self.shown, self.settings.online_store_url)
                        self.features_problem = ""
                    except Exception as exc:  # noqa: BLE001
                        problem = f"feature store unavailable: {exc}"
                        if problem != self.features_problem:
                            logger.error(problem)
                        self.features_problem = problem
        return self._features

    def feedback(self) -> FeedbackStore | None:
        """The vote store; ``None`` (and ``feedback_problem`` set) while its database cannot be opened."""
        if self._feedback is None:
            with self._lock:
                if self._feedback is None:
                    try:
                        self._feedback = open_feedback_store(self.settings)
                    except Exception as exc:  # noqa: BLE001 - answered as 503 feedback_unavailable
                        self.feedback_problem = f"feedback store unavailable: {exc}"
                        logger.error(self.feedback_problem)
        return self._feedback

    def pool_status(self) -> PoolStatus | None:
        """The pool's state if it is open (never opens it: a metrics scrape must stay cheap)."""
        return self._pool.status() if self._pool is not None else None
