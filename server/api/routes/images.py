"""Images of the collection: originals, thumbnails and descriptions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path
from fastapi.responses import Response

from models.image_formats import CONTENT_TYPES
from server.api.deps import get_features, get_settings
from server.api.errors import ApiError
from server.api.responses import binary_response, error_responses
from server.core.config import Settings
from server.schemas import ImageDescription
from server.services.features import FeatureReader
from server.services.originals import OriginalUnavailableError, read_original

router = APIRouter(prefix="/api/images", tags=["images"])

ImageId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="content hash of the image")]
ERRORS = error_responses(404, 422, 503, describe={404: "No image with this id", 422: "Not an image id (32 hex)"})
CACHE = {"Cache-Control": "public, max-age=31536000, immutable"}  # ids are content hashes


@router.get(
    "/{image_id}",
    summary="The original image",
    response_class=Response,
    responses={
        **binary_response("The original bytes", *CONTENT_TYPES.values(), "application/octet-stream"),
        **ERRORS,
    },
)
def original(
    image_id: ImageId,
    settings: Annotated[Settings, Depends(get_settings)],
    features: Annotated[FeatureReader, Depends(get_features)],
) -> Response:
    try:
        data, record = read_original(settings, features, image_id)
    except OriginalUnavailableError as exc:
        raise ApiError(404, exc.code, str(exc)) from None
    media = CONTENT_TYPES.get(record.metadata["format"], "application/octet-stream")
    return Response(data, media_type=media, headers=CACHE | {"X-Content-Type-Options": "nosniff"})


@router.get(
    "/{image_id}/thumbnail",
    summary="JPEG thumbnail, longest side ≤ 256 px",
    response_class=Response,
    responses={**binary_response("The thumbnail", "image/jpeg"), **ERRORS},
)
def thumbnail(image_id: ImageId, features: Annotated[FeatureReader, Depends(get_features)]) -> Response:
    data = features.thumbnail(image_id)
    if data is None:
        raise ApiError(404, "unknown_image", f"there is no image {image_id}")
    return Response(data, media_type="image/jpeg", headers=CACHE | {"X-Content-Type-Options": "nosniff"})


@router.get(
    "/{image_id}/description",
    summary="Alt text, long description and metadata",
    responses=ERRORS,
)
def description(image_id: ImageId, features: Annotated[FeatureReader, Depends(get_features)]) -> ImageDescription:
    record = features.records([image_id])[0]
    if record is None:
        raise ApiError(404, "unknown_image", f"there is no image {image_id}")
    return ImageDescription(image_id=image_id, description=record.description, metadata=record.metadata)
