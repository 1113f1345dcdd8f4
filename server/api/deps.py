"""Dependencies shared by the routes."""

from __future__ import annotations

from fastapi import Request
from fastapi.templating import Jinja2Templates

from server.core.config import Settings
from server.services.collection import CollectionSummary, summarise


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_templates(request: Request) -> Jinja2Templates:
    return request.app.state.templates


def get_collection(request: Request) -> CollectionSummary:
    settings: Settings = request.app.state.settings
    return summarise(settings.path(settings.images_table))
