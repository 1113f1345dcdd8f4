"""``/docs``: the API's interactive documentation (Swagger UI), served from the vendored npm package so it
works without internet access, unlike FastAPI's default page, which loads Swagger UI from a CDN."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from server.api.deps import get_templates

router = APIRouter(include_in_schema=False)


@router.get("/docs", response_class=HTMLResponse)
def api_docs(request: Request, templates: Annotated[Jinja2Templates, Depends(get_templates)]) -> HTMLResponse:
    return templates.TemplateResponse(request, "api_docs.html")
