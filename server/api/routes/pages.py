"""Server-rendered pages."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from server.api.deps import get_collection, get_templates
from server.services.collection import CollectionSummary

router = APIRouter(tags=["pages"], include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def home(
    request: Request,
    templates: Annotated[Jinja2Templates, Depends(get_templates)],
    collection: Annotated[CollectionSummary, Depends(get_collection)],
) -> HTMLResponse:
    return templates.TemplateResponse(request, "index.html", {"collection": collection})
