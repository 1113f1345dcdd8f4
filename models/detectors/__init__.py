"""Object detectors: what is in a picture and how many (see base.Detector)."""

from models.detectors.base import Detection, Detector, counts, detections_from_json

__all__ = ["Detection", "Detector", "counts", "detections_from_json"]
