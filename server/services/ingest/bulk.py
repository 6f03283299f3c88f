"""A batch's submission rows, raw XML (table submission_blobs) and attachment rows, each in one
statement.

On PostgreSQL each is one `INSERT … SELECT FROM unnest(one array per column)`, whose text is
the same for any batch size: psycopg rewrites a statement's text on every execution once it has
more than 50 parameters (the multi-row VALUES of a batch's submissions: 9 % of a serving
process's Python time under 50 clients), and its executemany sent the blobs and attachment rows
one statement per row through its pipeline (8 % and 4 %; tests/bench/RESULTS.md, "Ingest at
~1 ms per submission"). SQLite takes SQLAlchemy's multi-row insert and executemany. Blobs are
content-addressed: the same XML stored twice is one row.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection

from server.models import Submission, SubmissionAttachment, SubmissionBlob
from server.models._types import utcnow

SUBS = Submission.__table__
BLOBS = SubmissionBlob.__table__
ATTS = SubmissionAttachment.__table__
#: What the model's Python-side defaults give a new submission that ingest's rows do not set
#: (on PostgreSQL the unnest statement writes the rows: no Core insert applies them); received_at
#: is utcnow() per row, as its default.
_SUBMISSION_DEFAULTS = {"review_state": "received"}


@lru_cache(maxsize=8)
def _unnest(table: sa.Table, columns: tuple[str, ...], tail: str = "") -> sa.TextClause:
    """INSERT INTO table (columns) SELECT * FROM unnest(:column AS its type[], …) tail."""
    dialect = postgresql.dialect()
    arrays = ", ".join(f"CAST(:{c} AS {table.c[c].type.compile(dialect=dialect)}[])"
                       for c in columns)
    return sa.text(f"INSERT INTO {table.name} ({', '.join(columns)}) "
                   f"SELECT * FROM unnest({arrays}) {tail}")


def _columns(rows: list[dict[str, Any]], names: tuple[str, ...]) -> dict[str, list[Any]]:
    return {name: [row[name] for row in rows] for name in names}


def insert_submissions(conn: Connection, rows: list[dict[str, Any]]) -> list[int]:
    """Insert new submission rows (the same keys in each, instance_id among them); their ids,
    in order."""
    if conn.dialect.name != "postgresql":
        result = conn.execute(SUBS.insert().returning(SUBS.c.id, sort_by_parameter_order=True),
                              rows)
        return [new_id for (new_id,) in result]
    full = [{"received_at": utcnow(), **_SUBMISSION_DEFAULTS, **row} for row in rows]
    names = tuple(full[0])
    result = conn.execute(_unnest(SUBS, names, "RETURNING id, instance_id"),
                          _columns(full, names))
    ids = {iid: new_id for new_id, iid in result}  # RETURNING's order is not promised
    return [ids[row["instance_id"]] for row in rows]


def insert_blobs(conn: Connection, blobs: list[dict[str, Any]]) -> None:
    """Store {sha256, xml} rows, keeping the row already stored under a hash."""
    if not blobs:
        return
    name = conn.dialect.name
    if name == "postgresql":
        names = ("sha256", "xml")
        conn.execute(_unnest(BLOBS, names, "ON CONFLICT (sha256) DO NOTHING"),
                     _columns(blobs, names))
        return
    if name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:
        conn.execute(BLOBS.insert(), blobs)
        return
    conn.execute(insert(BLOBS).on_conflict_do_nothing(index_elements=["sha256"]), blobs)


def insert_attachments(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Insert attachment rows (the same keys in each)."""
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        names = tuple(rows[0])
        conn.execute(_unnest(ATTS, names), _columns(rows, names))
    else:
        conn.execute(ATTS.insert(), rows)
