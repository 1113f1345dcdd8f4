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
    ok: list[int]  # indices into the input of the rows above
    failed: dict[int, str]  # index → reason


def embed_files(
    read: Callable[[int], bytes],
    count: int,
    encoder: OnnxImageEncoder,
    batch_size: int = 32,
    decode_workers: int = 2,
    progress: Callable[[int], None] | None = None,
) -> BatchResult:
    """Embed ``count`` images whose bytes ``read(i)`` returns; failures are reported, never raised."""

    def decode(index: int) -> tuple[int, np.ndarray | None, str]:
        try:
            return index, encoder.preprocess.load(read(index)), ""
        except Exception as exc:  # noqa: BLE001 - one bad file must not stop a batch job
            return index, None, f"{type(exc).__name__}: {exc}"

    embeddings, features, ok, failed = [], [], [], {}
    with ThreadPoolExecutor(max_workers=decode_workers) as pool:
        for batch in _batches(pool.map(decode, range(count)), batch_size):
            good = [(i, px) for i, px, _ in batch if px is not None]
            failed.update({i: reason for i, px, reason in batch if px is None})
            if good:
                emb, feat = encoder.encode_pixels_and_features(np.stack([px for _, px in good]))
                embeddings.append(emb)
                features.append(feat)
                ok.extend(i for i, _ in good)
            if progress:
                progress(len(batch))
    dim, fdim = encoder.dim, encoder.features_dim
    return BatchResult(
        embeddings=np.concatenate(embeddings) if embeddings else np.zeros((0, dim), np.float32),
        features=np.concatenate(features) if features else np.zeros((0, fdim), np.float32),
        ok=ok,
        failed=failed,
    )


def _batches(items: Iterator, size: int) -> Iterator[Sequence]:
    batch = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
