"""Uploaded query images: size, type and pixel limits checked before any full decode."""

from __future__ import annotations

import io
import warnings

from PIL import Image, UnidentifiedImageError

ACCEPTED = {"JPEG", "MPO", "PNG", "WEBP", "GIF", "BMP", "TIFF"}


class UploadError(ValueError):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


def decode_upload(data: bytes, max_bytes: int, max_pixels: int) -> Image.Image:
    """A fully decoded RGB(A) image, or UploadError (413 too large, 415 not an image, 422 broken or a bomb)."""
    if not data:
        raise UploadError(422, "empty_upload", "the uploaded file is empty")
    if len(data) > max_bytes:
        raise UploadError(413, "upload_too_large", f"the upload is {len(data)} bytes; the limit is {max_bytes}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except (UnidentifiedImageError, Image.DecompressionBombError):
        raise UploadError(415, "not_an_image", "the upload is not an image in a supported format") from None
    except Exception:  # noqa: BLE001 - any decoder failure is the client's broken file
        raise UploadError(422, "broken_image", "the image cannot be read") from None
    if image.format not in ACCEPTED:
        raise UploadError(415, "unsupported_format", f"{image.format} images are not supported; use JPEG, PNG or WebP")
    width, height = image.size
    if width * height > max_pixels:
        raise UploadError(422, "image_too_large", f"{width}×{height} pixels is over the {max_pixels}-pixel limit")
    try:
        image.load()
    except Exception:  # noqa: BLE001
        raise UploadError(422, "broken_image", "the image is truncated or corrupt") from None
    return image
