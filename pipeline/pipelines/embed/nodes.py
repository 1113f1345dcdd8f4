"""Embed: export the encoder to an ONNX bundle, then embed every ingested image through ONNX Runtime.

Both steps are incremental: an existing bundle for the same spec is reused, and only images without an
embedding from the current bundle version are encoded. The images to encode are cut into partitions (a whole
number of batches each) that run on every worker of a Dask cluster when there is one (pipeline/partitions.py),
each worker process loading the encoder once.
"""

from __future__ import annotations

import logging
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from models.atomic import remove_leftovers
from models.bundle import FORMAT, BundleManifest
from pipeline.partitions import map_partitions, per_process, split, worker_threads

if TYPE_CHECKING:
    from models.batch import BatchResult

logger = logging.getLogger(__name__)

EMBEDDING_COLUMNS = ["image_id", "model_version", "embedding", "features", "classes", "class_probabilities"]
PARITY_TEXTS = [
    "a cat sleeping on a sofa",
    "Two people riding bicycles along a beach at sunset.",
    "red",
    "ein Hund im Schnee",
    "a photo of a 🐶",
    "A very long description of a kitchen with a stove, a sink, a window and many cupboards " * 4,
]


def bundle_folder(root: str | Path, spec: str) -> Path:
    """A folder name from a spec: ``conse:lite1:T20`` → ``conse-lite1-T20``."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", spec).strip("-")
    return Path(root) / slug[:120]


def export_model(params: dict[str, Any]) -> dict[str, Any]:
    """Export the configured encoder once; later runs reuse the bundle unless ``force_export`` is set."""
    spec = params["spec"]
    folder = bundle_folder(params["bundle_root"], spec)
    remove_leftovers(folder)  # the staging folder of an export that was killed (it never became the bundle)
    if not params.get("force_export") and (folder / "manifest.json").exists():
        manifest = BundleManifest.load(folder)
        if manifest.spec == spec and manifest.format == FORMAT:
            logger.info("export: reusing bundle %s (version %s)", folder, manifest.version)
            return {"spec": spec, "version": manifest.version, "folder": str(folder), "dim": manifest.dim}
    from models.encoders import load_encoder
    from models.onnx_export import compare, export_bundle
    from models.runtime import OnnxTextEncoder

    started = time.perf_counter()
    encoder = load_encoder(spec)
    manifest = export_bundle(encoder, folder)
    parity = compare(encoder.encode_texts(PARITY_TEXTS), OnnxTextEncoder(folder).encode_texts(PARITY_TEXTS))
    if not parity.holds():
        raise RuntimeError(f"exported text encoder disagrees with torch: {parity}")
    logger.info("export: %s → %s (version %s) in %.0f s", spec, folder, manifest.version, time.perf_counter() - started)
    return {"spec": spec, "version": manifest.version, "folder": str(folder), "dim": manifest.dim}


def embed_images(
    images: pd.DataFrame, previous: pd.DataFrame, bundle: dict[str, Any], ingest: dict[str, Any], params: dict[str, Any]
) -> pd.DataFrame:
    """Embeddings (shared space), image→image features and the top classes of every image, from the current bundle."""
    version = bundle["version"]
    wanted = images[["image_id", "path"]]
    kept = pd.DataFrame(columns=EMBEDDING_COLUMNS)
    if not previous.empty and set(EMBEDDING_COLUMNS) <= set(previous.columns):
        kept = previous[(previous["model_version"] == version) & previous["image_id"].isin(wanted["image_id"])]
    todo = wanted[~wanted["image_id"].isin(kept["image_id"])].reset_index(drop=True)
    if todo.empty:
        logger.info("embed: all %d images already embedded with %s", len(kept), version)
        return kept.reset_index(drop=True)
    root = Path(ingest["root"]).resolve()
    batch_size = int(params["batch_size"])
    # a whole number of batches per partition: the batches, hence the numbers, are the same however many workers
    size = max(1, int(params.get("partition_size") or 256) // batch_size) * batch_size
    parts = split([str(root / path) for path in todo["path"]], size)
    started = time.perf_counter()
    results = map_partitions(
        embed_partition,
        parts,
        desc="embed",
        sizes=[len(part) for part in parts],
        shared={
            "folder": str(Path(bundle["folder"]).resolve()),  # absolute: workers' own folders differ
            "threads": int(params.get("threads") or 0),
            "batch_size": batch_size,
            "decode_workers": int(params["decode_workers"]),
            "classes": int(params.get("top_classes", 10)),
        },
    )
    result = _merge(results, [len(part) for part in parts])
    for index, reason in result.failed.items():
        logger.warning("embed: skipped %s: %s", todo.at[index, "path"], reason)
    elapsed = time.perf_counter() - started
    logger.info("embed: %d images in %.1f s (%.0f img/s)", len(result.ok), elapsed, len(result.ok) / max(elapsed, 1e-9))
    fresh = pd.DataFrame(
        {
            "image_id": todo.loc[result.ok, "image_id"].to_numpy(),
            "model_version": version,
            "embedding": list(result.embeddings.astype(np.float32)),
            "features": list(result.features.astype(np.float32)),
            "classes": list(result.top_classes.astype(np.int16)),
            "class_probabilities": list(result.top_probabilities.astype(np.float32)),
        }
    )
    return pd.concat([kept, fresh], ignore_index=True).sort_values("image_id", ignore_index=True)


def embed_partition(
    paths: list[str], *, folder: str, threads: int, batch_size: int, decode_workers: int, classes: int
) -> BatchResult:
    """Embed one partition of image files (absolute paths) with this process's copy of the encoder.

    On a Dask worker ONNX Runtime gets the worker's thread count, so workers on one machine do not fight
    over the cores; elsewhere ``threads`` (0 = ONNX Runtime's default)."""
    from models.batch import embed_files
    from models.runtime import OnnxImageEncoder

    threads = worker_threads() or threads or 0
    encoder = per_process(("image-encoder", folder, threads), lambda: OnnxImageEncoder(folder, threads=threads or None))
    return embed_files(
        lambda i: Path(paths[i]).read_bytes(),
        len(paths),
        encoder,
        batch_size=batch_size,
        decode_workers=decode_workers,
        classes=classes,
    )


def _merge(results: list[BatchResult], sizes: list[int]) -> BatchResult:
    """One result from per-partition results, indices shifted to positions in the whole list."""
    from models.batch import BatchResult

    ok, failed, offset = [], {}, 0
    for result, size in zip(results, sizes, strict=True):
        ok.extend(offset + i for i in result.ok)
        failed.update({offset + i: reason for i, reason in result.failed.items()})
        offset += size
    columns = ("embeddings", "features", "top_classes", "top_probabilities")
    return BatchResult(*(np.concatenate([getattr(r, name) for r in results]) for name in columns), ok, failed)
