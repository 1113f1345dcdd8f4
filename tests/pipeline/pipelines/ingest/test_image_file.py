import io

import numpy as np
import pytest
from PIL import Image

from pipeline.pipelines.ingest.image_file import Limits, RejectedImageError, image_id_for, read_image
from tests.fixtures.images import (
    HOSTILE_NON_IMAGES,
    encode,
    heic_start,
    jpeg_with_exif,
    photo,
    png_bomb,
    truncated_jpeg,
)

LIMITS = Limits()


@pytest.mark.parametrize(
    ("fmt", "expected", "kwargs"),
    [
        ("JPEG", "jpeg", {}),
        ("PNG", "png", {}),
        ("WEBP", "webp", {}),
        ("AVIF", "avif", {"quality": 60}),
        ("GIF", "gif", {}),
        ("BMP", "bmp", {}),
        ("TIFF", "tiff", {}),
    ],
)
def test_reads_every_accepted_format(fmt, expected, kwargs):
    data = encode(photo(300, 200), fmt, **kwargs)
    record = read_image(data, LIMITS)
    assert record.format == expected
    assert (record.width, record.height) == (300, 200)
    assert record.image_id == image_id_for(data)
    thumb = Image.open(io.BytesIO(record.thumbnail))
    assert thumb.format == "JPEG"
    assert max(thumb.size) == 256 and thumb.size == (record.thumbnail_width, record.thumbnail_height)


def test_small_images_are_not_upscaled():
    record = read_image(encode(photo(40, 30), "PNG"), LIMITS)
    assert (record.thumbnail_width, record.thumbnail_height) == (40, 30)


def test_exif_date_camera_and_orientation():
    record = read_image(jpeg_with_exif(orientation=6), LIMITS)
    assert record.exif_datetime == "2021-07-04T18:30:00"
    assert record.camera == "Acme Shooter 3000"  # make not repeated when the model already names it
    assert (record.width, record.height) == (40, 80)  # rotated a quarter turn, as a viewer shows it
    thumb = Image.open(io.BytesIO(record.thumbnail))
    assert thumb.height > thumb.width


def test_no_exif_gives_none():
    record = read_image(encode(photo(), "PNG"), LIMITS)
    assert record.exif_datetime is None and record.camera is None


def test_transparency_is_composited_on_white():
    rgba = Image.new("RGBA", (10, 10), (255, 0, 0, 0))
    record = read_image(encode(rgba, "PNG"), LIMITS)
    pixel = Image.open(io.BytesIO(record.thumbnail)).getpixel((5, 5))
    assert all(channel > 240 for channel in pixel)


def test_sixteen_bit_png_is_scaled_not_clipped():
    ramp = (np.arange(64 * 8, dtype=np.uint16).reshape(8, 64) * 120).astype(np.uint16)
    record = read_image(encode(Image.fromarray(ramp), "PNG"), LIMITS)
    thumb = np.asarray(Image.open(io.BytesIO(record.thumbnail)).convert("L"))
    assert thumb.min() < 30 and thumb.max() > 220  # a full ramp, not a white square


def test_same_bytes_same_id_and_different_bytes_different_id():
    a = encode(photo(seed=1), "PNG")
    b = encode(photo(seed=2), "PNG")
    assert image_id_for(a) == image_id_for(bytes(a))
    assert image_id_for(a) != image_id_for(b)
    assert len(image_id_for(a)) == 32


def _reason(data: bytes, limits: Limits = LIMITS) -> str:
    with pytest.raises(RejectedImageError) as caught:
        read_image(data, limits)
    assert str(caught.value)  # every rejection explains itself
    return caught.value.reason


def test_empty_file_is_rejected():
    assert _reason(b"") == "empty"


def test_truncated_jpeg_is_rejected():
    assert _reason(truncated_jpeg()) == "corrupt"


def test_corrupt_png_chunk_is_rejected():
    data = bytearray(encode(photo(200, 200), "PNG"))
    data[len(data) // 2 : len(data) // 2 + 64] = b"\xff" * 64
    assert _reason(bytes(data)) == "corrupt"


@pytest.mark.parametrize("name", sorted(HOSTILE_NON_IMAGES))
def test_non_images_are_rejected(name):
    assert _reason(HOSTILE_NON_IMAGES[name]) == "not_an_image"


def test_decompression_bomb_is_rejected_from_the_header():
    bomb = png_bomb(12_000)
    assert len(bomb) < 1_000_000
    assert _reason(bomb) == "decompression_bomb"


def test_pixel_limit_is_configurable():
    data = encode(photo(100, 100), "PNG")
    assert _reason(data, Limits(max_pixels=5_000)) == "decompression_bomb"


def test_byte_limit():
    data = encode(photo(100, 100), "PNG")
    assert _reason(data, Limits(max_bytes=100)) == "too_large"


def test_unsupported_but_valid_format_is_rejected():
    assert _reason(encode(photo(16, 16), "ICO")) == "unsupported_format"


@pytest.mark.parametrize(("major", "compatible"), [(b"heic", (b"mif1", b"heic")), (b"mif1", (b"heic",)), (b"heix", ())])
def test_heic_is_refused_with_what_to_do(major, compatible):
    with pytest.raises(RejectedImageError) as caught:
        read_image(heic_start(major, compatible), LIMITS)
    assert caught.value.reason == "unsupported_format" and "save them as JPEG" in str(caught.value)


def test_an_iso_media_file_that_is_not_heif_is_not_called_heic():
    movie = heic_start(b"isom", (b"iso2", b"mp41"))  # an MP4's ftyp box
    assert _reason(movie) == "not_an_image"
