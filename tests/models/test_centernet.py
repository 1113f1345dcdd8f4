"""CenterNet decoding on maps the test writes, and the converted packaged model on real photos."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

from models.detectors import counts, resolve_folder
from models.detectors.boxes import nms
from models.detectors.centernet import COCO_CLASSES, decode, peaks
from models.evaluation import coco_root

DETECTOR = resolve_folder("centernet")
COCO = coco_root()
PERSON, DOG = COCO_CLASSES.index("person"), COCO_CLASSES.index("dog")


def maps(
    objects: list[tuple[int, int, int, float, tuple[float, float, float, float]]],
) -> tuple[np.ndarray, np.ndarray]:
    """A 128×128 heatmap with a peak (and a lower shoulder beside it) per object, and its edge distances."""
    heat = np.zeros((128, 128, 80), np.float32)
    wh = np.zeros((128, 128, 4), np.float32)
    for y, x, c, score, edges in objects:
        heat[y, x, c] = score
        heat[y, x + 1, c] = score * 0.9  # the next cell of the same blob is not a second object
        wh[y, x] = edges
    return heat, wh


def test_a_peak_becomes_a_box_in_the_pictures_own_pixels() -> None:
    heat, wh = maps([(32, 64, DOG, 0.8, (40, 20, 60, 80))])  # centre (256, 128) in the 512 input
    found = decode(heat, wh, 1024, 256, min_score=0.3, nms_iou=0.45)
    assert [d.label for d in found] == ["dog"]
    x1, y1, x2, y2 = found[0].box
    # input box (216, 108, 316, 208), scaled ×2 horizontally and ×0.5 vertically
    assert (x1, y1, x2, y2) == pytest.approx((432, 54, 632, 104))
    assert found[0].score == pytest.approx(0.8)


def test_shoulders_and_weak_peaks_are_not_objects_and_counts_add_up() -> None:
    heat, wh = maps(
        [
            (20, 20, PERSON, 0.9, (10, 30, 10, 30)),
            (20, 60, PERSON, 0.7, (10, 30, 10, 30)),
            (90, 90, DOG, 0.6, (20, 20, 20, 20)),
            (100, 10, DOG, 0.2, (20, 20, 20, 20)),  # below min_score
        ]
    )
    found = decode(heat, wh, 512, 512, min_score=0.3, nms_iou=0.45)
    assert [d.label for d in found] == ["person", "person", "dog"]
    assert [d.score for d in found] == sorted((d.score for d in found), reverse=True)
    assert counts(found) == {"person": 2, "dog": 1}


def test_peaks_keep_only_local_maxima_per_class() -> None:
    heat = np.zeros((5, 5, 2), np.float32)
    heat[2, 2, 0], heat[2, 3, 0], heat[2, 3, 1], heat[0, 4, 1] = 0.5, 0.4, 0.45, 0.35  # the last in a corner
    index, scores = peaks(heat, 0.3)
    cells = {tuple(map(int, np.unravel_index(i, heat.shape))): float(s) for i, s in zip(index, scores, strict=True)}
    assert cells == {(2, 2, 0): 0.5, (2, 3, 1): pytest.approx(0.45), (0, 4, 1): pytest.approx(0.35)}


def reference_top(heat: np.ndarray, min_score: float, top_k: int = 100) -> list[int]:
    """The decoding the graph was converted from: 3 × 3 max-pool over every cell, keep equals, rank all."""
    padded = np.pad(heat, ((1, 1), (1, 1), (0, 0)), constant_values=-np.inf)
    local_max = sliding_window_view(padded, (3, 3), axis=(0, 1)).max(axis=(-2, -1))
    flat = np.where(heat == local_max, heat, 0.0).ravel()
    order = np.argsort(-flat, kind="stable")[:top_k]
    return order[flat[order] >= min_score].tolist()


@pytest.mark.parametrize("seed", range(6))
def test_peaks_rank_as_the_full_max_pool_does(seed: int) -> None:
    rng = np.random.default_rng(seed)
    heat = (rng.random((32, 40, 5)) ** 8).astype(np.float32)  # many cells above 0.3, ties from rounding
    heat = np.round(heat, 2)
    index, scores = peaks(heat, 0.3)
    ranked = index[np.argsort(-scores, kind="stable")][:100]
    assert ranked.tolist() == reference_top(heat, 0.3)
    with pytest.raises(ValueError, match="min_score"):
        decode(heat, np.zeros((32, 40, 4), np.float32), 64, 64, min_score=0.0, nms_iou=0.45)


def test_nms_merges_overlaps_of_one_class_only() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [0, 0, 10, 10], [50, 50, 60, 60]], np.float64)
    scores = np.array([0.9, 0.8, 0.7, 0.6])
    classes = np.array([0, 0, 1, 0])
    assert nms(boxes, scores, classes, 0.45) == [0, 2, 3]


def test_an_empty_heatmap_finds_nothing() -> None:
    heat, wh = maps([])
    assert decode(heat, wh, 640, 480, min_score=0.3, nms_iou=0.45) == []
