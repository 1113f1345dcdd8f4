"""Search: encode the query, search the version's index, attach metadata and descriptions."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from PIL import Image

from server.services.features import FeatureReader
from server.services.model_pool import LoadedModel


def _results(
    model: LoadedModel,
    features: FeatureReader,
    scores: np.ndarray,
    positions: np.ndarray,
    ids_of: np.ndarray,
    threshold: float | None = None,
) -> list[dict]:
    """Result rows in rank order; ``weak`` marks scores below the version's calibrated threshold."""
    hits = [(float(s), str(ids_of[p])) for s, p in zip(scores, positions, strict=True) if p >= 0]
    records = features.records([image_id for _, image_id in hits])
    out = []
    for (score, image_id), record in zip(hits, records, strict=True):
        if record is None:  # indexed but not (yet) published: skip rather than return a hole
            continue
        out.append(
            {
                "rank": len(out) + 1,
                "image_id": image_id,
                "score": round(score, 4),
                "weak": threshold is not None and score < threshold,
                "image_url": f"/api/images/{image_id}",
                "thumbnail_url": f"/api/images/{image_id}/thumbnail",
                "metadata": record.metadata,
                "description": {"alt": record.description["alt"], "long": record.description["long"]},
            }
        )
    return out


def _model_info(model: LoadedModel) -> dict[str, Any]:
    return {
        "version": model.version,
        "spec": model.spec,
        "bundle_version": model.bundle_version,
        "index_version": model.index_version,
    }


def search_text(model: LoadedModel, features: FeatureReader, query: str, k: int) -> dict[str, Any]:
    started = time.perf_counter()
    vector = model.text.encode_texts([query])
    encoded = time.perf_counter()
    scores, positions = model.text_index.search(vector, k)
    searched = time.perf_counter()
    results = _results(model, features, scores[0], positions[0], model.text_index.ids, model.weak_threshold)
    done = time.perf_counter()
    return {
        "query": query,
        "k": k,
        "model": _model_info(model),
        "weak_threshold": model.weak_threshold,
        "no_good_match": all(r["weak"] for r in results),
        "results": results,
        "timings_ms": {
            "encode": round((encoded - started) * 1000, 2),
            "search": round((searched - encoded) * 1000, 2),
            "features": round((done - searched) * 1000, 2),
        },
    }


def search_image(
    model: LoadedModel, features: FeatureReader, image: Image.Image, k: int, exclude: str | None = None
) -> dict[str, Any]:
    """Image→image in the version's image-feature space; ``exclude`` drops the query image itself."""
    started = time.perf_counter()
    pixels = model.image.preprocess.batch([image])
    _, vector = model.image.encode_pixels_and_features(pixels)
    encoded = time.perf_counter()
    scores, positions = model.image_index.search(vector, k + (1 if exclude else 0))
    keep = [i for i, p in enumerate(positions[0]) if p >= 0 and model.image_index.ids[p] != exclude][:k]
    searched = time.perf_counter()
    results = _results(model, features, scores[0][keep], positions[0][keep], model.image_index.ids)
    done = time.perf_counter()
    return {
        "query_image_id": exclude,
        "k": k,
        "model": _model_info(model),
        "weak_threshold": None,  # calibrated for text→image only; image→image similarities are not comparable
        "no_good_match": not results,
        "results": results,
        "timings_ms": {
            "encode": round((encoded - started) * 1000, 2),
            "search": round((searched - encoded) * 1000, 2),
            "features": round((done - searched) * 1000, 2),
        },
    }
