import numpy as np
import pandas as pd
import pytest

from pipeline.pipelines.index.nodes import build_indexes

PARAMS = {"flat_max": 50, "hnsw_max": 10_000, "hnsw_m": 16, "hnsw_ef_construction": 40, "hnsw_ef_search": 32}


def embeddings(n: int, version: str = "v1", seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)

    def unit(dim):
        v = rng.normal(size=(n, dim)).astype(np.float32)
        return list(v / np.linalg.norm(v, axis=1, keepdims=True))

    return pd.DataFrame(
        {
            "image_id": [f"id{i:04d}" for i in range(n)],
            "model_version": version,
            "embedding": unit(8),
            "features": unit(16),
        }
    )


def test_builds_both_indexes_with_the_bundle_version():
    built, summary = build_indexes(embeddings(20), {"version": "v1"}, None, PARAMS)
    text, image = built["text"], built["image"]
    assert (text.meta.dim, image.meta.dim) == (8, 16)
    assert text.meta.model_version == image.meta.model_version == "v1"
    assert summary["text"]["kind"] == "flat" and summary["image"]["count"] == 20


def test_size_decides_the_kind():
    built, summary = build_indexes(embeddings(200), {"version": "v1"}, None, PARAMS)
    assert built["text"].meta.kind == "hnsw" and summary["text"]["recall_at_10"] > 0.8


def test_unchanged_input_keeps_the_previous_index():
    table = embeddings(20)
    first, _ = build_indexes(table, {"version": "v1"}, None, PARAMS)
    again, _ = build_indexes(table, {"version": "v1"}, first, PARAMS)
    assert again["text"] is first["text"] and again["image"] is first["image"]
    changed, _ = build_indexes(embeddings(21), {"version": "v1"}, first, PARAMS)
    assert changed["text"] is not first["text"] and changed["text"].meta.count == 21
    other, _ = build_indexes(embeddings(20, "v2"), {"version": "v2"}, first, PARAMS)
    assert other["text"].meta.model_version == "v2"


def test_refuses_mixed_or_missing_embeddings():
    mixed = pd.concat([embeddings(3, "v1"), embeddings(3, "v2", seed=1)], ignore_index=True)
    with pytest.raises(ValueError, match="another model version"):
        build_indexes(mixed, {"version": "v1"}, None, PARAMS)
    with pytest.raises(ValueError, match="no embeddings"):
        build_indexes(embeddings(0), {"version": "v1"}, None, PARAMS)
