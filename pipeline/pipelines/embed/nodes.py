"""Embed: export the encoder to an ONNX bundle, then embed every ingested image through ONNX Runtime.

Both steps are incremental: an existing bundle for the same spec is reused, and only images without an
embedding from the current bundle version are encoded.
"""

from __future__ import annotations

import logging
import re
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from models.bundle import FORMAT, BundleManifest

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
    from models.batch import embed_files
    from models.runtime import OnnxImageEncoder

    version = bundle["version"]
    wanted = images[["image_id", "path"]]
    kept = pd.DataFrame(columns=EMBEDDING_COLUMNS)
    if not previous.empty and set(EMBEDDING_COLUMNS) <= set(previous.columns):
        kept = previous[(previous["model_version"] == version) & previous["image_id"].isin(wanted["image_id"])]
    todo = wanted[~wanted["image_id"].isin(kept["image_id"])].reset_index(drop=True)
    if todo.empty:
        logger.info("embed: all %d images already embedded with %s", len(kept), version)
        return kept.reset_index(drop=True)
    root = Path(ingest["root"])
    encoder = OnnxImageEncoder(bundle["folder"], threads=int(params.get("threads") or 0) or None)
    started = time.perf_counter()
    with tqdm(total=len(todo), desc="embed", unit="img", disable=None, mininterval=0.5) as bar:
        result = embed_files(
            lambda i: (root / todo.at[i, "path"]).read_bytes(),
            len(todo),
            encoder,
            batch_size=int(params["batch_size"]),
            decode_workers=int(params["decode_workers"]),
            progress=bar.update,
            classes=int(params.get("top_classes", 10)),
        )
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
