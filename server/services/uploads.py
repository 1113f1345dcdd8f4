"""Uploaded query images: size, type and pixel limits checked before any full decode."""

from __future__ import annotations

import io
import re
import warnings

from PIL import Image, UnidentifiedImageError

from models.image_formats import HEIF_MESSAGE, SHORT_NAMES, is_heif
from server.core.config import Settings
from server.services.features import FeatureReader
from server.services.originals import OriginalUnavailableError, read_original


class UploadError(ValueError):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


def decode_upload(data: bytes, max_bytes: int | None, max_pixels: int) -> Image.Image:
    """A fully decoded RGB(A) image, or UploadError (413 too many bytes or pixels, 415 not an image, 422 broken).
    ``max_bytes`` None: no size limit (a collection's own file, which the pipeline already accepted)."""
    if not data:
        raise UploadError(422, "empty_upload", "the uploaded file is empty")
    if max_bytes is not None and len(data) > max_bytes:
        raise UploadError(413, "upload_too_large", f"the upload is {len(data)} bytes; the limit is {max_bytes}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as exc:  # PIL's own limit, checked on the header: far over ours
        found = re.search(r"\((\d+) pixels\)", str(exc))
        size = f"{int(found.group(1)):,} pixels" if found else "too many pixels"
        raise UploadError(413, "image_too_large", f"the image has {size}; the limit is {max_pixels:,}") from None
    except UnidentifiedImageError:
        if is_heif(data):
            raise UploadError(415, "unsupported_format", HEIF_MESSAGE) from None
        raise UploadError(415, "not_an_image", "the upload is not an image in a supported format") from None
    except Exception:  # noqa: BLE001 - any decoder failure is the client's broken file
        raise UploadError(422, "broken_image", "the image cannot be read") from None
    if image.format not in SHORT_NAMES:
        raise UploadError(415, "unsupported_format", f"{image.format} images are not supported; use JPEG, PNG or WebP")
    width, height = image.size
    if width * height > max_pixels:
        size = f"{width}×{height} = {width * height:,} pixels"
        raise UploadError(413, "image_too_large", f"the image has {size}; the limit is {max_pixels:,}")
    try:
        image.load()
    except Exception:  # noqa: BLE001
        raise UploadError(422, "broken_image", "the image is truncated or corrupt") from None
    return image


IMAGE_ID = re.compile(r"[0-9a-f]{32}")  # use with fullmatch


def query_image(
    settings: Settings, features: FeatureReader, data: bytes | None, image_id: str | None
) -> tuple[Image.Image, str | None]:
    """The image a query is made with — an upload or an image of the collection — and that image's id if it
    has one (so results can leave it out). Every failure is an UploadError with status, code and message."""
    if (data is None) == (image_id is None):
        raise UploadError(422, "invalid_request", "send either an image file or an image_id, not both or neither")
    if image_id is None:
        return decode_upload(data, settings.max_upload_bytes, settings.max_upload_pixels), None
    source_id = collection_image_id(features, image_id)
    return original_image(settings, features, source_id), source_id


def original_image(settings: Settings, features: FeatureReader, image_id: str) -> Image.Image:
    """An image of the collection, decoded from its original file (UploadError 404 when the file is gone)."""
    try:
        data, _ = read_original(settings, features, image_id)
    except OriginalUnavailableError as exc:
        raise UploadError(404, exc.code, str(exc)) from None
    # The collection's own file is not an upload: the upload size limit does not apply (a 13 MB wallpaper of
    # the demo collection answered 413 "the upload is too large" before, found by bench/soak.py).
    return decode_upload(data, None, settings.max_upload_pixels)


def collection_image_id(features: FeatureReader, image_id: str) -> str:
    """An image id as the store keys it (trimmed, lower case) if the store has that image; UploadError 422 for
    a malformed id, 404 for an unknown one."""
    source_id = image_id.strip().lower()
    if not IMAGE_ID.fullmatch(source_id):
        raise UploadError(422, "invalid_request", "image_id must be 32 hexadecimal characters")
    if features.records([source_id])[0] is None:
        raise UploadError(404, "unknown_image", f"there is no image {source_id}")
    return source_id
