"""The picture formats Glimpse reads: one table for the pipeline's ingest, the API's uploads and originals.

Pillow decodes them all from its own wheel (AVIF included since Pillow 11.2). HEIC/HEIF, an iPhone's usual
format, needs an HEVC decoder: pillow-heif 1.9 has one, but its wheels are GPLv2 as a whole (they bundle x265),
so it is not a default dependency. HEIC is recognised from its header and refused with a message that says what
to do, never silently skipped.
"""

from __future__ import annotations

# Pillow's format name -> (the short name stored with the image, the media type its original is served as).
# MPO is the multi-picture JPEG some cameras write.
FORMATS: dict[str, tuple[str, str]] = {
    "JPEG": ("jpeg", "image/jpeg"),
    "MPO": ("jpeg", "image/jpeg"),
    "PNG": ("png", "image/png"),
    "WEBP": ("webp", "image/webp"),
    "AVIF": ("avif", "image/avif"),
    "GIF": ("gif", "image/gif"),
    "BMP": ("bmp", "image/bmp"),
    "TIFF": ("tiff", "image/tiff"),
}
SHORT_NAMES: dict[str, str] = {pillow: short for pillow, (short, _) in FORMATS.items()}
CONTENT_TYPES: dict[str, str] = {short: media for short, media in FORMATS.values()}

# ISO base media file brands of HEIF images and sequences (ISO/IEC 23008-12), HEVC-coded or generic.
_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs", b"heif", b"mif1", b"msf1"}
_AV1_BRANDS = {b"avif", b"avis"}

HEIF_MESSAGE = "HEIC and HEIF pictures (an iPhone's usual format) cannot be read; save them as JPEG and try again"


def is_heif(data: bytes) -> bool:
    """True when ``data`` starts like a HEIC/HEIF file that is not AVIF (which Pillow reads)."""
    if len(data) < 16 or data[4:8] != b"ftyp":
        return False
    size = int.from_bytes(data[:4], "big")
    box = data[8 : min(max(size, 16), 256)]  # major brand, minor version, then the compatible brands
    brands = {box[:4]} | {box[i : i + 4] for i in range(8, len(box) - 3, 4)}
    return bool(brands & _HEIF_BRANDS) and not brands & _AV1_BRANDS
