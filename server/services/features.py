"""Image metadata, thumbnails and descriptions, read only from the Feast online store.

The store's files are checked when the reader opens (the Feast registry parses and names our views, the SQLite
online store has their tables), so a missing or corrupt file is a clear "not ready" with the file named, not an
error on the first query. A reader whose files were replaced or deleted since (a re-run pipeline, a restore),
or whose read failed, reports itself unusable and the service container opens a fresh one: repairs take effect
without a restart.

Records (metadata + description) are kept in memory once read, keyed by the published feature version: the
publication the pipeline writes after materialising (publication.json) and the online database's own file
state. A publish, or any write to the online store, changes that key and empties the cache, so Feast stays the
source of truth and a search reads it only for images it has not served since the last publish.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import sys
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from feature_repo import schema as views
from feature_repo.schema import DESCRIPTION_FEATURES, METADATA_FEATURES
from feature_repo.store import sqlite_tables

logger = logging.getLogger(__name__)

METADATA = list(METADATA_FEATURES)
DESCRIPTION = list(DESCRIPTION_FEATURES)
PROJECT = "glimpse"  # the Feast project (feature_repo/store.py); online tables are named <project>_<view>
SERVED_VIEWS = (views.METADATA, views.THUMBNAIL, views.DESCRIPTION)  # what the server reads
OFFLINE_VIEWS = (  # what publish writes
    views.METADATA,
    views.THUMBNAIL,
    views.EMBEDDING,
    views.DESCRIPTION,
    views.SIGHTINGS,
)
PUBLICATION = "publication.json"  # written by the publish pipeline after each materialisation
CACHED_RECORDS = 100_000  # ~1 KB each: a bounded LRU, so a million-image collection cannot fill the memory
REBUILD = "re-run the pipeline (make pipeline, or: kedro run --pipelines publish) to rebuild it"
PROBE_ID = "0" * 32


class FeatureStoreUnavailableError(RuntimeError):
    """The feature store cannot be read: answered 503 ``not_ready`` (server/api/errors.py); the reader is
    replaced on the next request."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _keep_torch_out() -> None:
    """Feast 0.67 imports torch at import time when it is installed (feast/torch_wrapper.py), only for optional
    transformations we do not use. That would cost the server ~5 s and ~500 MB and break the rule that the
    query path never touches torch; marking torch absent makes Feast take its no-torch branch."""
    if "torch" not in sys.modules:
        sys.modules["torch"] = None  # type: ignore[assignment]


@dataclass(frozen=True)
class ImageRecord:
    image_id: str
    metadata: dict[str, Any]
    description: dict[str, Any]


def file_state(path: Path) -> tuple[int, int, int, int] | None:
    """(inode, size, mtime ns, ctime ns) of a file, ``None`` when absent: changes whenever the file is written."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns


def file_identity(path: Path) -> tuple[int, int] | None:
    """(device, inode) of a file, ``None`` when it is gone: tells a file replaced under a running server."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_dev, stat.st_ino


class FeatureReader:
    """``root`` holds registry.db, online.db and offline/; ``shown`` turns a path into the text messages use
    (relative to the project, so a client-facing 503 does not spell out the server's folders); ``online_url``
    (``redis://…``) reads the online store from Redis instead of online.db."""

    def __init__(self, root: Path, shown=None, online_url: str = "") -> None:
        self.root = Path(root)
        self._shown = shown or str
        _keep_torch_out()  # before the first Feast import (the registry check parses Feast's protobuf)
        self.registry_path = self.root / "registry.db"
        self.online_path = self.root / "online.db"
        self._check_registry()
        if not online_url:  # Redis (scaled out) is checked by its first read, the readiness probe
            self._check_online()
        watched = (self.registry_path,) if online_url else (self.registry_path, self.online_path)
        self._files = {p: file_identity(p) for p in watched}
        self._broken = False
        from feature_repo.store import open_store

        self._store = open_store(self.root, offline=False, online_url=online_url)
        self._lock = threading.Lock()
        self._cache_lock = threading.Lock()  # apart from the store's lock: hits never wait for a read
        self._cache: OrderedDict[str, ImageRecord | None] = OrderedDict()
        self._cache_key: tuple | None = None
        self.cache_hits = 0
        self.cache_misses = 0

    # ---------------------------------------------------------------- checks at open
    def _check_registry(self) -> None:
        where = self._shown(self.registry_path)
        if not self.registry_path.is_file():
            raise FileNotFoundError(f"the feature store registry {where} is missing: {REBUILD}")
        from feast.protos.feast.core.Registry_pb2 import Registry as RegistryProto

        proto = RegistryProto()
        try:
            proto.ParseFromString(self.registry_path.read_bytes())
        except Exception as exc:  # noqa: BLE001 - protobuf's DecodeError, an unreadable file
            raise ValueError(f"the feature store registry {where} cannot be read ({exc}): {REBUILD}") from None
        names = {v.spec.name for v in proto.feature_views if v.spec.project == PROJECT}
        missing = [v for v in SERVED_VIEWS if v not in names]
        if missing:
            raise ValueError(f"the feature store registry {where} does not define {', '.join(missing)}: {REBUILD}")

    def _check_online(self) -> None:
        where = self._shown(self.online_path)
        if not self.online_path.is_file():
            raise FileNotFoundError(f"the feature store's online database {where} is missing: {REBUILD}")
        try:
            tables = sqlite_tables(self.online_path)
        except sqlite3.Error as exc:
            raise ValueError(f"the feature store's online database {where} cannot be read ({exc}): {REBUILD}") from None
        missing = [v for v in SERVED_VIEWS if f"{PROJECT}_{v}" not in tables]
        if missing:
            raise ValueError(
                f"the feature store's online database {where} has no table for {', '.join(missing)}: {REBUILD}"
            )

    def usable(self) -> bool:
        """False once a read failed or a store file was deleted or replaced since this reader opened it."""
        return not self._broken and all(file_identity(p) == known for p, known in self._files.items())

    def offline_missing(self) -> list[str]:
        """Offline tables publish writes that are absent. The server never reads them (queries use the online
        store), so they do not make it unready; the pipeline's next publish rebuilds them."""
        offline = self.root / "offline"
        return [
            self._shown(offline / f"{v}.parquet") for v in OFFLINE_VIEWS if not (offline / f"{v}.parquet").is_file()
        ]

    # ---------------------------------------------------------------- reads
    def _read(self, features: list[str], ids: list[str]) -> dict[str, list]:
        try:
            with self._lock:  # the SQLite online store connection is not shared across threads safely
                return self._store.get_online_features(
                    features=features, entity_rows=[{"image_id": i} for i in ids]
                ).to_dict()
        except Exception as exc:  # noqa: BLE001 - sqlite, protobuf, Feast: the store is unusable as it is
            self._broken = True
            logger.error("feature store read failed (%s: %s); it will be reopened", type(exc).__name__, exc)
            raise FeatureStoreUnavailableError(
                f"the feature store {self._shown(self.root)} cannot be read right now; it is reopened on the next "
                f"request (if this persists, {REBUILD})"
            ) from None

    def probe(self) -> None:
        """One real online read (of an id that is never stored); FeatureStoreUnavailableError when it fails."""
        self._read([f"{views.METADATA}:path"], [PROBE_ID])

    def feature_version(self) -> tuple:
        """What the cached records are valid for: the last publication and the online database's file state
        (its write-ahead log too, should the store ever use one)."""
        return tuple(file_state(p) for p in (self.root / PUBLICATION, self.online_path, self.root / "online.db-wal"))

    def records(self, ids: list[str]) -> list[ImageRecord | None]:
        """Metadata and description per id, ``None`` for ids the store does not know; from memory for ids read
        since the last publish, one batched online read for the rest."""
        if not ids:
            return []
        version = self.feature_version()
        found: dict[str, ImageRecord | None] = {}
        with self._cache_lock:
            if version != self._cache_key:
                self._cache.clear()
                self._cache_key = version
            for image_id in ids:
                if image_id in self._cache:
                    found[image_id] = self._cache[image_id]
                    self._cache.move_to_end(image_id)
        missing = [i for i in dict.fromkeys(ids) if i not in found]
        if missing:
            fresh = self._read_records(missing)
            found.update(fresh)
            with self._cache_lock:
                if self._cache_key == version:  # not across a publish that happened meanwhile
                    self._cache.update(fresh)
                    while len(self._cache) > CACHED_RECORDS:
                        self._cache.popitem(last=False)
        with self._cache_lock:
            self.cache_hits += len(ids) - len(missing)
            self.cache_misses += len(missing)
        return [found[i] for i in ids]

    def _read_records(self, ids: list[str]) -> dict[str, ImageRecord | None]:
        rows = self._read(
            [f"{views.METADATA}:{f}" for f in METADATA] + [f"{views.DESCRIPTION}:{f}" for f in DESCRIPTION], ids
        )
        out: dict[str, ImageRecord | None] = {}
        for i, image_id in enumerate(ids):
            if rows["path"][i] is None:
                out[image_id] = None
                continue
            out[image_id] = ImageRecord(
                image_id=image_id,
                metadata={f: rows[f][i] for f in METADATA},
                description=_description({f: rows[f][i] for f in DESCRIPTION}),
            )
        return out

    def thumbnail(self, image_id: str) -> bytes | None:
        return self._read([f"{views.THUMBNAIL}:thumbnail"], [image_id])["thumbnail"][0]


def _description(raw: dict[str, Any]) -> dict[str, Any]:
    """The stored evidence is a JSON string; the API returns it as an object (``{}`` if unreadable)."""
    evidence = raw.get("evidence")
    try:
        parsed = json.loads(evidence) if evidence else {}
    except ValueError:
        parsed = {}
    return {"alt": raw.get("alt"), "long": raw.get("long"), "evidence": parsed if isinstance(parsed, dict) else {}}
