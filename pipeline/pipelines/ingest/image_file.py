"""Read one image file into a metadata record and a thumbnail, or explain why it cannot be used.

Kept free of Kedro and pandas so that it can run in any worker (threads, processes, Dask).
"""

from __future__ import annotations

import hashlib
import io
import re
import warnings
from dataclasses import dataclass
from datetime import datetime

from PIL import Image, ImageOps, UnidentifiedImageError

from models.image_formats import HEIF_MESSAGE, SHORT_NAMES, is_heif
from models.preprocess import to_rgb

_EXIF_IFD = 0x8769
_TAG_DATETIME = 306
_TAG_DATETIME_ORIGINAL = 36867
_TAG_MAKE = 271
_TAG_MODEL = 272
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class Limits:
    """Input limits; anything beyond them is rejected before it can exhaust memory."""

    max_bytes: int = 100 * 1024 * 1024
    max_pixels: int = 100_000_000
    thumbnail_size: int = 256
    thumbnail_quality: int = 85


@dataclass(frozen=True)
class ImageRecord:
    image_id: str
    format: str
    width: int
    height: int
    exif_datetime: str | None
    camera: str | None
    thumbnail: bytes
    thumbnail_width: int
    thumbnail_height: int


class RejectedImageError(Exception):
    """A file that cannot be ingested; ``reason`` is a short stable code, ``str()`` the human detail."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason

    def __reduce__(self):  # pickled between Dask workers: rebuild with both arguments
        return (type(self), (self.reason, str(self)))


def image_id_for(data: bytes) -> str:
    """Content hash of the original bytes: stable across runs and machines, equal for copies."""
    return hashlib.sha256(data).hexdigest()[:32]


def read_image(data: bytes, limits: Limits) -> ImageRecord:
    """Decode ``data`` fully (so truncation is caught), collect metadata and make a JPEG thumbnail.

    Raises ``RejectedImageError`` for anything that is not a usable image.
    """
    if not data:
        raise RejectedImageError("empty", "the file is empty (0 bytes)")
    if len(data) > limits.max_bytes:
        raise RejectedImageError("too_large", f"{len(data)} bytes is over the {limits.max_bytes}-byte limit")
    try:
        with warnings.catch_warnings():
            # Pillow warns above its own pixel limit; we apply ours below, from the header alone.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        if is_heif(data):
            raise RejectedImageError("unsupported_format", HEIF_MESSAGE) from None
        raise RejectedImageError("not_an_image", "not a recognised image format") from None
    except Image.DecompressionBombError as exc:
        raise RejectedImageError("decompression_bomb", str(exc)) from None
    except Exception as exc:  # noqa: BLE001 - any decoder failure is a rejection, never a crash
        raise RejectedImageError("corrupt", f"cannot open: {exc}") from None

    with image:
        fmt = SHORT_NAMES.get(image.format or "")
        if fmt is None:
            raise RejectedImageError("unsupported_format", f"{image.format} images are not supported")
        width, height = image.size
        if width <= 0 or height <= 0:
            raise RejectedImageError("corrupt", f"invalid dimensions {width}x{height}")
        if width * height > limits.max_pixels:
            raise RejectedImageError(
                "decompression_bomb",
                f"{width}x{height} = {width * height} pixels is over the {limits.max_pixels}-pixel limit",
            )
        _verify(data)
        exif_datetime, camera = _exif_fields(image)
        if _exif_orientation(image) in (5, 6, 7, 8):  # rotated a quarter turn: report it as a viewer shows it
            width, height = height, width
        try:
            # JPEG can decode at 1/2..1/8 scale directly: much faster for thumbnails, still reads every byte.
            image.draft("RGB", (limits.thumbnail_size * 2, limits.thumbnail_size * 2))
            image.load()
            thumb = to_rgb(ImageOps.exif_transpose(image))
            thumb.thumbnail((limits.thumbnail_size, limits.thumbnail_size), Image.Resampling.LANCZOS, reducing_gap=2.0)
        except Image.DecompressionBombError as exc:
            raise RejectedImageError("decompression_bomb", str(exc)) from None
        except Exception as exc:  # noqa: BLE001 - truncated streams, bad chunks, broken palettes …
            raise RejectedImageError("corrupt", f"cannot decode: {exc}") from None

    out = io.BytesIO()
    thumb.save(out, "JPEG", quality=limits.thumbnail_quality, optimize=True)
    return ImageRecord(
        image_id=image_id_for(data),
        format=fmt,
        width=width,
        height=height,
        exif_datetime=exif_datetime,
        camera=camera,
        thumbnail=out.getvalue(),
        thumbnail_width=thumb.width,
        thumbnail_height=thumb.height,
    )


def _verify(data: bytes) -> None:
    """Pillow's structural check (PNG chunk CRCs and the like): catches damage that decoding can miss."""
    try:
        with Image.open(io.BytesIO(data)) as fresh:
            fresh.verify()
    except Exception as exc:  # noqa: BLE001
        raise RejectedImageError("corrupt", f"failed integrity check: {exc}") from None


def _exif_orientation(image: Image.Image) -> int:
    try:
        return int(image.getexif().get(0x0112, 1))
    except Exception:  # noqa: BLE001 - broken EXIF never rejects an otherwise good image
        return 1


def _exif_fields(image: Image.Image) -> tuple[str | None, str | None]:
    """Capture date (ISO 8601) and camera name from EXIF, or None when absent or malformed."""
    try:
        exif = image.getexif()
        sub = exif.get_ifd(_EXIF_IFD)
    except Exception:  # noqa: BLE001
        return None, None
    raw_date = sub.get(_TAG_DATETIME_ORIGINAL) or exif.get(_TAG_DATETIME)
    date = None
    if isinstance(raw_date, str):
        try:
            date = datetime.strptime(_clean(raw_date), "%Y:%m:%d %H:%M:%S").isoformat()
        except ValueError:
            date = None
    make = _clean(exif.get(_TAG_MAKE))
    model = _clean(exif.get(_TAG_MODEL))
    if make and model and model.lower().startswith(make.lower()):
        make = ""
    camera = " ".join(part for part in (make, model) if part) or None
    return date, camera


def _clean(value: object, limit: int = 100) -> str:
    """Printable, trimmed text from an untrusted EXIF value."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return ""
    return _CONTROL_CHARS.sub("", value).strip()[:limit]
