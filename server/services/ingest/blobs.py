"""The raw XML of a batch's new submissions, written to table submission_blobs in one statement.

Blobs are content-addressed: the same XML stored twice is one row. On PostgreSQL the batch is
one `INSERT … SELECT FROM unnest(hashes, bytes)`: psycopg's executemany sent one statement per
row through its pipeline, 8 % of a serving process's Python time under 50 clients
(tests/bench/RESULTS.md, "Ingest at ~1 ms per submission"). SQLite takes an executemany.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from server.models import SubmissionBlob

BLOBS = SubmissionBlob.__table__

_UNNEST = sa.text(
    "INSERT INTO submission_blobs (sha256, xml) "
    "SELECT * FROM unnest(CAST(:hashes AS varchar[]), CAST(:xmls AS bytea[])) "
    "ON CONFLICT (sha256) DO NOTHING")


def insert_blobs(conn: Connection, blobs: list[tuple[str, bytes]]) -> None:
    """Store (sha256, xml) pairs, keeping the row already stored under a hash."""
    if not blobs:
        return
    name = conn.dialect.name
    if name == "postgresql":
        conn.execute(_UNNEST, {"hashes": [h for h, _ in blobs], "xmls": [x for _, x in blobs]})
        return
    if name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:
        conn.execute(BLOBS.insert(), [{"sha256": h, "xml": x} for h, x in blobs])
        return
    conn.execute(insert(BLOBS).on_conflict_do_nothing(index_elements=["sha256"]),
                 [{"sha256": h, "xml": x} for h, x in blobs])
