"""The one interface every object detector implements, beside the encoder interface (models/encoders/base.py)."""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections import Counter
from dataclasses import dataclass

from PIL import Image


@dataclass(frozen=True)
class Detection:
    """One object found in a picture: its class name, how sure the detector is, and where it is."""

    label: str  # class name, singular, e.g. "person", "dog", "traffic light"
    score: float  # 0–1
    box: tuple[float, float, float, float]  # x1, y1, x2, y2 in the original picture's pixels

    def area_share(self, width: int, height: int) -> float:
        """How much of the picture the box covers, 0–1 (0 for an unknown picture size)."""
        if width <= 0 or height <= 0:
            return 0.0
        x1, y1, x2, y2 = self.box
        return max(0.0, x2 - x1) * max(0.0, y2 - y1) / (width * height)


class Detector(ABC):
    """Pictures → objects, each list sorted by score, highest first."""

    spec: str  # names the model and its version; every artifact built with it records this

    @abstractmethod
    def detect(self, images: list[Image.Image]) -> list[list[Detection]]:
        """One list of detections per picture (any size or mode)."""


def counts(detections: list[Detection], min_score: float = 0.0) -> dict[str, int]:
    """How many of each class, most frequent first: {"person": 2, "dog": 1}."""
    return dict(Counter(d.label for d in detections if d.score >= min_score).most_common())


def detections_from_json(text: object) -> list[Detection]:
    """Detections as the see stage stores them (a JSON list of {label, score, box}); [] for none or missing."""
    if not isinstance(text, str) or not text:
        return []
    return [Detection(o["label"], float(o["score"]), tuple(o["box"])) for o in json.loads(text)]
