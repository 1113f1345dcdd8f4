"""Open the Feast store for a data folder: registry and online store in SQLite, offline store in parquet; or,
scaled out, the online store in Redis (``online_url``) shared by every server replica.

Built in code (not from feature_store.yaml) so that the folder can come from settings; the YAML beside this
file describes the same store for the ``feast`` CLI.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from urllib.parse import unquote, urlsplit

REPO_PATH = Path(__file__).resolve().parent
ONLINE_ONLY = "feature_repo.online_only.OnlineOnlyOfflineStore"


def redis_connection_string(url: str) -> str:
    """Feast's Redis connection string (``host:port,db=N[,password=…][,ssl=true]``) for a ``redis://`` or
    ``rediss://`` URL; ValueError for anything else."""
    parts = urlsplit(url)
    if parts.scheme not in {"redis", "rediss"} or not parts.hostname:
        raise ValueError(f"the online store URL must be redis://host:port/db, not {url!r}")
    db = parts.path.strip("/") or "0"
    if not db.isdigit():
        raise ValueError(f"the Redis database in {url!r} must be a number")
    out = f"{parts.hostname}:{parts.port or 6379},db={db}"
    if parts.password:
        out += f",password={unquote(parts.password)}"
    if parts.scheme == "rediss":
        out += ",ssl=true"
    return out


def open_store(root: Path, *, offline: bool = True, online_url: str = ""):
    """A FeatureStore whose files live in ``root`` (registry.db, online.db, offline/*.parquet).

    ``offline=False`` opens it for online reads only, without importing dask (feature_repo/online_only.py);
    ``online_url`` (``redis://host:port/db``) puts the online store in Redis instead of ``online.db``."""
    os.environ.setdefault("FEAST_USAGE", "False")
    from feast import FeatureStore, RepoConfig
    from feast.repo_config import RegistryConfig

    root = Path(root).resolve()
    root.mkdir(parents=True, exist_ok=True)
    if online_url:
        from feast.infra.online_stores.redis import RedisOnlineStoreConfig

        online = RedisOnlineStoreConfig(connection_string=redis_connection_string(online_url))
    else:
        from feast.infra.online_stores.sqlite import SqliteOnlineStoreConfig

        online = SqliteOnlineStoreConfig(path=str(root / "online.db"))
    config = RepoConfig(
        project="glimpse",
        provider="local",
        registry=RegistryConfig(path=str(root / "registry.db"), cache_ttl_seconds=60),
        online_store=online,
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
