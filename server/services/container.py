"""The long-lived services of the app, opened lazily so a missing artifact gives ``readyz`` = false,
not a crash loop."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from server.core.config import Settings
from server.services.features import FeatureReader
from server.services.feedback import FeedbackStore
from server.services.model_pool import ModelPool

logger = logging.getLogger(__name__)


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

    def pool(self) -> ModelPool | None:
        if self._pool is None:
            with self._lock:
                if self._pool is None:
                    try:
                        from models.registry import Registry

                        s = self.settings
                        uri = s.resolved_registry_uri
                        if uri.startswith("sqlite:///") and not Path(uri.removeprefix("sqlite:///")).exists():
                            raise FileNotFoundError(f"no model registry at {uri}: run the pipeline (make pipeline)")
                        registry = Registry(uri, s.path(s.registry_artifacts), s.model_name)
                        self._pool = ModelPool(
                            registry,
                            s.path(s.index_root),
                            max_models=s.pool_max_models,
                            memory_budget_bytes=s.pool_memory_budget_mb * 2**20,
                            idle_ttl_s=s.pool_idle_ttl_s,
                            alias_refresh_s=s.alias_refresh_s,
                            threads=s.onnx_threads,
                        )
                    except Exception as exc:  # noqa: BLE001 - reported through readyz and 503s
                        self.pool_problem = f"model registry unavailable: {exc}"
                        logger.error(self.pool_problem)
        return self._pool

    def features(self) -> FeatureReader | None:
        if self._features is None:
            with self._lock:
                if self._features is None:
                    try:
                        self._features = FeatureReader(self.settings.path(self.settings.feature_store))
                    except Exception as exc:  # noqa: BLE001
                        self.features_problem = f"feature store unavailable: {exc}"
                        logger.error(self.features_problem)
        return self._features

    def feedback(self) -> FeedbackStore | None:
        """The vote store; ``None`` (and ``feedback_problem`` set) while its database cannot be opened."""
        if self._feedback is None:
            with self._lock:
                if self._feedback is None:
                    try:
                        self._feedback = FeedbackStore(self.settings.path(self.settings.feedback_db))
                    except Exception as exc:  # noqa: BLE001 - answered as 503 feedback_unavailable
                        self.feedback_problem = f"feedback store unavailable: {exc}"
                        logger.error(self.feedback_problem)
        return self._feedback

    def pool_status(self) -> dict | None:
        """The pool's state if it is open (never opens it: a metrics scrape must stay cheap)."""
        return self._pool.status() if self._pool is not None else None
