"""A residual linear adapter on query embeddings, learned from votes: ``q' = normalise(q + W q)``.

Why this shape: the image embeddings and their index stay as they are (a tuned version reuses the base
version's index), the change starts from the identity (``W = 0``) and an L2 penalty keeps it near it, and
serving it is one (d × d) matrix product in numpy — no torch on the query path. Training is plain numpy too:
Adam on an InfoNCE loss over a gallery of image embeddings for thumbs-up pairs (pull the query towards its
image, away from the rest) plus a softplus penalty on the score of thumbs-down pairs above a margin (push
apart). Deterministic for a given seed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models.encoders.base import l2_normalise

ADAPTER_FILE = "adapter.npy"
ADAPTER_META = "adapter.json"


@dataclass(frozen=True)
class AdapterConfig:
    temperature: float = 0.05  # InfoNCE temperature (scores are cosines)
    l2: float = 1.0  # penalty on ||W||², pulling the adapter back to the identity
    steps: int = 100  # full-batch Adam steps
    lr: float = 1e-3
    down_weight: float = 0.1  # weight of the thumbs-down term
    down_margin: float = 0.2  # thumbs-down pairs are pushed only while their cosine is above this
    max_negatives: int = 4096  # gallery rows sampled per step when the gallery is larger
    seed: int = 0


def apply_adapter(weights: np.ndarray | None, queries: np.ndarray) -> np.ndarray:
    """Adapted, L2-normalised query embeddings; ``weights=None`` leaves them as they are."""
    queries = np.asarray(queries, dtype=np.float32)
    if weights is None:
        return queries
    return l2_normalise(queries + queries @ weights.T)


def train_adapter(
    queries: np.ndarray,
    positive: np.ndarray,
    negative: np.ndarray,
    gallery: np.ndarray,
    config: AdapterConfig = AdapterConfig(),
) -> tuple[np.ndarray, list[float]]:
    """Learn ``W`` (d × d, float32) and return it with the loss after each step.

    ``queries`` (n, d) are normalised query embeddings; ``positive[i]`` / ``negative[i]`` are the gallery rows
    query ``i`` was voted up / down on (−1: none); ``gallery`` (g, d) holds normalised image embeddings.
    """
    queries = np.asarray(queries, dtype=np.float32)
    gallery = np.asarray(gallery, dtype=np.float32)
    positive = np.asarray(positive, dtype=np.int64)
    negative = np.asarray(negative, dtype=np.int64)
    n, d = queries.shape
    if positive.shape != (n,) or negative.shape != (n,):
        raise ValueError("positive and negative need one entry per query")
    if gallery.ndim != 2 or gallery.shape[1] != d:
        raise ValueError(f"gallery must be (g, {d}), got {gallery.shape}")
    if n == 0 or (positive.max(initial=-1) < 0 and negative.max(initial=-1) < 0):
        raise ValueError("no votes to learn from")
    if positive.max(initial=-1) >= len(gallery) or negative.max(initial=-1) >= len(gallery):
        raise ValueError("a vote points outside the gallery")

    rng = np.random.default_rng(config.seed)
    tau = config.temperature
    weights = np.zeros((d, d), np.float32)
    moment, velocity = np.zeros_like(weights), np.zeros_like(weights)
    beta1, beta2 = 0.9, 0.999
    up, down = np.flatnonzero(positive >= 0), np.flatnonzero(negative >= 0)
    losses: list[float] = []
    for step in range(1, config.steps + 1):
        rows, pos_col, neg_col = _gallery_sample(len(gallery), positive, negative, config.max_negatives, rng)
        sample = gallery[rows]
        hidden = queries + queries @ weights.T
        norms = np.linalg.norm(hidden, axis=1, keepdims=True)
        adapted = hidden / np.maximum(norms, 1e-12)
        scores = adapted @ sample.T / tau
        grad_scores = np.zeros_like(scores)
        loss = 0.0
        if len(up):
            logits = scores[up]
            shifted = logits - logits.max(axis=1, keepdims=True)
            probs = np.exp(shifted)
            total = probs.sum(axis=1, keepdims=True)
            probs /= total
            picked = pos_col[up]
            loss += float(np.sum(np.log(total[:, 0]) - shifted[np.arange(len(up)), picked]))
            probs[np.arange(len(up)), picked] -= 1.0
            grad_scores[up] = probs
        if len(down):
            z = scores[down, neg_col[down]] - config.down_margin / tau
            loss += config.down_weight * float(np.sum(np.logaddexp(0.0, z)))
            grad_scores[down, neg_col[down]] += config.down_weight / (1.0 + np.exp(-z))
        grad_scores /= tau * n
        grad_adapted = grad_scores @ sample
        grad_hidden = (grad_adapted - np.sum(grad_adapted * adapted, axis=1, keepdims=True) * adapted) / norms
        grad = grad_hidden.T @ queries + config.l2 * weights
        losses.append(loss / n + 0.5 * config.l2 * float(np.sum(weights * weights)))
        moment = beta1 * moment + (1 - beta1) * grad
        velocity = beta2 * velocity + (1 - beta2) * grad * grad
        step_size = config.lr * np.sqrt(1 - beta2**step) / (1 - beta1**step)
        weights -= (step_size * moment / (np.sqrt(velocity) + 1e-8)).astype(np.float32)
    return weights, losses


def _gallery_sample(
    size: int, positive: np.ndarray, negative: np.ndarray, limit: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gallery rows for one step (all, or every voted row plus random others up to ``limit``) and each
    query's positive / negative column in that sample (−1: none)."""
    if size <= limit:
        rows = np.arange(size)
    else:
        voted = np.unique(np.concatenate([positive[positive >= 0], negative[negative >= 0]]))
        others = np.setdiff1d(np.arange(size), voted)
        extra = rng.choice(others, size=max(0, min(len(others), limit - len(voted))), replace=False)
        rows = np.sort(np.concatenate([voted, extra]))
    column = np.full(size, -1, dtype=np.int64)
    column[rows] = np.arange(len(rows))
    pos_col = np.where(positive >= 0, column[np.maximum(positive, 0)], -1)
    neg_col = np.where(negative >= 0, column[np.maximum(negative, 0)], -1)
    return rows, pos_col, neg_col


def save_adapter(folder: Path, weights: np.ndarray, meta: dict) -> None:
    """Write ``adapter.npy`` and ``adapter.json`` (what it was trained on and how) into ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / ADAPTER_FILE, np.asarray(weights, dtype=np.float32))
    (folder / ADAPTER_META).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")


def load_adapter(folder: Path, dim: int) -> np.ndarray | None:
    """The adapter in ``folder`` if there is one (``None`` otherwise); a malformed one raises ValueError."""
    path = Path(folder) / ADAPTER_FILE
    if not path.exists():
        return None
    try:
        weights = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise ValueError(f"{path} cannot be read: {exc}") from exc
    if weights.shape != (dim, dim) or weights.dtype != np.float32 or not np.isfinite(weights).all():
        raise ValueError(f"{path} must be a finite float32 ({dim}, {dim}) matrix, got {weights.dtype} {weights.shape}")
    return weights


class AdaptedTextEncoder:
    """A text encoder whose embeddings go through the adapter; everything else is the inner encoder's."""

    def __init__(self, inner, weights: np.ndarray) -> None:
        self.inner = inner
        self.weights = np.ascontiguousarray(weights, dtype=np.float32)

    def __getattr__(self, name: str):
        return getattr(self.inner, name)

    def encode_texts(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        return apply_adapter(self.weights, self.inner.encode_texts(texts, batch_size=batch_size))

    def encode_queries(self, queries: list[str], batch_size: int = 64) -> np.ndarray:
        return apply_adapter(self.weights, self.inner.encode_queries(queries, batch_size=batch_size))
