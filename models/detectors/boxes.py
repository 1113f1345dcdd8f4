"""Boxes the detectors' decoders share: overlap, per-class non-maximum suppression, and detections in a
picture's own pixels from boxes in the network's input."""

from __future__ import annotations

import numpy as np

from models.detectors.base import Detection


def check_min_score(min_score: float) -> None:
    """A score floor outside (0, 1] is a configuration error, said before any work."""
    if not 0 < min_score <= 1:
        raise ValueError(f"min_score must lie in (0, 1], not {min_score}")


def iou(box: np.ndarray, others: np.ndarray) -> np.ndarray:
    """Intersection over union of one box (4,) with each of ``others`` (n, 4)."""
    x1 = np.maximum(box[0], others[:, 0])
    y1 = np.maximum(box[1], others[:, 1])
    x2 = np.minimum(box[2], others[:, 2])
    y2 = np.minimum(box[3], others[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (others[:, 2] - others[:, 0]) * (others[:, 3] - others[:, 1])
    return inter / np.maximum(area + areas - inter, 1e-9)


def nms(boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray, threshold: float) -> list[int]:
    """Indices kept by per-class non-maximum suppression, highest score first."""
    keep: list[int] = []
    for c in np.unique(classes):
        members = np.flatnonzero(classes == c)
        members = members[np.argsort(-scores[members], kind="stable")]
        while len(members):
            best, members = members[0], members[1:]
            keep.append(int(best))
            members = members[iou(boxes[best], boxes[members]) < threshold]
    return sorted(keep, key=lambda i: -scores[i])


def in_picture(
    boxes: np.ndarray,
    scores: np.ndarray,
    classes: np.ndarray,
    input_size: tuple[int, int],
    picture_size: tuple[int, int],
    nms_iou: float,
    names: tuple[str, ...],
    top_k: int | None = None,
) -> list[Detection]:
    """Boxes (n, 4) in the input's pixels → detections in the picture's, clipped to it, after per-class NMS,
    highest score first, at most ``top_k``; boxes left empty by clipping are dropped."""
    width, height = picture_size
    scale = np.array([width, height, width, height], np.float64) / np.array(list(input_size) * 2, np.float64)
    boxes = np.clip(boxes * scale, 0, [width, height, width, height])
    kept = nms(boxes, scores, classes, nms_iou)[:top_k]
    return [
        Detection(names[int(classes[i])], round(float(scores[i]), 4), tuple(round(float(v), 1) for v in boxes[i]))
        for i in kept
        if boxes[i, 2] > boxes[i, 0] and boxes[i, 3] > boxes[i, 1]
    ]
