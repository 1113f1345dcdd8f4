"""NanoDet (GFL head, three strides) trained on COCO: the default detector, ~40 ms a photo on two cores.

The ONNX graph (built by ``models.detectors.build`` from the same npm package as CenterNet) ends at the three
head maps the network predicts over its 416 × 416 input, one per stride (8, 16, 32): per cell, 80 class logits
then 4 × 11 logits of a distribution over the distance (0–10 strides) from the cell's centre to the box's left,
top, right and bottom edges. Decoding — sigmoid scores, expected distances, boxes, per-class NMS — is numpy
here, so it is tested apart from the network.

Chosen over CenterNet because it finds more of what people name: of the COCO objects at least two of five
captions name, 97 of 133 on coco-mini and 118 of 155 on the held-out photos at a score of 0.3, against
CenterNet's 85 and 96 (docs/models.md).
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from models.detectors.base import Detection, OnnxDetector
from models.detectors.boxes import check_min_score, in_picture
from models.detectors.centernet import COCO_CLASSES

INPUT_SIDE = 416
STRIDES = (8, 16, 32)
BINS = 11  # the distance distribution's support: 0, 1, … 10 strides
MEAN_BGR = np.array([103.53, 116.28, 123.675], np.float32)  # the training normalisation, BGR order
STD_BGR = np.array([57.375, 57.12, 58.395], np.float32)


def to_input(image: Image.Image) -> np.ndarray:
    """(3, 416, 416) float32: the picture stretched to the input, BGR, normalised as in training."""
    rgb = image.convert("RGB") if image.mode != "RGB" else image
    x = np.asarray(rgb.resize((INPUT_SIDE, INPUT_SIDE), Image.Resampling.BILINEAR), np.float32)
    return ((x[..., ::-1] - MEAN_BGR) / STD_BGR).transpose(2, 0, 1)


def level_boxes(head: np.ndarray, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """One stride's head (80 + 44, h, w) → class scores (h·w, 80) and boxes (h·w, 4) in input pixels."""
    n_classes = head.shape[0] - 4 * BINS
    h, w = head.shape[1:]
    scores = 1 / (1 + np.exp(-head[:n_classes].reshape(n_classes, h * w).T))
    logits = head[n_classes:].reshape(4, BINS, h * w)
    weights = np.exp(logits - logits.max(axis=1, keepdims=True))
    distance = (weights * np.arange(BINS)[None, :, None]).sum(axis=1) / weights.sum(axis=1) * stride  # (4, h·w)
    y, x = np.divmod(np.arange(h * w), w)
    cx, cy = (x + 0.5) * stride, (y + 0.5) * stride
    boxes = np.stack([cx - distance[0], cy - distance[1], cx + distance[2], cy + distance[3]], axis=1)
    return scores, boxes


def decode(
    heads: list[np.ndarray],
    width: int,
    height: int,
    *,
    min_score: float,
    nms_iou: float,
    top_k: int = 100,
    classes: tuple[str, ...] = COCO_CLASSES,
) -> list[Detection]:
    """One picture's head maps (one (80 + 44, h, w) array per stride) → detections in its own pixels."""
    check_min_score(min_score)
    all_scores, all_boxes, all_classes = [], [], []
    for head, stride in zip(heads, STRIDES, strict=True):
        scores, boxes = level_boxes(head, stride)
        cell, cls = np.nonzero(scores >= min_score)
        all_scores.append(scores[cell, cls])
        all_boxes.append(boxes[cell])
        all_classes.append(cls)
    scores = np.concatenate(all_scores)
    if not len(scores):
        return []
    ranked = np.argsort(-scores, kind="stable")[: top_k * 10]  # NMS keeps at most top_k of these below
    scores, cls = scores[ranked], np.concatenate(all_classes)[ranked]
    boxes = np.concatenate(all_boxes)[ranked]
    return in_picture(boxes, scores, cls, (INPUT_SIDE, INPUT_SIDE), (width, height), nms_iou, classes, top_k)


class NanoDetDetector(OnnxDetector):
    """The converted NanoDet graph (``models.detectors.build``)."""

    def to_input(self, image: Image.Image) -> np.ndarray:
        return to_input(image)

    def decode(self, outputs: list[np.ndarray], width: int, height: int) -> list[Detection]:
        return decode(outputs, width, height, min_score=self.min_score, nms_iou=self.nms_iou)
