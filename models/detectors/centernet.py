"""CenterNet (MobileNetV3 backbone) trained on COCO: 80 everyday classes, people included, at ~60 ms a photo.

The ONNX graph (built by ``models.detectors.build`` from a packaged TF.js model) ends at the two dense maps
CenterNet predicts on a 128 × 128 grid over its 512 × 512 input: ``heatmap`` (sigmoid score per class and cell)
and ``wh`` (distances from the cell's centre to the box's left, top, right and bottom edges, in input pixels).
Decoding — peaks, top-k, boxes, per-class NMS — is numpy here, so it is tested apart from the network.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from models.detectors.base import Detection, OnnxDetector
from models.detectors.boxes import check_min_score, in_picture

INPUT_SIDE = 512
STRIDE = 4  # input pixels per heatmap cell
# The standard COCO-80 order the model was trained with (0 = person).
COCO_CLASSES = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat", "traffic light",
    "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog", "horse", "sheep", "cow",
    "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella", "handbag", "tie", "suitcase", "frisbee",
    "skis", "snowboard", "sports ball", "kite", "baseball bat", "baseball glove", "skateboard", "surfboard",
    "tennis racket", "bottle", "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple",
    "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch",
    "potted plant", "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard", "cell phone",
    "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase", "scissors", "teddy bear",
    "hair drier", "toothbrush",
)  # fmt: skip


NEIGHBOURS = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if dy or dx]


def peaks(heatmap: np.ndarray, min_score: float) -> tuple[np.ndarray, np.ndarray]:
    """Flat indices (``(y * w + x) * classes + c``) and scores of the cells at or above ``min_score`` that are
    the maximum of their 3 × 3 neighbourhood in their class: CenterNet's replacement for anchor boxes, one peak
    per object centre. Only the few cells above the floor are compared, not all 1.3 M (52 → 2 ms a photo)."""
    grid_h, grid_w, n_classes = heatmap.shape
    flat = heatmap.ravel()
    index = np.flatnonzero(flat >= min_score)
    scores = flat[index]
    c = index % n_classes
    y, x = np.divmod(index // n_classes, grid_w)
    peak = np.ones(len(index), bool)
    for dy, dx in NEIGHBOURS:  # a neighbour off the grid is clipped onto the cell itself, which never beats it
        peak &= scores >= heatmap[np.clip(y + dy, 0, grid_h - 1), np.clip(x + dx, 0, grid_w - 1), c]
    return index[peak], scores[peak]


def decode(
    heatmap: np.ndarray,
    wh: np.ndarray,
    width: int,
    height: int,
    *,
    min_score: float,
    nms_iou: float,
    top_k: int = 100,
    classes: tuple[str, ...] = COCO_CLASSES,
) -> list[Detection]:
    """One picture's maps → detections in its own pixels. ``heatmap`` (h, w, classes), ``wh`` (h, w, 4)."""
    check_min_score(min_score)
    grid_h, grid_w, n_classes = heatmap.shape
    index, scores = peaks(heatmap, min_score)
    ranked = np.argsort(-scores, kind="stable")[:top_k]  # ties: the lower flat index first, as the graph ranks
    order, scores = index[ranked], scores[ranked]
    if not len(order):
        return []
    cls = order % n_classes
    cell = order // n_classes
    y, x = cell // grid_w, cell % grid_w
    left, top, right, bottom = wh[y, x].T
    boxes = np.stack([x * STRIDE - left, y * STRIDE - top, x * STRIDE + right, y * STRIDE + bottom], axis=1)
    return in_picture(boxes, scores, cls, (grid_w * STRIDE, grid_h * STRIDE), (width, height), nms_iou, classes)


def to_input(image: Image.Image) -> np.ndarray:
    """RGB, stretched to 512 × 512, float32 in 0–255 (the model sees nothing when scaled to 0–1)."""
    rgb = image.convert("RGB") if image.mode != "RGB" else image
    return np.asarray(rgb.resize((INPUT_SIDE, INPUT_SIDE), Image.Resampling.BILINEAR), np.float32)


class CenterNetDetector(OnnxDetector):
    """The converted CenterNet graph (``models.detectors.build``)."""

    def to_input(self, image: Image.Image) -> np.ndarray:
        return to_input(image)

    def decode(self, outputs: list[np.ndarray], width: int, height: int) -> list[Detection]:
        heatmap, wh = outputs
        return decode(heatmap, wh, width, height, min_score=self.min_score, nms_iou=self.nms_iou)
