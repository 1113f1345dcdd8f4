"""Liveness and readiness probes."""

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from server.api.deps import get_collection
from server.services.collection import CollectionSummary

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process is up")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="The collection is loaded and can be served")
def readyz(collection: Annotated[CollectionSummary, Depends(get_collection)]) -> JSONResponse:
    body = {"ready": collection.ready, "images": collection.images, "problem": collection.problem or None}
    return JSONResponse(body, status_code=200 if collection.ready else 503)
