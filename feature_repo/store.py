"""Open the Feast store for a data folder: registry and online store in SQLite, offline store in parquet.

Built in code (not from feature_store.yaml) so that the folder can come from settings; the YAML beside this
file describes the same store for the ``feast`` CLI.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

REPO_PATH = Path(__file__).resolve().parent
ONLINE_ONLY = "feature_repo.online_only.OnlineOnlyOfflineStore"


def open_store(root: Path, *, offline: bool = True):
    """A FeatureStore whose files live in ``root`` (registry.db, online.db, offline/*.parquet).

    ``offline=False`` opens it for online reads only, without importing dask (feature_repo/online_only.py)."""
    os.environ.setdefault("FEAST_USAGE", "False")
    from feast import FeatureStore, RepoConfig
    from feast.infra.online_stores.sqlite import SqliteOnlineStoreConfig
    from feast.repo_config import RegistryConfig

    root = Path(root).resolve()
    root.mkdir(parents=True, exist_ok=True)
    config = RepoConfig(
        project="glimpse",
        provider="local",
        registry=RegistryConfig(path=str(root / "registry.db"), cache_ttl_seconds=60),
        online_store=SqliteOnlineStoreConfig(path=str(root / "online.db")),
        offline_store={"type": "file" if offline else ONLINE_ONLY},
        entity_key_serialization_version=3,
        repo_path=REPO_PATH,
    )
    return FeatureStore(config=config)


def offline_dir(root: Path) -> Path:
    return Path(root) / "offline"


def sqlite_tables(path: Path) -> set[str]:
    """The table names of a SQLite file, opened read-only: checking a store never creates or changes it
    (``sqlite3.connect`` alone would create a missing file). Raises ``sqlite3.Error`` for a damaged file."""
    conn = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True)
    try:
        return {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    finally:
        conn.close()
