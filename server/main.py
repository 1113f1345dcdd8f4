"""Application factory: ``uvicorn server.main:create_app --factory``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import faiss
from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from server.api import errors
from server.api.routes import docs, feedback, health, images, models, pages, search
from server.core import headers, limits, observability, session
from server.core.config import Settings, get_settings
from server.core.head import HeadAsGet
from server.services.container import Services
from server.services.experiment import Experiment
from server.services.served import ServedCounter

logger = logging.getLogger(__name__)

# URL name → the npm package's folder of built files
VENDORED = {
    "htmx": "htmx.org/dist",
    "ort": "onnxruntime-web/dist",
    "phonemizer": "phonemizer/dist",
    "swagger-ui": "swagger-ui-dist",
}


def _warm_up(services: Services, experiment: Experiment) -> None:
    """Open the feature store and load the default model (and an A/B candidate) before the first query."""
    pool = services.pool()
    if services.features() is None or pool is None:
        return
    try:
        arms = experiment.arms(pool)
        for version in (arms.control, arms.candidate):
            if version is not None:
                pool.get(version)
    except Exception as exc:  # noqa: BLE001 - readyz reports it; the server still starts
        logger.warning("default model %r not loaded at start: %s", experiment.default_model, exc)


async def _every(seconds: float, work) -> None:
    while True:
        await asyncio.sleep(seconds)
        await run_in_threadpool(work)


def _unload_idle(services: Services) -> None:
    pool = services.pool()
    if pool is not None:
        pool.unload_idle()


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    services: Services = app.state.services
    served: ServedCounter = app.state.served
    await run_in_threadpool(_warm_up, services, app.state.experiment)
    tasks = [
        asyncio.create_task(_every(max(1.0, min(60.0, settings.pool_idle_ttl_s / 2)), lambda: _unload_idle(services))),
        asyncio.create_task(_every(settings.served_flush_s, served.flush)),
    ]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await run_in_threadpool(served.flush)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    # Searches are single queries; faiss's OpenMP threads only add overhead to them (100k Flat, p99: 13.4 ms on
    # one thread, 74.5 ms on two, bench/indexes.py).
    faiss.omp_set_num_threads(settings.faiss_threads)
    app = FastAPI(
        title="Glimpse",
        summary="Accessible multimodal image search",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,  # server/api/routes/docs.py serves Swagger UI from vendored files, not a CDN
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.services = Services(settings)
    app.state.experiment = Experiment(
        default_model=settings.default_model,
        candidate_alias=settings.ab_candidate_alias,
        share=settings.ab_candidate_share,
    )
    app.state.served = ServedCounter(app.state.services.feedback)
    errors.install(app)
    app.add_middleware(HeadAsGet)  # innermost: the other middleware, logs and metrics see the HEAD it was
    app.add_middleware(
        limits.RequestLimits,
        max_body_bytes=settings.max_request_bytes,
        body_timeout_s=settings.body_timeout_s,
        max_query_bytes=settings.max_query_string_bytes,
    )
    headers.install(app)
    session.install(app)
    observability.install(app, lambda: app.state.services.pool_status())
    app.state.templates = Jinja2Templates(directory=settings.asset(settings.templates_dir))
    app.mount("/static", StaticFiles(directory=settings.asset(settings.static_dir)), name="static")
    # Only the built files of the browser packages are exposed from node_modules. Without them the pages
    # still work (plain forms, no voice).
    for name, package in VENDORED.items():
        folder = settings.asset(settings.vendor_dir) / package
        app.mount(f"/vendor/{name}", StaticFiles(directory=folder, check_dir=False), name=f"vendor-{name}")
    app.include_router(health.router)
    app.include_router(docs.router)
    app.include_router(search.router)
    app.include_router(images.router)
    app.include_router(models.router)
    app.include_router(feedback.router)
    app.include_router(pages.router)
    return app
