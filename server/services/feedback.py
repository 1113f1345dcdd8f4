"""The feedback store: votes on search results, appended to SQLite and acknowledged only once durable.

One row per vote ``(query text or query image id, image id, vote ±1, model version, time, anonymous session)``.
The table is append-only: this class has no update or delete, and triggers refuse both at the database level.
WAL journal + ``synchronous=FULL``: :meth:`FeedbackStore.record` returns only after the commit reached the disk.
A vote that repeats the same session's latest vote on the same result of the same search is not stored again
(a double click, a retried request); changing one's mind (up, then down) is a new row.
Next to the votes, ``served`` counts the searches each model version answered per day (added in batches by
server/services/served.py): the denominators of the per-version feedback rates an A/B comparison needs.
A database that cannot be opened, read or written raises :class:`FeedbackUnavailableError`; nothing here ever
deletes, truncates or recreates an existing file. A full disk fails the write's transaction, which is rolled back:
the votes already acknowledged stay, the refused one is not stored (the route answers 503), and writes work
again once there is space (tests/server/test_full_disk.py).
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

SCHEMA_VERSION = 2  # 2: the served table
COLUMNS = (
    "id",
    "created_at",
    "session",
    "query_text",
    "query_image_id",
    "image_id",
    "vote",
    "model_version",
    "rank",
)
SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY,
    created_at TEXT NOT NULL,
    session TEXT NOT NULL,
    query_text TEXT NULL,
    query_image_id TEXT NULL,
    image_id TEXT NOT NULL,
    vote INTEGER NOT NULL CHECK (vote IN (-1, 1)),
    model_version TEXT NOT NULL,
    rank INTEGER NULL,
    CHECK ((query_text IS NULL) <> (query_image_id IS NULL))
);
CREATE INDEX IF NOT EXISTS feedback_by_session ON feedback (session, image_id);
CREATE TRIGGER IF NOT EXISTS feedback_no_update BEFORE UPDATE ON feedback
BEGIN SELECT RAISE(ABORT, 'feedback is append-only'); END;
CREATE TRIGGER IF NOT EXISTS feedback_no_delete BEFORE DELETE ON feedback
BEGIN SELECT RAISE(ABORT, 'feedback is append-only'); END;
CREATE TABLE IF NOT EXISTS served (
    day TEXT NOT NULL,
    model_version TEXT NOT NULL,
    searches INTEGER NOT NULL CHECK (searches >= 0),
    PRIMARY KEY (day, model_version)
);
"""


class FeedbackUnavailableError(RuntimeError):
    """The database cannot be opened, read or written (corrupt, read-only, disk full, locked too long)."""

    #: What a client is told (the exception's own text names server paths and belongs in the log).
    public_message = "votes cannot be recorded right now: the feedback store cannot be opened or written"
    disk_full_message = (
        "votes cannot be recorded right now: the server's disk is full. Your vote was not saved; please try again later"
    )

    def __init__(self, message: str, *, disk_full: bool = False) -> None:
        super().__init__(message)
        self.disk_full = disk_full
        if disk_full:
            self.public_message = self.disk_full_message


DISK_FULL_BELOW = 1 << 20  # after a failed write, less free space than this (bytes) is called a full disk


def _disk_full(exc: BaseException, folder: Path) -> bool:
    """SQLite's SQLITE_FULL, or any I/O error while the folder's file system has (almost) no space left
    (SQLite reports a full disk met while sizing its shared-memory file as SQLITE_IOERR_SHMSIZE)."""
    if getattr(exc, "sqlite_errorcode", 0) & 0xFF == sqlite3.SQLITE_FULL:
        return True
    try:
        stat = os.statvfs(folder)
    except OSError:
        return False
    return stat.f_bavail * stat.f_frsize < DISK_FULL_BELOW


# Votes up and down, counted the same way in SQLite and PostgreSQL.
_UP = "CASE WHEN vote = 1 THEN 1 ELSE 0 END"
_DOWN = "CASE WHEN vote = -1 THEN 1 ELSE 0 END"


class Recorded(NamedTuple):
    id: int
    duplicate: bool  # True: the same vote was already the latest; nothing new was stored


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class FeedbackStore:
    """Append-only vote log in one SQLite file. Safe to share between threads: every call opens its own
    connection; writes are serialised in-process by a lock and across processes by SQLite's own locking."""

    def __init__(self, path: Path, *, timeout_s: float = 10.0) -> None:
        self.path = Path(path)
        self._timeout_s = timeout_s
        self._write_lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise FeedbackUnavailableError(f"cannot create the feedback folder {self.path.parent}: {exc}") from exc
        with self._connect() as conn:
            try:
                self._check_is_ours(conn)  # before any write: a foreign file is refused byte-for-byte unchanged
                if conn.execute("PRAGMA journal_mode=WAL").fetchone()[0].lower() != "wal":
                    raise FeedbackUnavailableError(f"the feedback database {self.path} cannot use a WAL journal")
                conn.executescript(SCHEMA)
                if conn.execute("PRAGMA user_version").fetchone()[0] < SCHEMA_VERSION:
                    conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            except sqlite3.Error as exc:
                raise self._unavailable("open", exc) from exc

    @staticmethod
    def _q(sql: str) -> str:
        """The statement in this database's parameter style (the queries are written with ``?``)."""
        return sql

    def _serialise_session(self, conn: Any, session: str) -> None:
        """Inside a write: no other write of ``session`` runs until this one commits (BEGIN IMMEDIATE already
        serialises every SQLite writer)."""

    def _check_is_ours(self, conn: sqlite3.Connection) -> None:
        """Empty, or holding our feedback table: anything else (another app's database, a feedback table of a
        different shape) is not ours to change."""
        found = tuple(row[1] for row in conn.execute("PRAGMA table_info(feedback)"))
        if found and found != COLUMNS:
            raise FeedbackUnavailableError(
                f"the feedback table in {self.path} has columns {found}, expected {COLUMNS}; not touching it"
            )
        if not found and conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
            raise FeedbackUnavailableError(f"{self.path} is a database of something else; not touching it")

    def _unavailable(self, action: str, exc: BaseException) -> FeedbackUnavailableError:
        full = _disk_full(exc, self.path.parent)
        reason = f"{exc} (the disk is full)" if full else str(exc)
        return FeedbackUnavailableError(f"cannot {action} the feedback database {self.path}: {reason}", disk_full=full)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        try:
            # isolation_level=None: autocommit; transactions are explicit (BEGIN IMMEDIATE … COMMIT).
            conn = sqlite3.connect(self.path, timeout=self._timeout_s, isolation_level=None)
        except sqlite3.Error as exc:
            raise self._unavailable("open", exc) from exc
        try:
            conn.execute("PRAGMA synchronous=FULL")
            yield conn
        except sqlite3.Error as exc:
            raise self._unavailable("use", exc) from exc
        finally:
            conn.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (BEGIN IMMEDIATE … COMMIT, durable on return), serialised in this process;
        rolled back on any SQLite error, which is raised as FeedbackUnavailableError."""
        with self._write_lock, self._connect() as conn:
            try:
                conn.execute("BEGIN IMMEDIATE")
                yield conn
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                if conn.in_transaction:
                    with suppress(sqlite3.Error):
                        conn.execute("ROLLBACK")
                raise self._unavailable("write to", exc) from exc

    def record(
        self,
        *,
        image_id: str,
        vote: int,
        model_version: str,
        session: str,
        query_text: str | None = None,
        query_image_id: str | None = None,
        rank: int | None = None,
    ) -> Recorded:
        """Append one vote; returns its row id once the commit is on disk (or the id of the identical vote
        this session already gave on this result of this search, storing nothing)."""
        if vote not in (-1, 1) or isinstance(vote, bool):
            raise ValueError(f"vote must be 1 or -1, not {vote!r}")
        if (query_text is None) == (query_image_id is None):
            raise ValueError("give exactly one of query_text or query_image_id")
        row = (_now(), session, query_text, query_image_id, image_id, vote, model_version, rank)
        with self._write() as conn:
            self._serialise_session(conn, session)
            latest = conn.execute(
                self._q(
                    "SELECT id, vote FROM feedback WHERE session = ? AND image_id = ? AND model_version = ?"
                    " AND query_text IS NOT DISTINCT FROM ? AND query_image_id IS NOT DISTINCT FROM ?"
                    " ORDER BY id DESC LIMIT 1"
                ),
                (session, image_id, model_version, query_text, query_image_id),
            ).fetchone()
            if latest is not None and latest[1] == vote:
                return Recorded(int(latest[0]), True)
            row_id = conn.execute(
                self._q(
                    "INSERT INTO feedback (created_at, session, query_text, query_image_id, image_id, vote,"
                    " model_version, rank) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id"
                ),
                row,
            ).fetchone()[0]
        return Recorded(int(row_id), False)

    def add_served(self, counts: dict[tuple[str, str], int]) -> None:
        """Add ``{(day, model_version): searches}`` to the served counts in one transaction."""
        rows = [(day, version, int(n)) for (day, version), n in counts.items() if n > 0]
        if not rows:
            return
        with self._write() as conn:
            for row in rows:
                conn.execute(
                    self._q(
                        "INSERT INTO served (day, model_version, searches) VALUES (?, ?, ?) ON CONFLICT"
                        " (day, model_version) DO UPDATE SET searches = served.searches + excluded.searches"
                    ),
                    row,
                )

    def served(self) -> dict[str, int]:
        """Searches answered per model version, all days together."""
        with self._connect() as conn:
            rows = conn.execute("SELECT model_version, sum(searches) FROM served GROUP BY model_version").fetchall()
        return {version: int(n) for version, n in rows}

    def count(self) -> int:
        with self._connect() as conn:
            return int(conn.execute("SELECT count(*) FROM feedback").fetchone()[0])

    def summary(self) -> dict[str, int]:
        """``{"total": n, "up": n, "down": n}`` over all votes."""
        with self._connect() as conn:
            total, up, down = conn.execute(
                f"SELECT count(*), coalesce(sum({_UP}), 0), coalesce(sum({_DOWN}), 0) FROM feedback"
            ).fetchone()
        return {"total": int(total), "up": int(up), "down": int(down)}

    def stats(self) -> list[dict[str, Any]]:
        """Per model version (no queries, no sessions): searches answered, votes up/down, distinct voting
        sessions, first/last vote, and the rates per search."""
        with self._connect() as conn:
            rows = conn.execute(
                f"SELECT model_version, count(*), sum({_UP}), sum({_DOWN}), count(DISTINCT session),"
                " min(created_at), max(created_at) FROM feedback GROUP BY model_version"
            ).fetchall()
        keys = ("model_version", "votes", "up", "down", "sessions", "first_vote_at", "last_vote_at")
        by_version = {row[0]: dict(zip(keys, row, strict=True)) for row in rows}
        served = self.served()
        for version in served.keys() - by_version.keys():  # answered searches, no votes yet
            by_version[version] = dict(zip(keys, (version, 0, 0, 0, 0, None, None), strict=True))
        out = list(by_version.values())
        for item in out:
            searches = served.get(item["model_version"], 0)
            item["searches"] = searches
            item["up_share"] = round(item["up"] / item["votes"], 4) if item["votes"] else None
            # rates per answered search: how often people vote, and vote up, on what this version shows
            item["votes_per_search"] = round(item["votes"] / searches, 4) if searches else None
            item["up_per_search"] = round(item["up"] / searches, 4) if searches else None
            item["down_per_search"] = round(item["down"] / searches, 4) if searches else None
        return sorted(
            out,
            key=lambda i: (
                not i["model_version"].isdigit(),
                int(i["model_version"]) if i["model_version"].isdigit() else 0,
                i["model_version"],
            ),
        )

    def recent(self, limit: int = 50) -> list[dict[str, Any]]:
        """The latest ``limit`` votes, newest first, as dicts keyed by column name."""
        with self._connect() as conn:
            rows = conn.execute(
                self._q(f"SELECT {', '.join(COLUMNS)} FROM feedback ORDER BY id DESC LIMIT ?"), (max(0, int(limit)),)
            ).fetchall()
        return [dict(zip(COLUMNS, row, strict=True)) for row in rows]


def open_feedback_store(settings: Any) -> FeedbackStore:
    """The vote store the settings name: PostgreSQL when ``feedback_url`` is set, else the SQLite file."""
    if settings.feedback_url:
        from server.services.feedback_postgres import PostgresFeedbackStore

        return PostgresFeedbackStore(settings.feedback_url)
    return FeedbackStore(settings.path(settings.feedback_db))
