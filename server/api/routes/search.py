"""Text→image and image→image search."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Query, UploadFile
from fastapi.concurrency import run_in_threadpool

from server.api.deps import get_features, get_model, get_served, get_settings
from server.api.errors import ApiError
from server.api.responses import error_responses
from server.core.config import Settings
from server.schemas import SearchAnswer
from server.services.experiment import Routed
from server.services.features import FeatureReader
from server.services.search import QueryError, clean_query, search_image, search_similar, search_text
from server.services.served import ServedCounter
from server.services.uploads import UploadError, query_image

router = APIRouter(prefix="/api/search", tags=["search"])


def cleaned(q: str) -> str:
    """The query as searched, or the API's 422 naming the parameter."""
    try:
        return clean_query(q)
    except QueryError as exc:
        raise ApiError(422, "invalid_request", f"q: {exc}") from None


def answered(answer: SearchAnswer, routed: Routed, served: ServedCounter, *, votable: bool = True) -> SearchAnswer:
    """The answer labelled with its A/B arm; a search whose results can be voted on is counted for the
    feedback rates (an uploaded picture has no id to vote with)."""
    answer.model.arm = routed.arm
    if votable:
        served.add(answer.model.version)
    return answer


@router.get(
    "",
    summary="Search images by text",
    responses=error_responses(404, 414, 422, 503),
)
def search(
    q: Annotated[str, Query(description="What to look for, 1–500 characters", max_length=10_000)],
    routed: Annotated[Routed, Depends(get_model)],
    features: Annotated[FeatureReader, Depends(get_features)],
    served: Annotated[ServedCounter, Depends(get_served)],
    k: Annotated[int, Query(ge=1, le=100, description="How many results, 1–100")] = 10,
    spell: Annotated[
        bool, Query(description="Respell words in no dictionary and not in the collection (false: search as typed)")
    ] = True,
) -> SearchAnswer:
    return answered(search_text(routed.model, features, cleaned(q), k, spell), routed, served)


@router.post(
    "/image",
    summary="Search images by an image (upload, or the id of an indexed image)",
    responses=error_responses(400, 404, 413, 415, 422, 503),
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
) -> SearchAnswer:
    data = await file.read(settings.max_upload_bytes + 1) if file is not None else None
    try:
        if data is None and image_id is not None:  # an image of the collection: its stored vector
            answer = await run_in_threadpool(search_similar, settings, routed.model, features, image_id, k)
            return answered(answer, routed, served, votable=True)
        image, _ = await run_in_threadpool(query_image, settings, features, data, image_id)
    except UploadError as exc:
        raise ApiError(exc.status, exc.code, str(exc)) from None
    answer = await run_in_threadpool(search_image, routed.model, features, image, k)
    return answered(answer, routed, served, votable=False)
