import pytest

from models.image_formats import CONTENT_TYPES, FORMATS, SHORT_NAMES, is_heif
from tests.fixtures.images import encode, heic_start, photo


def test_every_format_read_has_a_media_type_to_serve_it_with():
    assert set(SHORT_NAMES) == set(FORMATS) and set(SHORT_NAMES.values()) == set(CONTENT_TYPES)
    assert all(media.startswith("image/") for media in CONTENT_TYPES.values())


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (heic_start(), True),
        (heic_start(b"mif1", (b"heic",)), True),
        (heic_start(b"msf1", (b"hevc",)), True),  # a HEIF image sequence (burst, live photo)
        (encode(photo(32, 24), "AVIF"), False),  # AVIF is HEIF too (mif1), but Pillow reads it
        (heic_start(b"isom", (b"mp41",)), False),  # an MP4
        (heic_start()[:12], False),  # too short to say
        (b"\x00\x00\x00\x18ftyp", False),
        (encode(photo(32, 24), "PNG"), False),
        (b"", False),
    ],
)
def test_heif_is_known_from_its_brands(data, expected):
    assert is_heif(data) is expected
