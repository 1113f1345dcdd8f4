"""Index: Faiss indexes over the image embeddings (text→image) and image features (image→image), and the word
index over what was seen and said about each image.

The text→image vectors are the image embeddings blended with the embedding of what the see stage found
(``seen_blend``, fitted by bench/perception.py), so a query for "two dogs" finds the photo the detector counted
two dogs in. The index type follows the collection size (``params:index``); an index whose model version, ids
and inputs are unchanged is kept as it is.
"""

from __future__ import annotations

import hashlib
import json
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
    embeddings: pd.DataFrame,
    column: str,
    version: str,
    previous: VectorIndex | None,
    policy: IndexPolicy,
    inputs: str = "",
    vectors=None,
) -> VectorIndex:
    """``vectors`` (a callable giving them) replaces the column's own when the index mixes in more."""
    ids = embeddings["image_id"].to_numpy(dtype=str)
    if (
        previous is not None
        and previous.meta.model_version == version
        and previous.meta.kind == policy.kind_for(len(ids))
        and previous.meta.rerank == (policy.ivf_rerank if previous.meta.kind == "ivfpq" else 0)
        and previous.meta.inputs == inputs
        and np.array_equal(previous.ids, ids)
    ):
        logger.info("index: %s index unchanged (%d vectors)", column, len(ids))
        return previous
    if vectors is not None:
        matrix = vectors()
    else:
        matrix = np.stack(embeddings[column].to_numpy()) if len(embeddings) else np.zeros((0, 1), np.float32)
    index = VectorIndex.build(matrix, ids, version, policy, inputs)
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
    embeddings: pd.DataFrame,
    sightings: pd.DataFrame,
    descriptions: pd.DataFrame,
    bundle: dict[str, Any],
    previous: dict[str, Any] | None,
    params: dict[str, Any],
) -> tuple[dict[str, Any], dict[str, Any]]:
    """({"text": text→image index, "image": image→image index, "words": word documents}, summary) for the
    current bundle."""
    previous = previous or {}
    version = bundle["version"]
    current = embeddings[embeddings["model_version"] == version].sort_values("image_id", ignore_index=True)
    if len(current) != len(embeddings):
        raise ValueError("embeddings from another model version are present; run the embed pipeline first")
    if current.empty:
        raise ValueError("no embeddings to index; run the ingest and embed pipelines first")
    policy = _policy(params)
    weight = float(params.get("seen_blend", 0.0))
    seen = sightings.set_index("image_id").reindex(current["image_id"]) if len(sightings) else None
    sentences = _seen_sentences(seen, len(current))
    inputs = _fingerprint(weight, sentences) if weight > 0 else ""
    text_index = _build(
        current,
        "embedding",
        version,
        previous.get("text"),
        policy,
        inputs,
        vectors=(lambda: _blended(current, sentences, bundle, weight)) if weight > 0 else None,
    )
    image_index = _build(current, "features", version, previous.get("image"), policy)
    words = word_documents(current["image_id"], seen, descriptions)
    summary = {
        "text": asdict(text_index.meta),
        "image": asdict(image_index.meta),
        "words": {
            "documents": len(words),
            "weight": float(params.get("words_weight", 0.0)),
            "exact_weight": float(params.get("words_exact_weight", 0.0)),
        },
    }
    weights = {k: v for k, v in summary["words"].items() if k != "documents"}
    return {"text": text_index, "image": image_index, "words": words, "words_weights": weights}, summary


def _seen_sentences(seen: pd.DataFrame | None, count: int) -> list[str]:
    from accessibility.objects import seen_sentence
    from models.detectors import detections_from_json

    if seen is None:
        return [""] * count
    out = []
    for objects, lines in zip(seen["objects"], seen["text_lines"], strict=True):
        found = detections_from_json(objects)
        out.append(seen_sentence(found, [t["text"] for t in _json_list(lines)]))
    return out


def _json_list(value: Any) -> list[dict]:
    return json.loads(value) if isinstance(value, str) and value else []


def _fingerprint(weight: float, sentences: list[str]) -> str:
    digest = hashlib.sha256(f"seen-blend {weight}".encode())
    for text in sentences:
        digest.update(text.encode() + b"\x1f")
    return digest.hexdigest()[:16]


def _blended(current: pd.DataFrame, sentences: list[str], bundle: dict[str, Any], weight: float) -> np.ndarray:
    """The image embeddings pulled towards the bundle's text embedding of what was seen in each image."""
    from models.fusion import blend, seen_vectors
    from models.runtime import OnnxTextEncoder

    seen = seen_vectors(OnnxTextEncoder(bundle["folder"], threads=2), sentences)
    return blend(np.stack(current["embedding"].to_numpy()).astype(np.float32), seen, weight)


def words_in_no_dictionary(text: str) -> str:
    """The words read in a picture that are in no dictionary ("PENNSYINANIA", not "YIELD"): the ones a query word
    may match as a misreading of it (models/lexical.py)."""
    from accessibility.wordnet import is_english
    from models.lexical import read_words

    return " ".join(sorted(w for w in read_words(text) if not is_english(w)))


def word_documents(ids: pd.Series, seen: pd.DataFrame | None, descriptions: pd.DataFrame) -> pd.DataFrame:
    """One document per image for the word index: the objects counted (with the words people use for them),
    the text read, the alt and long descriptions and the collection's own description; and the words read that
    are in no dictionary ("PENNSYINANIA"), which a query word may match as a misreading of it."""
    from accessibility.objects import NUMBERS, tally
    from models.detectors import detections_from_json
    from models.lexical import objects_text

    described = descriptions.set_index("image_id").reindex(ids) if len(descriptions) else None
    rows = []
    for i, image_id in enumerate(ids):
        objects_words, text = "", ""
        if seen is not None:
            found = detections_from_json(seen["objects"].iloc[i])
            objects_words = " ".join(  # "two person people man …": a count word only for what was counted
                f"{NUMBERS[min(s.count, len(NUMBERS) - 1)] + ' ' if s.count else ''}{objects_text([s.name])}"
                for s in tally(found)
            )
            text = seen["text"].iloc[i] if isinstance(seen["text"].iloc[i], str) else ""
        alt = long = source = ""
        if described is not None and isinstance(described["alt"].iloc[i], str):
            alt, long = described["alt"].iloc[i], described["long"].iloc[i]
            evidence = json.loads(described["evidence"].iloc[i] or "{}")
            source = evidence.get("source_description") or ""
        rows.append(
            {
                "image_id": image_id,
                "objects": objects_words,
                "text": text,
                "description": f"{alt}. {long}" if alt else "",
                "source": source,
                "misread": words_in_no_dictionary(text),
            }
        )
    return pd.DataFrame(rows, columns=["image_id", "objects", "text", "description", "source", "misread"])
