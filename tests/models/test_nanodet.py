"""NanoDet decoding on head maps the test writes, and the converted packaged model on real photos."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from models.detectors import counts, resolve_folder
from models.detectors.centernet import COCO_CLASSES
from models.detectors.nanodet import BINS, INPUT_SIDE, STRIDES, decode, level_boxes, to_input
from models.evaluation import coco_root

DETECTOR = resolve_folder("nanodet")
COCO = coco_root()
PERSON, DOG = COCO_CLASSES.index("person"), COCO_CLASSES.index("dog")
SURE_LOGIT = 20.0  # a distance bin this far above the others holds practically all of the distribution


def heads(objects: list[tuple[int, int, int, int, float, tuple[int, int, int, int]]]) -> list[np.ndarray]:
    """Head maps for the three strides, with one cell per object: (level, y, x, class, score, edge distances in
    strides); every other cell scores ~0."""
    out = []
    for stride in STRIDES:
        side = INPUT_SIDE // stride
        head = np.zeros((80 + 4 * BINS, side, side), np.float32)
        head[:80] = -20.0
        out.append(head)
    for level, y, x, cls, score, edges in objects:
        out[level][cls, y, x] = np.log(score / (1 - score))  # the logit of the score
        for side, distance in enumerate(edges):
            out[level][80 + side * BINS + distance, y, x] = SURE_LOGIT
    return out


def test_a_cell_becomes_a_box_from_its_centre_and_expected_edge_distances() -> None:
    # stride 16, cell (y 10, x 5): centre (88, 168) in the 416 input; edges 2, 3, 4, 1 strides away
    found = decode(heads([(1, 10, 5, DOG, 0.8, (2, 3, 4, 1))]), 832, 208, min_score=0.3, nms_iou=0.45)
    assert [d.label for d in found] == ["dog"]
    assert found[0].score == pytest.approx(0.8, abs=1e-4)
    # input box (56, 120, 152, 184), scaled ×2 horizontally and ×0.5 vertically
    assert found[0].box == pytest.approx((112, 60, 304, 92), abs=0.2)


def test_the_distance_is_the_mean_of_its_distribution() -> None:
    head = np.zeros((80 + 4 * BINS, 1, 1), np.float32)  # every bin equally likely: 5 strides on every side
    scores, boxes = level_boxes(head, 32)
    assert scores.shape == (1, 80) and scores[0, 0] == pytest.approx(0.5)
    assert boxes[0] == pytest.approx((16 - 160, 16 - 160, 16 + 160, 16 + 160))


def test_weak_cells_and_overlaps_of_one_class_are_dropped_and_counts_add_up() -> None:
    found = decode(
        heads(
            [
                (0, 10, 10, PERSON, 0.9, (2, 4, 2, 4)),
                (0, 10, 11, PERSON, 0.7, (2, 4, 2, 4)),  # one stride over: the same person, suppressed
                (0, 10, 11, DOG, 0.6, (2, 4, 2, 4)),  # the same box, another class: kept
                (2, 6, 6, PERSON, 0.55, (1, 2, 1, 2)),  # another person, on the coarsest level
                (1, 3, 3, DOG, 0.2, (1, 1, 1, 1)),  # below min_score
            ]
        ),
        416,
        416,
        min_score=0.3,
        nms_iou=0.45,
    )
    assert [d.label for d in found] == ["person", "dog", "person"]
    assert [d.score for d in found] == sorted((d.score for d in found), reverse=True)
    assert counts(found) == {"person": 2, "dog": 1}


def test_boxes_stay_inside_the_picture_and_nothing_found_is_empty() -> None:
    found = decode(heads([(2, 0, 0, DOG, 0.9, (10, 10, 1, 1))]), 300, 200, min_score=0.3, nms_iou=0.45)
    x1, y1, x2, y2 = found[0].box
    assert (x1, y1) == (0, 0) and 0 < x2 <= 300 and 0 < y2 <= 200
    assert decode(heads([]), 640, 480, min_score=0.3, nms_iou=0.45) == []
    with pytest.raises(ValueError, match="min_score"):
        decode(heads([]), 64, 64, min_score=1.5, nms_iou=0.45)


def test_the_input_is_bgr_normalised_as_in_training() -> None:
    x = to_input(Image.new("RGB", (30, 20), (123, 116, 103)))  # about the training mean, in RGB
    assert x.shape == (3, INPUT_SIDE, INPUT_SIDE) and x.dtype == np.float32
    assert np.abs(x).max() < 0.02
    red = to_input(Image.new("L", (5, 5), 0).convert("RGB"))
    assert red[0, 0, 0] == pytest.approx(-103.53 / 57.375)  # channel 0 is blue
