"""Publish: write the feature tables to the Feast offline store (parquet), apply the definitions and
materialise them into the online store (SQLite, or Redis with ``publish.online_url``). A publish of unchanged
inputs does nothing, as long as the store is whole: a deleted or damaged file, or a Redis that lost the data,
is rebuilt by the next run (the store holds only what the pipeline's own tables can produce again)."""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from feature_repo import schema as views
from feature_repo.store import sqlite_tables
from pipeline.source_notes import read_source_notes

logger = logging.getLogger(__name__)

PROJECT = "glimpse"  # feature_repo/store.py; Feast names the online tables <project>_<view>
VIEWS = (views.METADATA, views.THUMBNAIL, views.EMBEDDING, views.DESCRIPTION, views.SIGHTINGS)


def _registry_problem(path: Path) -> str | None:
    """Why Feast's registry file cannot be used, or None. Checked without importing Feast (seconds of imports
    on a run that has nothing to publish): the file must be well-formed protobuf and name every view."""
    from google.protobuf import empty_pb2

    if not path.is_file():
        return "missing"
    data = path.read_bytes()
    try:
        empty_pb2.Empty().ParseFromString(data)  # walks the wire format; every field is "unknown" to Empty
    except Exception as exc:  # noqa: BLE001 - protobuf's DecodeError
        return f"not readable ({exc})"
    missing = [v for v in VIEWS if v.encode() not in data]
    return f"does not define {', '.join(missing)}" if missing else None


def _online_problem(path: Path) -> str | None:
    """Why the SQLite online store cannot be used, or None (opened read-only: never created here)."""
    if not path.is_file():
        return "missing"
    try:
        tables = sqlite_tables(path)
    except sqlite3.Error as exc:
        return f"not readable ({exc})"
    missing = [v for v in VIEWS if f"{PROJECT}_{v}" not in tables]
    return f"has no table for {', '.join(missing)}" if missing else None


def _redis_problem(root: Path, online_url: str, image_id: str | None) -> str | None:
    """Why the Redis online store does not hold this publication, or None: one image published is read back
    (a Redis restarted without persistence, or flushed, has lost it)."""
    if image_id is None:
        return None
    from feature_repo.store import open_store

    try:
        store = open_store(root, offline=False, online_url=online_url)
        found = store.get_online_features(
            features=[f"{views.METADATA}:path"], entity_rows=[{"image_id": image_id}]
        ).to_dict()
    except Exception as exc:  # noqa: BLE001 - redis, Feast: the store cannot be read
        return f"cannot be read ({type(exc).__name__}: {exc})"
    return None if found["path"][0] is not None else "does not hold the published images"


def store_problems(root: Path, online_url: str = "", image_id: str | None = None) -> list[str]:
    """What is missing or unreadable in a published store (empty: the store is whole). With the online store in
    Redis (``online_url``), ``image_id`` (one published image) is read back from it."""
    from feature_repo.store import offline_dir

    problems = [
        f"{offline_dir(root) / f'{v}.parquet'} missing"
        for v in VIEWS
        if not (offline_dir(root) / f"{v}.parquet").is_file()
    ]
    online = (
        ("the Redis online store", _redis_problem(root, online_url, image_id))
        if online_url
        else (root / "online.db", _online_problem(root / "online.db"))
    )
    for path, problem in ((root / "registry.db", _registry_problem(root / "registry.db")), online):
        if problem:
            problems.append(f"{path} {problem}")
    return problems


def _remove_unreadable(root: Path) -> None:
    """Feast cannot apply over a damaged registry nor materialise into a damaged database, and both hold only
    derived data: a file that exists but cannot be read is deleted, and this publish writes it anew."""
    for path, check in ((root / "registry.db", _registry_problem), (root / "online.db", _online_problem)):
        problem = check(path) if path.exists() else None
        if problem and problem.startswith("not readable"):
            logger.warning("publish: %s is %s; deleting it, it is rebuilt now", path, problem)
            path.unlink()
            for suffix in ("-journal", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)


def _fingerprint(
    images: pd.DataFrame,
    embeddings: pd.DataFrame,
    descriptions: pd.DataFrame,
    sightings: pd.DataFrame,
    manifest: Path,
) -> str:
    digest = hashlib.sha256()
    for value in pd.util.hash_pandas_object(images[["image_id", "path", "ingested_at"]], index=False):
        digest.update(int(value).to_bytes(8, "little"))
    for value in pd.util.hash_pandas_object(descriptions[["image_id", "signature"]], index=False):
        digest.update(int(value).to_bytes(8, "little"))
    for value in pd.util.hash_pandas_object(sightings[["image_id", "objects", "text_lines"]], index=False):
        digest.update(int(value).to_bytes(8, "little"))
    digest.update(",".join(sorted(set(embeddings["model_version"]))).encode())
    digest.update(str(len(embeddings)).encode())
    if manifest.exists():
        digest.update(manifest.read_bytes())
    return digest.hexdigest()[:16]


def feature_tables(
    images: pd.DataFrame,
    embeddings: pd.DataFrame,
    descriptions: pd.DataFrame,
    sightings: pd.DataFrame,
    manifest: Path,
    now: datetime,
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
    seen = sightings[sightings["image_id"].isin(images["image_id"])][["image_id", "objects", "text_lines", "text"]]
    seen = seen.assign(counts=[_counts(o) for o in seen["objects"]], event_timestamp=pd.Timestamp(now))
    return {
        views.METADATA: metadata,
        views.THUMBNAIL: thumbnails,
        views.EMBEDDING: vectors,
        views.DESCRIPTION: texts,
        views.SIGHTINGS: seen[["image_id", *views.SIGHTING_FEATURES, "event_timestamp"]],
    }


def _counts(objects_json: str) -> str:
    """{"person": 2, "dog": 1} from the confident detections, the way the descriptions count them."""
    from accessibility.objects import SURE

    counts: dict[str, int] = {}
    for found in json.loads(objects_json or "[]"):
        if found["score"] >= SURE:
            counts[found["label"]] = counts.get(found["label"], 0) + 1
    return json.dumps(dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))))


def publish_features(
    images: pd.DataFrame,
    embeddings: pd.DataFrame,
    descriptions: pd.DataFrame,
    sightings: pd.DataFrame,
    previous: dict[str, Any] | None,
    params: dict[str, Any],
) -> dict[str, Any]:
    manifest = Path(params["demo_manifest"])
    fingerprint = _fingerprint(images, embeddings, descriptions, sightings, manifest)
    root = Path(params["store_root"]).resolve()
    online_url = params.get("online_url") or ""
    if previous and previous.get("fingerprint") == fingerprint:
        problems = store_problems(root, online_url, images["image_id"].iloc[0] if len(images) else None)
        if not problems:
            logger.info("publish: feature store already up to date (%s)", fingerprint)
            return previous
        logger.warning(
            "publish: inputs unchanged but the store is not whole (%s); publishing again", "; ".join(problems)
        )
    from feature_repo.definitions import definitions
    from feature_repo.store import offline_dir, open_store
    from models.atomic import atomic_write

    started = time.perf_counter()
    now = datetime.now(UTC)
    tables = feature_tables(images, embeddings, descriptions, sightings, manifest, now)
    offline = offline_dir(root)
    offline.mkdir(parents=True, exist_ok=True)
    for name, table in tables.items():
        with atomic_write(offline / f"{name}.parquet") as handle:
            table.to_parquet(handle, index=False)
    _remove_unreadable(root)
    store = open_store(root, online_url=online_url)
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
