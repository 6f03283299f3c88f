"""A batch's raw XML (table submission_blobs) and attachment rows, each in one statement.

On PostgreSQL each is one `INSERT … SELECT FROM unnest(one array per column)`: psycopg's
executemany sent one statement per row through its pipeline, 8 % (the XML) and 4 % (the
attachment rows) of a serving process's Python time under 50 clients (tests/bench/RESULTS.md,
"Ingest at ~1 ms per submission"); the statement's text stays short, so psycopg converts it
once. SQLite takes an executemany. Blobs are content-addressed: the same XML stored twice is
one row.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from server.models import SubmissionAttachment, SubmissionBlob

BLOBS = SubmissionBlob.__table__
ATTS = SubmissionAttachment.__table__

_BLOBS_UNNEST = sa.text(
    "INSERT INTO submission_blobs (sha256, xml) "
    "SELECT * FROM unnest(CAST(:sha256 AS varchar[]), CAST(:xml AS bytea[])) "
    "ON CONFLICT (sha256) DO NOTHING")
_ATTS_COLUMNS = ("submission_id", "name", "content_type", "sha256", "size", "storage_key")
_ATTS_UNNEST = sa.text(
    f"INSERT INTO submission_attachments ({', '.join(_ATTS_COLUMNS)}) "
    "SELECT * FROM unnest(CAST(:submission_id AS integer[]), CAST(:name AS varchar[]), "
    "CAST(:content_type AS varchar[]), CAST(:sha256 AS varchar[]), CAST(:size AS integer[]), "
    "CAST(:storage_key AS varchar[]))")


def _columns(rows: list[dict[str, Any]], names: tuple[str, ...]) -> dict[str, list[Any]]:
    return {name: [row[name] for row in rows] for name in names}


def insert_blobs(conn: Connection, blobs: list[dict[str, Any]]) -> None:
    """Store {sha256, xml} rows, keeping the row already stored under a hash."""
    if not blobs:
        return
    name = conn.dialect.name
    if name == "postgresql":
        conn.execute(_BLOBS_UNNEST, _columns(blobs, ("sha256", "xml")))
        return
    if name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:
        conn.execute(BLOBS.insert(), blobs)
        return
    conn.execute(insert(BLOBS).on_conflict_do_nothing(index_elements=["sha256"]), blobs)


def insert_attachments(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Insert attachment rows (every column of _ATTS_COLUMNS given)."""
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        conn.execute(_ATTS_UNNEST, _columns(rows, _ATTS_COLUMNS))
    else:
        conn.execute(ATTS.insert(), rows)
