"""Panoramas looked at whole and in tiles shaped like ordinary photos; detections merged back."""

from __future__ import annotations

from itertools import pairwise

import pytest
from PIL import Image

from models.detectors import Detection, open_detector, resolve_folder
from models.detectors.tiles import MIN_SHORT_SIDE, OVERLAP, TILE_ABOVE, TILE_ASPECT, merged, tiles
from models.evaluation import coco_root

COCO = coco_root()


def test_ordinary_and_small_pictures_are_looked_at_whole() -> None:
    assert tiles(640, 480) == [(0, 0, 640, 480)]
    assert tiles(1920, 1080) == [(0, 0, 1920, 1080)]  # 16:9 stays whole
    assert tiles(round(TILE_ABOVE * 500), 500) == [(0, 0, 1000, 500)]  # up to the limit itself
    assert tiles(1200, MIN_SHORT_SIDE - 1) == [(0, 0, 1200, MIN_SHORT_SIDE - 1)]  # an icon or a long cut-out


def test_a_tall_picture_is_looked_at_whole_unless_asked() -> None:
    assert tiles(946, 2048) == [(0, 0, 946, 2048)]  # a phone screenshot
    assert len(tiles(946, 2048, tall=True)) == 3


@pytest.mark.parametrize(("width", "height"), [(2048, 512), (1500, 700), (512, 2048), (3000, 300)])
def test_a_panorama_is_covered_by_overlapping_tiles_of_the_ordinary_shape(width: int, height: int) -> None:
    crops = tiles(width, height, tall=True)
    assert crops[0] == (0, 0, width, height) and len(crops) >= 3
    wide = width > height
    spans = [(c[0], c[2]) if wide else (c[1], c[3]) for c in crops[1:]]
    short = min(width, height)
    for (x1, y1, x2, y2), (start, end) in zip(crops[1:], spans, strict=True):
        assert (y1, y2) == (0, height) if wide else (x1, x2) == (0, width)
        assert end - start == round(short * TILE_ASPECT)
    assert spans[0][0] == 0 and spans[-1][1] == max(width, height)  # every pixel in some tile
    for (_, end), (start, _) in pairwise(spans):
        assert end - start >= OVERLAP * (spans[0][1] - spans[0][0]) - 1  # neighbours share a strip


def box(x1: float, x2: float, label: str = "person", score: float = 0.5) -> Detection:
    return Detection(label, score, (x1, 10.0, x2, 90.0))


def test_one_object_seen_whole_in_tiles_and_cut_by_a_seam_is_one_object() -> None:
    crops = [(0, 0, 400, 100), (0, 0, 133, 100), (107, 0, 240, 100)]
    whole = [box(100, 140, score=0.4)]
    first = [box(100, 133, score=0.7)]  # cut by the first tile's right edge
    second = [box(0, 33, score=0.6)]  # the same person whole in the next tile (at 107-140)
    found = merged([whole, first, second], crops)
    assert [(d.label, d.score) for d in found] == [("person", 0.7)]
    assert found[0].box == (100.0, 10.0, 140.0, 90.0)  # grown to cover what each crop saw


def test_distinct_objects_stay_apart() -> None:
    crops = [(0, 0, 400, 100), (0, 0, 133, 100), (107, 0, 240, 100)]
    first = [box(10, 50), box(14, 46, score=0.45), box(110, 130, score=0.4)]  # one tile's own NMS kept all three
    second = [box(3, 23, score=0.35), box(0, 30, "dog")]  # the third person again (110-130), a dog at 107-137
    found = merged([[], first, second], crops)
    assert sorted((d.label, d.box[0]) for d in found) == [("dog", 107), ("person", 10), ("person", 14), ("person", 110)]
    assert merged([[], [], []], crops) == []


needs_nanodet = pytest.mark.skipif(not (resolve_folder() / "model.onnx").exists(), reason="no detector (make setup)")


@needs_nanodet
@pytest.mark.skipif(not COCO.exists(), reason=f"no coco-mini at {COCO} (GLIMPSE_COCO)")
def test_a_panorama_is_seen_in_tiles_where_stretched_it_is_not() -> None:
    """Three photos side by side (3.8:1): stretched to the square input, the skier and his dog are missed."""
    names = ("000000030752", "000000000790", "000000037666")  # the skier and dog first
    photos = [Image.open(COCO / f"train2017/{n}.jpg").convert("RGB") for n in names]
    photos = [p.resize((round(p.width * 480 / p.height), 480)) for p in photos]
    strip = Image.new("RGB", (sum(p.width for p in photos), 480))
    for p, x in zip(photos, [0, photos[0].width, photos[0].width + photos[1].width], strict=True):
        strip.paste(p, (x, 0))
    detector = open_detector(threads=2)
    tiled, stretched = detector.detect([strip, strip], whole=[False, True])
    first = photos[0].width

    def in_first(found: list[Detection]) -> set[str]:
        return {d.label for d in found if d.box[2] <= first + 10}

    assert {"person", "dog"} <= in_first(tiled)
    assert not {"person", "dog"} <= in_first(stretched)
    assert all(0 <= d.box[0] < d.box[2] <= strip.width and 0 <= d.box[1] < d.box[3] <= 480 for d in tiled)
