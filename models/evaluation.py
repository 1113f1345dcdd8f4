"""Retrieval quality: Recall@K for text→image and image→text, ties broken at random."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

COCO_ENV = "GLIMPSE_COCO"


def coco_root() -> Path:
    """The coco-mini evaluation set: the folder named by the environment variable ``GLIMPSE_COCO`` when it is
    set, else ``../shared/data/coco-mini`` beside the repository (where this workplace keeps it). Benches, tests,
    deploy/images.py and the pipeline's ``evaluate.coco_root`` all ask here, so one variable moves them all. The
    folder may be missing: callers skip what needs it."""
    given = os.environ.get(COCO_ENV)
    if given:
        return Path(given).expanduser()
    return Path(__file__).resolve().parents[2] / "shared" / "data" / "coco-mini"


def ranks_of_positives(scores: np.ndarray, positives: Sequence[set[int]], seed: int = 0) -> np.ndarray:
    """For each query row, the 0-based rank of its best-ranked positive column.

    Equal scores are ordered at random (a fixed seed keeps results reproducible), so a model that gives
    many items the same score earns no credit from the order they happen to be stored in.
    """
    rng = np.random.default_rng(seed)
    out = np.empty(len(scores), dtype=np.int64)
    for row, (row_scores, wanted) in enumerate(zip(scores, positives, strict=True)):
        jitter = rng.random(row_scores.shape[0])
        order = np.lexsort((jitter, -row_scores))  # by score descending, then random
        hits = np.flatnonzero(np.isin(order, list(wanted)))
        out[row] = hits[0] if len(hits) else len(order)
    return out


def recall_at(ranks: np.ndarray, ks: Sequence[int] = (1, 5, 10)) -> dict[str, float]:
    return {f"R@{k}": float(np.mean(ranks < k)) for k in ks}


@dataclass(frozen=True)
class CaptionedSet:
    """Images with captions (several per image) plus uncaptioned distractors for the gallery."""

    image_paths: list[Path]
    captions: list[str]
    caption_image: list[int]  # index into image_paths for each caption
    distractor_paths: list[Path]


def load_coco_captions(folder: Path) -> CaptionedSet:
    """The coco-mini layout (:func:`coco_root`): train2017/, distractors/, captions_train2017.json."""
    data = json.loads((folder / "captions_train2017.json").read_text())
    images = sorted(data["images"], key=lambda item: item["file_name"])
    index = {item["id"]: i for i, item in enumerate(images)}
    captions, owners = [], []
    for note in sorted(data["annotations"], key=lambda a: (a["image_id"], a["id"])):
        if note["image_id"] in index:
            captions.append(note["caption"].strip())
            owners.append(index[note["image_id"]])
    return CaptionedSet(
        image_paths=[folder / "train2017" / item["file_name"] for item in images],
        captions=captions,
        caption_image=owners,
        distractor_paths=sorted((folder / "distractors").glob("*.jpg")),
    )


def text_to_image_recall(
    text_emb: np.ndarray, gallery_emb: np.ndarray, caption_image: list[int], seed: int = 0
) -> dict[str, float]:
    """Each caption a query; its own image (gallery row ``caption_image[i]``) the one positive."""
    ranks = ranks_of_positives(text_emb @ gallery_emb.T, [{i} for i in caption_image], seed)
    return recall_at(ranks)


def image_to_text_recall(
    image_emb: np.ndarray, text_emb: np.ndarray, caption_image: list[int], seed: int = 0
) -> dict[str, float]:
    """Each captioned image a query; any of its captions a positive."""
    owned: list[set[int]] = [set() for _ in range(len(image_emb))]
    for caption, owner in enumerate(caption_image):
        owned[owner].add(caption)
    ranks = ranks_of_positives(image_emb @ text_emb.T, owned, seed)
    return recall_at(ranks)


def weak_threshold(positive: np.ndarray, negative: np.ndarray) -> float:
    """The similarity that best separates matching from non-matching pairs (Youden's J: max TPR − FPR).

    Results scoring below it are more likely noise than a match; the server flags them ``weak``.
    """
    candidates = np.unique(np.concatenate([positive, negative]))
    positive, negative = np.sort(positive), np.sort(negative)
    tpr = 1 - np.searchsorted(positive, candidates, side="left") / len(positive)
    fpr = 1 - np.searchsorted(negative, candidates, side="left") / len(negative)
    return float(candidates[np.argmax(tpr - fpr)])


def random_floor(n_queries: int, n_gallery: int, caption_image: list[int], dim: int = 384) -> dict[str, float]:
    """Recall of random unit vectors: the floor any model must beat."""
    rng = np.random.default_rng(0)
    unit = rng.normal(size=(n_queries + n_gallery, dim))
    unit /= np.linalg.norm(unit, axis=1, keepdims=True)
    return text_to_image_recall(unit[:n_queries], unit[n_queries:], caption_image)


def evaluate_encoders(
    text_encoder, image_encoder, coco: Path | None, stamps: list[tuple[Path, str]]
) -> dict[str, float]:
    """Recall@1/5/10 of a text + image encoder pair (encode_queries; an OnnxImageEncoder).

    ``coco``: folder in the coco-mini layout (text→image over captioned + distractor images, image→text over
    the captioned ones). ``stamps``: (image path, description) pairs, each description a query for its image.
    """
    metrics: dict[str, float] = {}

    def embed(paths: list[Path]) -> np.ndarray:  # as the pipeline embeds them: every view the bundle asks for
        views = [image_encoder.preprocess.load_views(p.read_bytes()) for p in paths]
        return np.concatenate(
            [image_encoder.run_views(np.stack(views[i : i + 32])).embeddings for i in range(0, len(views), 32)]
        )

    if coco is not None and (coco / "captions_train2017.json").exists():
        data = load_coco_captions(coco)
        gallery = embed(data.image_paths + data.distractor_paths)
        texts = text_encoder.encode_queries(data.captions)
        for key, value in text_to_image_recall(texts, gallery, data.caption_image).items():
            metrics[f"coco_t2i_{key}"] = value
        for key, value in image_to_text_recall(gallery[: len(data.image_paths)], texts, data.caption_image).items():
            metrics[f"coco_i2t_{key}"] = value
        for key, value in random_floor(len(texts), len(gallery), data.caption_image).items():
            metrics[f"coco_t2i_random_{key}"] = value
        scores = texts @ gallery.T
        own = np.zeros_like(scores, dtype=bool)
        own[np.arange(len(texts)), data.caption_image] = True
        metrics["weak_threshold"] = weak_threshold(scores[own], scores[~own])
        metrics["coco_queries"] = len(texts)
        metrics["coco_gallery"] = len(gallery)
    if stamps:
        gallery = embed([path for path, _ in stamps])
        texts = text_encoder.encode_queries([text for _, text in stamps])
        for key, value in text_to_image_recall(texts, gallery, list(range(len(stamps)))).items():
            metrics[f"stamps_t2i_{key}"] = value
        for key, value in random_floor(len(stamps), len(stamps), list(range(len(stamps)))).items():
            metrics[f"stamps_t2i_random_{key}"] = value
        metrics["stamps_gallery"] = len(stamps)
    return metrics
