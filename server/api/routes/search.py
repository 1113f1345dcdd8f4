"""Text→image and image→image search."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Query, UploadFile
from fastapi.concurrency import run_in_threadpool

from server.api.deps import get_features, get_model, get_settings
from server.api.errors import ApiError
from server.core.config import Settings
from server.services.features import FeatureReader
from server.services.model_pool import LoadedModel
from server.services.search import search_image, search_text
from server.services.uploads import UploadError, query_image

router = APIRouter(prefix="/api/search", tags=["search"])

MAX_QUERY = 500


def clean_query(raw: str) -> str:
    """Trimmed, whitespace-collapsed query without control characters; 422 when empty or too long."""
    text = re.sub(r"[\x00-\x1f\x7f]+", " ", raw)
    text = " ".join(text.split())
    if not text:
        raise ApiError(422, "invalid_request", "q: the query is empty; type a few words")
    if len(text) > MAX_QUERY:
        raise ApiError(422, "invalid_request", f"q: the query has {len(text)} characters; the limit is {MAX_QUERY}")
    return text


@router.get("", summary="Search images by text")
def search(
    q: Annotated[str, Query(description="What to look for, 1–500 characters", max_length=10_000)],
    model: Annotated[LoadedModel, Depends(get_model)],
    features: Annotated[FeatureReader, Depends(get_features)],
    k: Annotated[int, Query(ge=1, le=100, description="How many results, 1–100")] = 10,
) -> dict:
    return search_text(model, features, clean_query(q), k)


@router.post("/image", summary="Search images by an image (upload, or the id of an indexed image)")
async def search_by_image(
    model: Annotated[LoadedModel, Depends(get_model)],
    features: Annotated[FeatureReader, Depends(get_features)],
    settings: Annotated[Settings, Depends(get_settings)],
    file: Annotated[UploadFile | None, File(description="JPEG, PNG, WebP, GIF, BMP or TIFF, ≤ 10 MB")] = None,
    image_id: Annotated[str | None, Form(description="id of an image in the collection")] = None,
    k: Annotated[int, Form(ge=1, le=100)] = 10,
) -> dict:
    data = await file.read(settings.max_upload_bytes + 1) if file is not None else None
    try:
        image, source_id = await run_in_threadpool(query_image, settings, features, data, image_id)
    except UploadError as exc:
        raise ApiError(exc.status, exc.code, str(exc)) from None
    return await run_in_threadpool(search_image, model, features, image, k, source_id)
