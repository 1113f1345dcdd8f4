"""Export votes from the server's append-only SQLite log into the Feast offline store, partitioned by day.

Files are ``offline/feedback/date=YYYY-MM-DD/feedback-<first id>-<last id>.parquet``; the highest id already
exported is read back from the file names, so the files themselves are the watermark: an export interrupted
after writing some days re-exports nothing twice, and a run with no new votes writes nothing. The log is opened
read-only (``mode=ro``): exporting never changes the server's data. The ``image_feedback`` feature view over
the folder is applied to the Feast registry so the votes are read like every other feature.
"""

from __future__ import annotations

import logging
import re
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from models.atomic import atomic_path

logger = logging.getLogger(__name__)

FEEDBACK_DIR = "feedback"
FILE_NAME = re.compile(r"feedback-(\d+)-(\d+)\.parquet")
COLUMNS = ["feedback_id", "image_id", "vote", "query_text", "query_image_id", "model_version", "rank", "session"]
# One schema for every file: a day with no image queries must not write query_image_id as type "null".
SCHEMA = pa.schema(
    [
        ("feedback_id", pa.int64()),
        ("image_id", pa.string()),
        ("vote", pa.int64()),
        ("query_text", pa.string()),
        ("query_image_id", pa.string()),
        ("model_version", pa.string()),
        ("rank", pa.int64()),
        ("session", pa.string()),
        ("event_timestamp", pa.timestamp("us", tz="UTC")),
    ]
)


def exported_up_to(folder: Path) -> int:
    """The highest vote id in the exported files (0 when there are none)."""
    last = 0
    for path in folder.glob("date=*/feedback-*.parquet"):
        match = FILE_NAME.fullmatch(path.name)
        if match:
            last = max(last, int(match.group(2)))
    return last


_VOTES_AFTER = (
    "SELECT id AS feedback_id, image_id, vote, query_text, query_image_id, model_version, rank, session,"
    " created_at FROM feedback WHERE id > ? ORDER BY id"
)


def read_votes(db: Path | str, after_id: int) -> pd.DataFrame:
    """Votes with id > ``after_id`` from the server's log: a SQLite file opened read-only (empty if it does not
    exist), or a PostgreSQL database when ``db`` is a ``postgresql://`` URL (the scaled-out server's)."""
    if isinstance(db, str) and db.startswith(("postgresql://", "postgres://")):
        import psycopg

        with psycopg.connect(db) as conn:
            conn.read_only = True
            cursor = conn.execute(_VOTES_AFTER.replace("?", "%s"), (after_id,))
            frame = pd.DataFrame(cursor.fetchall(), columns=[c.name for c in cursor.description])
    else:
        db = Path(db)
        if not db.exists():
            return pd.DataFrame(columns=[*COLUMNS, "event_timestamp"])
        with sqlite3.connect(f"file:{db.resolve()}?mode=ro", uri=True) as conn:
            frame = pd.read_sql_query(_VOTES_AFTER, conn, params=(after_id,))
    frame["event_timestamp"] = pd.to_datetime(frame.pop("created_at"), utc=True, format="ISO8601")
    frame["rank"] = frame["rank"].astype("Int64")
    frame["vote"] = frame["vote"].astype("int64")
    return frame


def write_partitions(votes: pd.DataFrame, folder: Path) -> list[str]:
    """One parquet file per day of ``votes`` (written to a temporary name, then renamed); returns their paths."""
    written = []
    for day, part in votes.groupby(votes["event_timestamp"].dt.strftime("%Y-%m-%d"), sort=True):
        target = folder / f"date={day}"
        target.mkdir(parents=True, exist_ok=True)
        name = f"feedback-{int(part['feedback_id'].min())}-{int(part['feedback_id'].max())}.parquet"
        with atomic_path(target / name) as tmp:
            pq.write_table(pa.Table.from_pandas(part[SCHEMA.names], schema=SCHEMA, preserve_index=False), tmp)
        written.append(str((target / name).relative_to(folder.parent)))
    return written


def register_view(store_root: Path, folder: Path) -> None:
    """Apply the ``image_feedback`` feature view (and its image entity) to the Feast registry."""
    from feature_repo.definitions import entities, feedback_view
    from feature_repo.store import open_store

    image, _ = entities()
    open_store(store_root).apply([image, feedback_view(folder)])


def export_feedback(params: dict[str, Any]) -> dict[str, Any]:
    """Copy the votes not yet exported to the offline store; returns what was done (for the run's record)."""
    store_root = Path(params["store_root"]).resolve()
    from feature_repo.store import offline_dir

    folder = offline_dir(store_root) / FEEDBACK_DIR
    folder.mkdir(parents=True, exist_ok=True)
    after = exported_up_to(folder)
    votes = read_votes(params.get("feedback_url") or Path(params["feedback_db"]), after)
    files = write_partitions(votes, folder) if len(votes) else []
    if files or not (store_root / "registry.db").exists() or params.get("always_apply", False):
        register_view(store_root, folder)
    summary = {
        "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "new_votes": len(votes),
        "up_to_id": int(votes["feedback_id"].max()) if len(votes) else after,
        "files": files,
    }
    logger.info("feedback export: %d new votes in %d file(s), up to id %d", len(votes), len(files), summary["up_to_id"])
    return summary
