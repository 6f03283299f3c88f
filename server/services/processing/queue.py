"""The processing queue: pending submissions in the database, claimed in batches.

The queue is the `submissions` table itself (processing_state "pending", oldest id first, index
ix_submissions_processing_state_id): nothing to lose in a separate broker, and a batch's claim,
its derived rows and its "done" marks commit together. On PostgreSQL a batch is claimed with
`SELECT … FOR UPDATE SKIP LOCKED`, so any number of workers, in any number of processes on any
number of hosts, take disjoint batches and never wait for each other; a worker that dies rolls
back and its rows are pending again. On SQLite there is one writer at a time: the batch's
transaction starts with BEGIN IMMEDIATE (the write lock) and reads the oldest pending rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from server.extensions import db
from server.models import Submission, SubmissionBlob
from server.models._types import utcnow


def begin_batch() -> None:
    """Start the batch's transaction; on SQLite with the write lock, so that what the claim
    reads stays true until the commit."""
    db.session.rollback()  # end any read: the batch sees the queue as it is now
    conn = db.session.connection()
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def due() -> sa.ColumnElement[bool]:
    """Pending, or interrupted by a machine fault and due for its next attempt."""
    return sa.or_(
        Submission.processing_state == "pending",
        sa.and_(Submission.processing_state == "error",
                Submission.processing_retry_at <= utcnow()),
    )


def claim(size: int, only: int | None = None) -> list[tuple[Submission, bytes | None]]:
    """Begin a batch and take up to `size` due submissions, oldest first (or the one
    submission `only`, whatever its state: a replay), each with its raw XML when the database
    holds it (one round trip for the batch). Rows another worker holds are skipped."""
    begin_batch()
    query = sa.select(Submission, SubmissionBlob.xml).outerjoin(
        SubmissionBlob, SubmissionBlob.sha256 == Submission.xml_sha256)
    if only is not None:
        query = query.where(Submission.id == only)
    else:
        query = query.where(due()).order_by(Submission.id).limit(size)
    if db.session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=Submission)
    return [(sub, xml) for sub, xml in db.session.execute(query)]


@dataclass(frozen=True)
class Backlog:
    """Submissions stored but not yet processed, and how long the oldest has waited."""

    pending: int
    oldest_received_at: datetime | None
    errors: int

    @property
    def oldest_age_s(self) -> float | None:
        if self.oldest_received_at is None:
            return None
        return max(0.0, (utcnow() - self.oldest_received_at).total_seconds())

    def as_dict(self) -> dict:
        age = self.oldest_age_s
        return {"pending": self.pending, "errors": self.errors,
                "oldest_pending_age_s": None if age is None else round(age, 1)}


def backlog() -> Backlog:
    """The queue's length and age (two index reads), for /api/v1/health and the admin page."""
    count, oldest = db.session.execute(
        sa.select(sa.func.count(Submission.id), sa.func.min(Submission.received_at))
        .where(Submission.processing_state == "pending")
    ).one()
    errors = db.session.scalar(sa.select(sa.func.count(Submission.id))
                               .where(Submission.processing_state == "error"))
    return Backlog(count, oldest, errors)
