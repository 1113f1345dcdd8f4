"""Application factory: ``uvicorn server.main:create_app --factory``."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from server.api.routes import health, pages
from server.core.config import Settings, get_settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(title="Glimpse", summary="Accessible multimodal image search", version="0.1.0")
    app.state.settings = settings
    app.state.templates = Jinja2Templates(directory=settings.path(settings.templates_dir))
    app.mount("/static", StaticFiles(directory=settings.path(settings.static_dir)), name="static")
    app.include_router(health.router)
    app.include_router(pages.router)
    return app
