"""Text→image and image→image search."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Query, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from server.api.deps import get_features, get_model, get_served, get_settings
from server.api.errors import ApiError
from server.api.schemas import SearchAnswer, error_responses
from server.core.config import Settings
from server.services.experiment import Routed
from server.services.features import FeatureReader
from server.services.search import search_image, search_similar, search_text
from server.services.served import ServedCounter
from server.services.uploads import UploadError, query_image

router = APIRouter(prefix="/api/search", tags=["search"])

MAX_QUERY = 500


CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]+")  # C0 and C1 control characters
UNDECODABLE = "\ufffd"  # what the URL decoder puts in place of bytes that are not UTF-8


def clean_query(raw: str) -> str:
    """Trimmed, whitespace-collapsed query without control characters; 422 when empty, too long or not text.

    The browser's cache key (client/static/js/cache-key.js) applies the same rules, so a key names one query.
    """
    if UNDECODABLE in raw:
        raise ApiError(422, "invalid_request", "q: the query is not UTF-8 text; some of its bytes cannot be read")
    text = " ".join(CONTROL.sub(" ", raw).split())
    if not text:
        raise ApiError(422, "invalid_request", "q: the query is empty; type a few words")
    if len(text) > MAX_QUERY:
        raise ApiError(422, "invalid_request", f"q: the query has {len(text)} characters; the limit is {MAX_QUERY}")
    return text


def answered(answer: dict, routed: Routed, served: ServedCounter, *, votable: bool = True) -> dict:
    """The answer labelled with its A/B arm; a search whose results can be voted on is counted for the
    feedback rates (an uploaded picture has no id to vote with)."""
    answer["model"]["arm"] = routed.arm
    if votable:
        served.add(answer["model"]["version"])
    return answer


@router.get(
    "",
    summary="Search images by text",
    response_model=None,
    responses={200: {"model": SearchAnswer}, **error_responses(404, 414, 422, 503)},
)
def search(
    q: Annotated[str, Query(description="What to look for, 1–500 characters", max_length=10_000)],
    routed: Annotated[Routed, Depends(get_model)],
    features: Annotated[FeatureReader, Depends(get_features)],
    served: Annotated[ServedCounter, Depends(get_served)],
    k: Annotated[int, Query(ge=1, le=100, description="How many results, 1–100")] = 10,
) -> JSONResponse:
    answer = search_text(routed.model, features, clean_query(q), k)
    return JSONResponse(answered(answer, routed, served))


@router.post(
    "/image",
    summary="Search images by an image (upload, or the id of an indexed image)",
    response_model=None,
    responses={200: {"model": SearchAnswer}, **error_responses(400, 404, 413, 415, 422, 503)},
)
async def search_by_image(
    routed: Annotated[Routed, Depends(get_model)],
    features: Annotated[FeatureReader, Depends(get_features)],
    settings: Annotated[Settings, Depends(get_settings)],
    served: Annotated[ServedCounter, Depends(get_served)],
    # A multipart part is absent, never null: typed without None so the schema declares a plain binary field
    # (with `| None` it is `anyOf [binary, null]`, which /docs and schema-driven clients do not offer as a file).
    file: Annotated[UploadFile, File(description="JPEG, PNG, WebP, GIF, BMP or TIFF, ≤ 10 MB")] = None,
    image_id: Annotated[str | None, Form(description="id of an image in the collection")] = None,
    k: Annotated[int, Form(ge=1, le=100)] = 10,
) -> JSONResponse:
    data = await file.read(settings.max_upload_bytes + 1) if file is not None else None
    try:
        if data is None and image_id is not None:  # an image of the collection: its stored vector
            answer = await run_in_threadpool(search_similar, settings, routed.model, features, image_id, k)
            return JSONResponse(answered(answer, routed, served, votable=True))
        image, _ = await run_in_threadpool(query_image, settings, features, data, image_id)
    except UploadError as exc:
        raise ApiError(exc.status, exc.code, str(exc)) from None
    answer = await run_in_threadpool(search_image, routed.model, features, image, k)
    return JSONResponse(answered(answer, routed, served, votable=False))
