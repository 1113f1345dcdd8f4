"""Search: encode the query, search the version's index (fused with its word index for text), attach metadata,
descriptions and why each result matched."""

from __future__ import annotations

import re
import time
from typing import Any, Literal

import numpy as np
from PIL import Image

from models.lexical import reasons
from server.core.config import Settings
from server.schemas import Description, ModelInfo, Respelled, Result, SearchAnswer
from server.services.features import FeatureReader
from server.services.model_pool import LoadedModel
from server.services.uploads import collection_image_id, original_image

CANDIDATES = 200  # dense candidates a text query's word matches are fused with
MAX_QUERY = 500
# C0 and C1 control characters, and the bidirectional formatting ones (embeddings, overrides, isolates and marks),
# which would reorder the text around a query wherever it is shown
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]+")
UNDECODABLE = "\ufffd"  # what the URL decoder puts in place of bytes that are not UTF-8


class QueryError(ValueError):
    """A query that cannot be searched; ``reason`` says which rule it broke, the message says it to a person."""

    def __init__(self, reason: Literal["not_text", "empty", "too_long"], message: str) -> None:
        super().__init__(message)
        self.reason = reason


def clean_query(raw: str) -> str:
    """Trimmed, whitespace-collapsed query without control characters; QueryError when empty, too long or not
    text. The browser's cache key (client/static/js/cache-key.js) applies the same rules, so a key names one query.
    """
    if UNDECODABLE in raw:
        raise QueryError("not_text", "the query is not UTF-8 text; some of its bytes cannot be read")
    text = " ".join(CONTROL.sub(" ", raw).split())
    if not text:
        raise QueryError("empty", "the query is empty; type a few words")
    if len(text) > MAX_QUERY:
        raise QueryError("too_long", f"the query has {len(text)} characters; the limit is {MAX_QUERY}")
    return text


def _results(
    model: LoadedModel,
    features: FeatureReader,
    scores: np.ndarray,
    positions: np.ndarray,
    ids_of: np.ndarray,
    threshold: float | None = None,
    query: str | None = None,
    matched: dict[str, tuple[float, tuple[str, ...]]] | None = None,
) -> list[Result]:
    """Result rows in rank order; ``weak`` marks dense scores below the version's calibrated threshold (a word
    match is never weak); ``matched``: the fused score and the word-index fields per image id."""
    matched = matched or {}
    hits = [(float(s), str(ids_of[p])) for s, p in zip(scores, positions, strict=True) if p >= 0]
    records = features.records([image_id for _, image_id in hits])
    out = []
    for (dense, image_id), record in zip(hits, records, strict=True):
        if record is None:  # indexed but not (yet) published: skip rather than return a hole
            continue
        score, fields = matched.get(image_id, (dense, ()))
        evidence = record.description.get("evidence") or {}
        out.append(
            Result(
                rank=len(out) + 1,
                image_id=image_id,
                score=round(score, 4),
                weak=threshold is not None and dense < threshold and not fields,
                image_url=f"/api/images/{image_id}",
                thumbnail_url=f"/api/images/{image_id}/thumbnail",
                metadata=record.metadata,
                description=Description(alt=record.description["alt"], long=record.description["long"]),
                why=_why(query, evidence, fields) if query is not None else [],
            )
        )
    return out


def _why(query: str, evidence: dict[str, Any], fields: tuple[str, ...]) -> list[str]:
    objects = [(o.get("name", ""), int(o.get("count", 0))) for o in evidence.get("said_objects") or []]
    text = " ".join(t.get("text", "") for t in evidence.get("text") or [])
    return reasons(query, objects, text, fields)


def _fused(model: LoadedModel, query: str, scores: np.ndarray, positions: np.ndarray, k: int):
    """The top ``k`` of the dense candidates and the word index's hits by fused score (models/fusion.py):
    (dense scores, positions, {image id: (fused score, fields matched)})."""
    index = model.text_index
    hits = model.words.search(query, CANDIDATES)
    if not hits:
        return scores[:k], positions[:k], {}
    dense = {int(p): float(s) for s, p in zip(scores, positions, strict=True) if p >= 0}
    # a word match outside the dense candidates gets the weakest candidate's score: a lower bound of its own
    floor = min(dense.values()) if dense and len(dense) < index.meta.count else 0.0
    position_of = model.positions()
    best = max(h.score for h in hits)
    words = {position_of[h.image_id]: h for h in hits if h.image_id in position_of}
    fused = dict(dense)
    for p, hit in words.items():
        fused[p] = dense.get(p, floor) + model.words.weight * hit.score / best
        if hit.exact:  # the collection's own words or the text in the picture hold every query word
            fused[p] += model.words.exact_weight
    order = sorted(fused, key=lambda p: (-fused[p], -dense.get(p, floor)))[:k]
    fields = model.words.fields(query, [words[p].image_id for p in order if p in words])
    matched = {str(index.ids[p]): (fused[p], fields.get(str(index.ids[p]), ())) for p in order}
    return (
        np.array([dense.get(p, floor) for p in order], np.float32),
        np.array(order, np.int64),
        matched,
    )


def _model_info(model: LoadedModel) -> ModelInfo:
    return ModelInfo(
        version=model.version,
        spec=model.spec,
        bundle_version=model.bundle_version,
        index_version=model.index_version,
    )


def search_text(model: LoadedModel, features: FeatureReader, query: str, k: int, spell: bool = True) -> SearchAnswer:
    """Text→image; with ``spell`` a word in no dictionary and not in the collection is searched respelled
    ("giraffee" → "giraffe") and the answer says so."""
    begun = time.perf_counter()
    typed, respelled = query, []
    if spell and model.speller is not None:
        query, respelled = model.speller.correct(query)
    started = time.perf_counter()
    vector = model.text.encode_queries([query])
    encoded = time.perf_counter()
    scores, positions = model.text_index.search(vector, max(k, CANDIDATES) if model.words else k)
    scores, positions, matched = (
        _fused(model, query, scores[0], positions[0], k) if model.words else (scores[0], positions[0], {})
    )
    searched = time.perf_counter()
    results = _results(model, features, scores, positions, model.text_index.ids, model.weak_threshold, query, matched)
    done = time.perf_counter()
    return SearchAnswer(
        query=query,
        typed=typed if respelled else None,
        respelled=[Respelled(typed=r.typed, searched=r.searched) for r in respelled],
        k=k,
        model=_model_info(model),
        weak_threshold=model.weak_threshold,
        no_good_match=all(r.weak for r in results),
        results=results,
        timings_ms={
            "spell": round((started - begun) * 1000, 2),
            "encode": round((encoded - started) * 1000, 2),
            "search": round((searched - encoded) * 1000, 2),
            "features": round((done - searched) * 1000, 2),
        },
    )


def search_image(
    model: LoadedModel, features: FeatureReader, image: Image.Image, k: int, exclude: str | None = None
) -> SearchAnswer:
    """Image→image in the version's image-feature space; ``exclude`` drops the query image itself."""
    started = time.perf_counter()
    pixels = model.image.preprocess.batch([image])
    _, vector = model.image.encode_pixels_and_features(pixels)
    return _search_image_vector(model, features, vector, k, exclude, time.perf_counter() - started)


def search_similar(
    settings: Settings, model: LoadedModel, features: FeatureReader, image_id: str, k: int
) -> SearchAnswer:
    """More like an image of the collection, itself left out: its stored vector when the version indexed it,
    else (published after the index was built) its original decoded and encoded. UploadError (422/404) for a
    malformed or unknown id, or an original that is gone when it is needed."""
    started = time.perf_counter()
    image_id = collection_image_id(features, image_id)
    vector = model.stored_image_vector(image_id)
    if vector is None:
        return search_image(model, features, original_image(settings, features, image_id), k, image_id)
    return _search_image_vector(model, features, vector[None], k, image_id, time.perf_counter() - started)


def _search_image_vector(
    model: LoadedModel, features: FeatureReader, vector: np.ndarray, k: int, exclude: str | None, encode_s: float
) -> SearchAnswer:
    started = time.perf_counter()
    scores, positions = model.image_index.search(vector, k + (1 if exclude else 0))
    keep = [i for i, p in enumerate(positions[0]) if p >= 0 and model.image_index.ids[p] != exclude][:k]
    searched = time.perf_counter()
    results = _results(model, features, scores[0][keep], positions[0][keep], model.image_index.ids)
    done = time.perf_counter()
    return SearchAnswer(
        query_image_id=exclude,
        k=k,
        model=_model_info(model),
        weak_threshold=None,  # calibrated for text→image only; image→image similarities are not comparable
        no_good_match=not results,
        results=results,
        timings_ms={
            "encode": round(encode_s * 1000, 2),
            "search": round((searched - started) * 1000, 2),
            "features": round((done - searched) * 1000, 2),
        },
    )
