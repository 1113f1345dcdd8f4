"""The one interface every object detector implements, beside the encoder interface (models/encoders/base.py)."""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image


@dataclass(frozen=True)
class Detection:
    """One object found in a picture: its class name, how sure the detector is, and where it is."""

    label: str  # class name, singular, e.g. "person", "dog", "traffic light"
    score: float  # 0–1, on the scale the describer's words assume (0.3 "possibly", 0.5 said plainly)
    box: tuple[float, float, float, float]  # x1, y1, x2, y2 in the original picture's pixels
    raw: float | None = None  # the model's own score, when ``score`` was rescaled from it (see ``rescaled``)

    @property
    def model_score(self) -> float:
        """The score as the model gave it: what the search's sentence of what was seen is built on."""
        return self.score if self.raw is None else self.raw

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
    def detect(self, images: list[Image.Image], whole: Sequence[bool] | None = None) -> list[list[Detection]]:
        """One list of detections per picture (any size or mode). ``whole[i]`` true looks at picture ``i`` whole
        whatever its shape: a cut-out is one object, and a long one must not be cut into tiles."""


class OnnxDetector(Detector):
    """A detector whose converted graph runs in an onnxruntime session; ``folder`` holds ``model.onnx`` and
    ``card.json``. A subclass says how a picture becomes the graph's input and how one picture's outputs become
    detections; scores come back on the card's said scale (``rescaled``), the model's own kept in ``raw``."""

    def __init__(
        self,
        folder: Path | str,
        threads: int | None = None,
        min_score: float = 0.3,  # on the model's own scores
        nms_iou: float = 0.45,
    ) -> None:
        from models.runtime import make_session

        folder = Path(folder)
        self.card = json.loads((folder / "card.json").read_text())
        self.session = make_session(folder / "model.onnx", threads)
        self.input_name = self.session.get_inputs()[0].name
        self.min_score = min_score
        self.nms_iou = nms_iou
        self.spec = self.card["spec"]

    @abstractmethod
    def to_input(self, image: Image.Image) -> np.ndarray:
        """One picture as the graph's input, without the batch dimension."""

    @abstractmethod
    def decode(self, outputs: list[np.ndarray], width: int, height: int) -> list[Detection]:
        """One picture's outputs (the batch dimension taken off) → detections in its own pixels."""

    def detect(
        self, images: list[Image.Image], whole: Sequence[bool] | None = None, batch_size: int = 4
    ) -> list[list[Detection]]:
        """A panorama is detected whole and in tiles shaped like ordinary photos (``models.detectors.tiles``), every
        other picture whole. Pictures and tiles share the batches."""
        from models.detectors.tiles import merged, tiles  # here: tiles.py builds Detections from this module

        whole = whole or [False] * len(images)
        crops = [[(0, 0, *im.size)] if w else tiles(*im.size) for im, w in zip(images, whole, strict=True)]
        views = [
            im.crop(c) if c != (0, 0, *im.size) else im for im, cut in zip(images, crops, strict=True) for c in cut
        ]
        per_view: list[list[Detection]] = []
        for start in range(0, len(views), batch_size):
            batch = views[start : start + batch_size]
            outputs = self.session.run(None, {self.input_name: np.stack([self.to_input(im) for im in batch])})
            per_view += [self.decode([o[i] for o in outputs], im.width, im.height) for i, im in enumerate(batch)]
        out: list[list[Detection]] = []
        start = 0
        for image_crops in crops:
            found = per_view[start : start + len(image_crops)]
            start += len(image_crops)
            one = found[0] if len(image_crops) == 1 else merged(found, image_crops)
            out.append(rescaled(one, self.card.get("said_scale")))
        return out


def rescaled(found: list[Detection], scale: dict | None) -> list[Detection]:
    """``found`` with each score mapped through ``scale`` ({"model": [...], "said": [...]}, piecewise linear;
    from the detector's card) and the model's own score kept in ``raw``. A detector whose 0.5 is less sure than
    the describer's "said plainly" assumes carries a scale fitted on coco-mini; ``None`` keeps scores as they
    are."""
    if not scale:
        return found
    return [
        Detection(d.label, round(float(np.interp(d.score, scale["model"], scale["said"])), 4), d.box, raw=d.score)
        for d in found
    ]


def counts(detections: list[Detection], min_score: float = 0.0) -> dict[str, int]:
    """How many of each class, most frequent first: {"person": 2, "dog": 1}."""
    return dict(Counter(d.label for d in detections if d.score >= min_score).most_common())


def detections_from_json(text: object) -> list[Detection]:
    """Detections as the see stage stores them (a JSON list of {label, score, box}); [] for none or missing."""
    if not isinstance(text, str) or not text:
        return []
    return [
        Detection(o["label"], float(o["score"]), tuple(o["box"]), raw=float(o["raw"]) if "raw" in o else None)
        for o in json.loads(text)
    ]
