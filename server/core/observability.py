"""Prometheus metrics and structured access logs.

Access logs carry method, route template, status and duration — never the query string, so what people
search for is not written to disk.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable

from fastapi import FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

access_log = logging.getLogger("glimpse.access")
BUCKETS = (0.002, 0.005, 0.01, 0.02, 0.03, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class PoolCollector:
    """Model-pool state read at scrape time."""

    def __init__(self, pool_status: Callable[[], dict | None]) -> None:
        self._status = pool_status

    def collect(self):
        status = self._status()
        loaded = GaugeMetricFamily("glimpse_models_loaded", "Model versions resident in memory")
        size = GaugeMetricFamily("glimpse_model_bytes", "Bytes of a resident model version", labels=["version"])
        evictions = GaugeMetricFamily("glimpse_model_evictions", "Model versions unloaded since start")
        if status is not None:
            loaded.add_metric([], len(status["loaded"]))
            for model in status["loaded"]:
                size.add_metric([model["version"]], model["size_mb"] * 2**20)
            evictions.add_metric([], status["evictions"])
        yield from (loaded, size, evictions)


def install(app: FastAPI, pool_status: Callable[[], dict | None]) -> None:
    registry = CollectorRegistry()
    requests = Counter("glimpse_requests", "HTTP requests", ["method", "route", "status"], registry=registry)
    latency = Histogram(
        "glimpse_request_seconds", "Request latency", ["method", "route"], buckets=BUCKETS, registry=registry
    )
    registry.register(PoolCollector(pool_status))

    @app.middleware("http")
    async def measure(request: Request, call_next):
        started = time.perf_counter()
        status = 500
        try:
            response = await call_next(request)
            status = response.status_code
            return response
        finally:
            seconds = time.perf_counter() - started
            route = request.scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            requests.labels(request.method, template, str(status)).inc()
            latency.labels(request.method, template).observe(seconds)
            access_log.info(
                json.dumps(
                    {"method": request.method, "route": template, "status": status, "ms": round(seconds * 1000, 2)}
                )
            )

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
