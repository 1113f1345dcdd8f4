"""Wide pictures (panoramas) looked at whole and in tiles shaped like ordinary photos.

The detectors take a square input. An ordinary 4:3 photo stretched to it keeps objects close to the shapes they
were trained on; a 4:1 panorama squashes every object to a third of its width, and the detector finds almost
nothing. Three coco-mini photos side by side (3.7:1; ``bench/panoramas.py``): stretched, 19 of the 248 objects
their captions name are found; each photo alone, 154; the panorama whole and in tiles, 148. Such a picture is
looked at whole and cut along its long side into overlapping tiles of the ordinary shape; each is detected on its
own, and the detections are merged back.
"""

from __future__ import annotations

import math

import numpy as np

from models.detectors.base import Detection

TILE_ABOVE = 2.0  # long side / short side beyond which a picture is tiled (16:9 is 1.78: looked at whole)
TILE_ASPECT = 4 / 3  # each tile's long side / short side: the shape of most photos the detectors learned from
OVERLAP = 0.2  # share of a tile's long side it shares with the next, so an object on a seam is whole in one
MIN_SHORT_SIDE = 256  # pixels: below this a tile would be enlarged more than 1.6 times to the 416-pixel input
SAME_OBJECT = 0.6  # two boxes of one class from neighbouring tiles are one object when this share of the smaller
# lies inside the larger (an object cut by a seam is part of its whole box in the next tile, at a low IoU)

Crop = tuple[int, int, int, int]  # x1, y1, x2, y2 in the picture's pixels


def tiles(width: int, height: int, *, tall: bool = False) -> list[Crop]:
    """The crops one picture is detected in: the whole picture, and for a wide panorama overlapping tiles along its
    long side as well (the whole keeps one long object, a train or a plane, from being cut into two). A tall
    picture is looked at whole unless ``tall``: most are phone screenshots, where a tile called a page's frame
    "possibly a refrigerator" (stacked photos gain as rows do; docs/models.md)."""
    whole = (0, 0, width, height)
    long, short = max(width, height), min(width, height)
    if short < MIN_SHORT_SIDE or long <= TILE_ABOVE * short or (height > width and not tall):
        return [whole]
    side = round(short * TILE_ASPECT)
    count = math.ceil((long - side * OVERLAP) / (side * (1 - OVERLAP)))
    starts = np.linspace(0, long - side, count).round().astype(int)
    if width >= height:
        return [whole] + [(int(s), 0, int(s) + side, height) for s in starts]
    return [whole] + [(0, int(s), width, int(s) + side) for s in starts]


def _ios(box: tuple[float, ...], other: tuple[float, ...]) -> float:
    """Intersection over the smaller box's area."""
    w = min(box[2], other[2]) - max(box[0], other[0])
    h = min(box[3], other[3]) - max(box[1], other[1])
    if w <= 0 or h <= 0:
        return 0.0
    smaller = min((box[2] - box[0]) * (box[3] - box[1]), (other[2] - other[0]) * (other[3] - other[1]))
    return w * h / max(smaller, 1e-9)


def merged(per_tile: list[list[Detection]], crops: list[Crop]) -> list[Detection]:
    """Each crop's detections (in the crop's pixels) → one list in the picture's, highest score first. A
    detection that is mostly inside a higher-scored one of the same class from another crop is the same object
    (seen whole and in a tile, twice in an overlap, or cut by a seam) and joins it: the box grows to cover both."""
    found = [
        (d.score, t, d.label, (d.box[0] + x, d.box[1] + y, d.box[2] + x, d.box[3] + y))
        for t, (detections, (x, y, _, _)) in enumerate(zip(per_tile, crops, strict=True))
        for d in detections
    ]
    found.sort(key=lambda f: -f[0])
    kept: list[list] = []  # [score, tiles, label, box]
    for score, tile, label, box in found:
        for other in kept:
            if other[2] == label and tile not in other[1] and _ios(box, other[3]) >= SAME_OBJECT:
                b = other[3]
                other[3] = (min(b[0], box[0]), min(b[1], box[1]), max(b[2], box[2]), max(b[3], box[3]))
                other[1].add(tile)
                break
        else:
            kept.append([score, {tile}, label, box])
    return [Detection(label, score, tuple(round(v, 1) for v in box)) for score, _, label, box in kept]
