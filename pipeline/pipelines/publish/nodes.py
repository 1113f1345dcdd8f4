"""Publish: write the feature tables to the Feast offline store (parquet), apply the definitions and
materialise them into the online store (SQLite). A publish of unchanged inputs does nothing."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from feature_repo import schema as views
from pipeline.source_notes import read_source_notes

logger = logging.getLogger(__name__)


def _fingerprint(images: pd.DataFrame, embeddings: pd.DataFrame, descriptions: pd.DataFrame, manifest: Path) -> str:
    digest = hashlib.sha256()
    for value in pd.util.hash_pandas_object(images[["image_id", "path", "ingested_at"]], index=False):
        digest.update(int(value).to_bytes(8, "little"))
    for value in pd.util.hash_pandas_object(descriptions[["image_id", "signature"]], index=False):
        digest.update(int(value).to_bytes(8, "little"))
    digest.update(",".join(sorted(set(embeddings["model_version"]))).encode())
    digest.update(str(len(embeddings)).encode())
    if manifest.exists():
        digest.update(manifest.read_bytes())
    return digest.hexdigest()[:16]


def feature_tables(
    images: pd.DataFrame, embeddings: pd.DataFrame, descriptions: pd.DataFrame, manifest: Path, now: datetime
) -> dict[str, pd.DataFrame]:
    """The offline-store tables, one per feature view."""
    notes = read_source_notes(manifest)
    stamp = pd.to_datetime(images["ingested_at"], utc=True)
    metadata = images[["image_id", "path", "format", "width", "height", "bytes", "exif_datetime", "camera"]].copy()
    metadata["source"] = [
        notes.get(p, {}).get("collection") or p.split("/", 1)[0] if "/" in p else "" for p in images["path"]
    ]
    metadata["licence"] = [notes.get(p, {}).get("licence", "") for p in images["path"]]
    metadata["source_description"] = [notes.get(p, {}).get("description", "") for p in images["path"]]
    metadata["event_timestamp"] = stamp
    thumbnails = images[["image_id", "thumbnail"]].assign(event_timestamp=stamp)
    vectors = embeddings[["image_id", "model_version", "embedding"]].copy()
    vectors["embedding"] = [list(map(float, v)) for v in vectors["embedding"]]
    vectors["event_timestamp"] = pd.Timestamp(now)
    described = descriptions[descriptions["image_id"].isin(images["image_id"])]
    texts = described[["image_id", *views.DESCRIPTION_FEATURES]].assign(event_timestamp=pd.Timestamp(now))
    return {views.METADATA: metadata, views.THUMBNAIL: thumbnails, views.EMBEDDING: vectors, views.DESCRIPTION: texts}


def publish_features(
    images: pd.DataFrame,
    embeddings: pd.DataFrame,
    descriptions: pd.DataFrame,
    previous: dict[str, Any] | None,
    params: dict[str, Any],
) -> dict[str, Any]:
    manifest = Path(params["demo_manifest"])
    fingerprint = _fingerprint(images, embeddings, descriptions, manifest)
    if previous and previous.get("fingerprint") == fingerprint:
        logger.info("publish: feature store already up to date (%s)", fingerprint)
        return previous
    from feature_repo.definitions import definitions
    from feature_repo.store import offline_dir, open_store

    started = time.perf_counter()
    root = Path(params["store_root"]).resolve()
    now = datetime.now(UTC)
    tables = feature_tables(images, embeddings, descriptions, manifest, now)
    offline = offline_dir(root)
    offline.mkdir(parents=True, exist_ok=True)
    for name, table in tables.items():
        tmp = offline / f".{name}.parquet.tmp"
        table.to_parquet(tmp, index=False)
        tmp.replace(offline / f"{name}.parquet")
    store = open_store(root)
    objects = definitions(offline)
    store.apply(objects)
    views = [o for o in objects if getattr(o, "name", None) in tables]
    oldest = min(t["event_timestamp"].min() for t in tables.values() if len(t))
    store.materialize(
        start_date=(oldest - timedelta(seconds=1)).to_pydatetime(),
        end_date=now + timedelta(minutes=1),
        feature_views=[v.name for v in views],
    )
    summary = {
        "fingerprint": fingerprint,
        "published_at": now.isoformat(timespec="seconds"),
        "rows": {name: len(table) for name, table in tables.items()},
        "store_root": str(root),
    }
    logger.info("publish: %s in %.1f s", json.dumps(summary["rows"]), time.perf_counter() - started)
    return summary
