"""Application factory: ``uvicorn server.main:create_app --factory``."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from server.api import errors
from server.api.routes import health, images, models, pages, search
from server.core.config import Settings, get_settings
from server.services.container import Services


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(title="Glimpse", summary="Accessible multimodal image search", version="0.1.0")
    app.state.settings = settings
    app.state.services = Services(settings)
    errors.install(app)
    app.state.templates = Jinja2Templates(directory=settings.asset(settings.templates_dir))
    app.mount("/static", StaticFiles(directory=settings.asset(settings.static_dir)), name="static")
    app.include_router(health.router)
    app.include_router(search.router)
    app.include_router(images.router)
    app.include_router(models.router)
    app.include_router(pages.router)
    return app
