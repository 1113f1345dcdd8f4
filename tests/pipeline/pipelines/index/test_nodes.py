import json

import numpy as np
import pandas as pd
import pytest

from pipeline.pipelines.index.nodes import build_indexes as build
from pipeline.pipelines.index.nodes import word_documents

NOTHING_SEEN = pd.DataFrame(columns=["image_id", "signature", "objects", "text_lines", "text"])
NOT_DESCRIBED = pd.DataFrame(columns=["image_id", "signature", "alt", "long", "evidence"])


def build_indexes(table, bundle, previous, params):
    """The node with nothing seen or described (what these tests of the vector indexes need)."""
    return build(table, NOTHING_SEEN, NOT_DESCRIBED, bundle, previous, params)


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


def test_word_documents_count_objects_in_peoples_words_and_carry_text_descriptions_and_words_misread():
    ids = pd.Series(["a", "b", "c"])
    person = {"label": "person", "score": 0.9, "box": [0, 0, 1, 1]}
    seen = pd.DataFrame(
        {
            "objects": [json.dumps([person, person, {"label": "dog", "score": 0.4, "box": [0, 0, 1, 1]}]), "[]", "[]"],
            "text_lines": [
                "[]",
                json.dumps([{"text": "STOP YIELD PENNSYINANIA", "confidence": 0.9, "box": [0, 0, 1, 1]}]),
                "[]",
            ],
            "text": ["", "STOP YIELD PENNSYINANIA", ""],
        },
        index=ids,
    )
    described = pd.DataFrame(
        {
            "image_id": ["a", "b"],
            "alt": ["Two people", "A sign"],
            "long": ["It shows two people.", "Text reads STOP."],
            "evidence": [json.dumps({"source_description": "Harbour walk"}), "{}"],
        }
    )
    docs = word_documents(ids, seen, described).set_index("image_id")
    assert docs.loc["a", "objects"].startswith("two person people man men woman")
    assert docs.loc["a", "objects"].endswith(" dog") and "no dog" not in docs.loc["a", "objects"]  # not counted
    assert docs.loc["a", "source"] == "Harbour walk" and docs.loc["b", "text"] == "STOP YIELD PENNSYINANIA"
    assert docs.loc["b", "description"] == "A sign. Text reads STOP."
    assert docs.loc["b", "misread"] == "pennsyinania"  # the one word read that is in no dictionary
    assert docs.loc["c"].tolist() == ["", "", "", "", ""]
