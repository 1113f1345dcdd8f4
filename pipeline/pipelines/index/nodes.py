"""Index: Faiss indexes over the image embeddings (text→image) and image features (image→image).

The index type follows the collection size (``params:index``); an index whose model version and ids are
unchanged is kept as it is.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from typing import Any

import numpy as np
import pandas as pd

from models.index import IndexPolicy, VectorIndex

logger = logging.getLogger(__name__)


def _policy(params: dict[str, Any]) -> IndexPolicy:
    return IndexPolicy(**{k: v for k, v in params.items() if k in IndexPolicy.__dataclass_fields__})


def _build(
    embeddings: pd.DataFrame, column: str, version: str, previous: VectorIndex | None, policy: IndexPolicy
) -> VectorIndex:
    ids = embeddings["image_id"].to_numpy(dtype=str)
    if (
        previous is not None
        and previous.meta.model_version == version
        and previous.meta.kind == policy.kind_for(len(ids))
        and np.array_equal(previous.ids, ids)
    ):
        logger.info("index: %s index unchanged (%d vectors)", column, len(ids))
        return previous
    vectors = np.stack(embeddings[column].to_numpy()) if len(embeddings) else np.zeros((0, 1), np.float32)
    index = VectorIndex.build(vectors, ids, version, policy)
    logger.info(
        "index: %s → %s over %d vectors in %.2f s, recall@10 vs exact %.3f",
        column,
        index.meta.factory,
        index.meta.count,
        index.meta.build_seconds,
        index.meta.recall_at_10,
    )
    return index


def build_indexes(
    embeddings: pd.DataFrame, bundle: dict[str, Any], previous: dict[str, VectorIndex] | None, params: dict[str, Any]
) -> tuple[dict[str, VectorIndex], dict[str, Any]]:
    """({"text": text→image index, "image": image→image index}, summary) for the current bundle."""
    previous = previous or {}
    version = bundle["version"]
    current = embeddings[embeddings["model_version"] == version].sort_values("image_id", ignore_index=True)
    if len(current) != len(embeddings):
        raise ValueError("embeddings from another model version are present; run the embed pipeline first")
    if current.empty:
        raise ValueError("no embeddings to index; run the ingest and embed pipelines first")
    policy = _policy(params)
    text_index = _build(current, "embedding", version, previous.get("text"), policy)
    image_index = _build(current, "features", version, previous.get("image"), policy)
    summary = {"text": asdict(text_index.meta), "image": asdict(image_index.meta)}
    return {"text": text_index, "image": image_index}, summary
