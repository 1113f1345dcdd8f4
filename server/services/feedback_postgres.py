"""The feedback store in PostgreSQL, for server replicas on several machines (``GLIMPSE_FEEDBACK_URL``).

The same table, rules and answers as the SQLite store (server/services/feedback.py, whose queries it shares):
append-only, enforced by triggers that refuse UPDATE, DELETE and TRUNCATE; a vote is acknowledged only after
its transaction committed (PostgreSQL's default ``synchronous_commit=on``: on disk, or on the synchronous
standby if one is configured); a repeated vote of one session is stored once, even when two replicas receive
it at the same moment (a transaction-scoped advisory lock per session). Nothing here drops or rewrites
anything that exists; a table of another shape is refused.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from server.services.feedback import COLUMNS, SCHEMA_VERSION, FeedbackStore, FeedbackUnavailableError

SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id BIGSERIAL PRIMARY KEY,
    created_at TEXT NOT NULL,
    session TEXT NOT NULL,
    query_text TEXT NULL,
    query_image_id TEXT NULL,
    image_id TEXT NOT NULL,
    vote SMALLINT NOT NULL CHECK (vote IN (-1, 1)),
    model_version TEXT NOT NULL,
    rank INTEGER NULL,
    CHECK ((query_text IS NULL) <> (query_image_id IS NULL))
);
CREATE INDEX IF NOT EXISTS feedback_by_session ON feedback (session, image_id);
CREATE OR REPLACE FUNCTION glimpse_feedback_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'feedback is append-only'; END $$;
CREATE OR REPLACE TRIGGER feedback_no_change BEFORE UPDATE OR DELETE ON feedback
    FOR EACH ROW EXECUTE FUNCTION glimpse_feedback_append_only();
CREATE OR REPLACE TRIGGER feedback_no_truncate BEFORE TRUNCATE ON feedback
    FOR EACH STATEMENT EXECUTE FUNCTION glimpse_feedback_append_only();
CREATE TABLE IF NOT EXISTS served (
    day TEXT NOT NULL,
    model_version TEXT NOT NULL,
    searches BIGINT NOT NULL CHECK (searches >= 0),
    PRIMARY KEY (day, model_version)
);
CREATE TABLE IF NOT EXISTS glimpse_schema (version INTEGER NOT NULL);
"""
_SCHEMA_LOCK = 0x676C696D  # advisory lock key: one replica creates the schema at a time


def redacted(url: str) -> str:
    """The URL without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit(parts._replace(netloc=netloc))


class PostgresFeedbackStore(FeedbackStore):
    """Append-only vote log in a PostgreSQL database. Every call opens its own connection (votes are rare next
    to searches; a pool would hold connections every replica's worker keeps open)."""

    def __init__(self, url: str, *, timeout_s: float = 10.0) -> None:
        import psycopg

        self.url = url
        self.path = redacted(url)  # what messages name
        self._psycopg = psycopg
        self._timeout_s = timeout_s
        self._write_lock = threading.Lock()
        try:
            with self._connect() as conn, conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
                self._check_is_ours(conn)
                conn.execute(SCHEMA)
                if conn.execute("SELECT count(*) FROM glimpse_schema").fetchone()[0] == 0:
                    conn.execute("INSERT INTO glimpse_schema (version) VALUES (%s)", (SCHEMA_VERSION,))
        except psycopg.Error as exc:
            raise self._unavailable("open", exc) from exc

    @staticmethod
    def _q(sql: str) -> str:
        return sql.replace("?", "%s")

    def _check_is_ours(self, conn: Any) -> None:
        found = tuple(
            row[0]
            for row in conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema()"
                " AND table_name = 'feedback' ORDER BY ordinal_position"
            )
        )
        if found and found != COLUMNS:
            raise FeedbackUnavailableError(
                f"the feedback table in {self.path} has columns {found}, expected {COLUMNS}; not touching it"
            )

    def _unavailable(self, action: str, exc: BaseException) -> FeedbackUnavailableError:
        # psycopg's messages can quote the connection string; only the redacted URL is named
        reason = str(exc).replace(self.url, self.path).strip()
        return FeedbackUnavailableError(f"cannot {action} the feedback database {self.path}: {reason}")

    @contextmanager
    def _connect(self) -> Iterator[Any]:
        psycopg = self._psycopg
        try:
            conn = psycopg.connect(self.url, autocommit=True, connect_timeout=max(1, int(self._timeout_s)))
        except psycopg.Error as exc:
            raise self._unavailable("open", exc) from exc
        try:
            yield conn
        except psycopg.Error as exc:
            raise self._unavailable("use", exc) from exc
        finally:
            conn.close()

    @contextmanager
    def _write(self) -> Iterator[Any]:
        """One transaction, committed (durable) when the block ends, rolled back on any error."""
        psycopg = self._psycopg
        with self._connect() as conn:
            try:
                with conn.transaction():
                    yield conn
            except psycopg.Error as exc:
                raise self._unavailable("write to", exc) from exc

    def _serialise_session(self, conn: Any, session: str) -> None:
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (session,))
