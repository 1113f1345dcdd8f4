"""Evaluate: retrieval quality of the current bundle, through the same ONNX Runtime path the server uses."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from pipeline.source_notes import read_source_notes

logger = logging.getLogger(__name__)


def _stamps(manifest: Path, collection: str) -> list[tuple[Path, str]]:
    """(image, description) pairs of one collection of the demo manifest."""
    notes = read_source_notes(manifest).values()
    rows = [row for row in notes if row.get("collection") == collection and row.get("description")]
    return [
        (manifest.parent / row["file"], row["description"]) for row in rows if (manifest.parent / row["file"]).exists()
    ]


def _fingerprint(coco: Path, stamps: list[tuple[Path, str]]) -> str:
    coco_files = len(list(coco.glob("*/*.jpg"))) if coco.exists() else 0
    return f"coco:{coco_files};stamps:{len(stamps)}"


def evaluate_model(bundle: dict[str, Any], previous: dict[str, Any] | None, params: dict[str, Any]) -> dict[str, Any]:
    """Recall@1/5/10 on coco-mini (text→image, image→text) and the captioned Tux Paint stamps.

    Reuses the previous result when neither the bundle nor the evaluation data changed.
    """
    from models.evaluation import evaluate_encoders
    from models.runtime import OnnxImageEncoder, OnnxTextEncoder

    coco = Path(params["coco_root"])
    stamps = _stamps(Path(params["demo_manifest"]), params["stamps_collection"])
    fingerprint = _fingerprint(coco, stamps)
    if previous and previous.get("bundle_version") == bundle["version"] and previous.get("data") == fingerprint:
        logger.info("evaluate: bundle %s already evaluated on %s", bundle["version"], fingerprint)
        return previous
    if not coco.exists():
        logger.warning("evaluate: %s not found; coco-mini metrics skipped", coco)
    started = time.perf_counter()
    text = OnnxTextEncoder(bundle["folder"], queries=True)  # what the server encodes queries with
    metrics = evaluate_encoders(text, OnnxImageEncoder(bundle["folder"]), coco, stamps)
    logger.info(
        "evaluate: %s in %.0f s: %s",
        bundle["spec"],
        time.perf_counter() - started,
        ", ".join(f"{k} {v:.3f}" for k, v in metrics.items() if "R@" in k),
    )
    return {"spec": bundle["spec"], "bundle_version": bundle["version"], "data": fingerprint, "metrics": metrics}
