"""Embed many image files: decoding and preprocessing in threads, overlapped with ONNX inference.

Decoding (PIL) and ONNX Runtime both release the GIL, so threads are enough to keep both cores busy.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from models.runtime import OnnxImageEncoder


@dataclass
class BatchResult:
    embeddings: np.ndarray  # (n_ok, dim)
    features: np.ndarray  # (n_ok, features_dim)
    top_classes: np.ndarray  # (n_ok, top_k) int32 indices into the encoder's classes, most probable first
    top_probabilities: np.ndarray  # (n_ok, top_k) float32
    ok: list[int]  # indices into the input of the rows above
    failed: dict[int, str]  # index → reason


def top_k(probabilities: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k most probable classes per row, most probable first: (indices int32, probabilities float32)."""
    k = min(k, probabilities.shape[1])
    if k == 0:
        return np.zeros((len(probabilities), 0), np.int32), np.zeros((len(probabilities), 0), np.float32)
    part = np.argpartition(-probabilities, k - 1, axis=1)[:, :k]
    order = np.take_along_axis(-probabilities, part, axis=1).argsort(axis=1, kind="stable")
    indices = np.take_along_axis(part, order, axis=1)
    return indices.astype(np.int32), np.take_along_axis(probabilities, indices, axis=1).astype(np.float32)


def embed_files(
    read: Callable[[int], bytes],
    count: int,
    encoder: OnnxImageEncoder,
    batch_size: int = 32,
    decode_workers: int = 2,
    progress: Callable[[int], None] | None = None,
    classes: int = 10,
) -> BatchResult:
    """Embed ``count`` images whose bytes ``read(i)`` returns; failures are reported, never raised.

    Only the ``classes`` most probable classes are kept per image: enough for the describer, and 40 bytes
    an image instead of 4 KB.
    """

    def decode(index: int) -> tuple[int, np.ndarray | None, str]:
        try:
            return index, encoder.preprocess.load_views(read(index)), ""
        except Exception as exc:  # noqa: BLE001 - one bad file must not stop a batch job
            return index, None, f"{type(exc).__name__}: {exc}"

    parts: list[tuple[np.ndarray, ...]] = []
    ok, failed = [], {}
    with ThreadPoolExecutor(max_workers=decode_workers) as pool:
        for batch in _batches(pool.map(decode, range(count)), batch_size):
            good = [(i, px) for i, px, _ in batch if px is not None]
            failed.update({i: reason for i, px, reason in batch if px is None})
            if good:
                out = encoder.run_views(np.stack([px for _, px in good]))
                parts.append((out.embeddings, out.features, *top_k(out.probabilities, classes)))
                ok.extend(i for i, _ in good)
            if progress:
                progress(len(batch))
    if not parts:
        k = min(classes, len(encoder.class_ids))
        parts.append(
            (
                np.zeros((0, encoder.dim), np.float32),
                np.zeros((0, encoder.features_dim), np.float32),
                np.zeros((0, k), np.int32),
                np.zeros((0, k), np.float32),
            )
        )
    embeddings, features, top_classes, top_probabilities = (
        np.concatenate(column) for column in zip(*parts, strict=True)
    )
    return BatchResult(embeddings, features, top_classes, top_probabilities, ok, failed)


def _batches(items: Iterator, size: int) -> Iterator[Sequence]:
    batch = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
