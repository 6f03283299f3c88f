"""Processing of stored submissions: the ordered steps that derive entities, visits, coverage.

A submission is answered 201 once its raw record is durable; processing runs afterwards, off the
request path (server.services.processing.worker), and every step is idempotent so that any
submission can be replayed. Submissions are processed in batches, one transaction per batch like
ingest (server.services.processing.queue claims them): each submission's steps run in order in a
SAVEPOINT of their own, so a failure rolls back only that submission's derived rows and records
the step and reason on it, while the rest of the batch commits. A worker killed mid-batch
commits nothing of it: its submissions are still pending for the next worker. A failure
caused by the machine, not the submission (a full disk, the database gone: services.faults),
is retried by itself with backoff; any other stays `error` until `doorstep submissions
reprocess` replays it after a fix.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError, OperationalError

from server.extensions import db
from server.models import Form, FormVersion, Submission
from server.models._types import utcnow
from server.models.submissions import TEST_STATE
from server.services import faults, storage
from server.services.coverage.visits import record_visit
from server.services.processing import queue
from server.services.register.entities import apply_submission
from server.services.rentals import derive as rentals


@dataclass(frozen=True)
class Step:
    name: str
    run: Callable[[Submission, bytes], None]  # (submission, its raw XML)


#: The pipeline, in order. Entities first: a building listed in the field is created by its
#: submission's `buildings` entity, and the visit of that same submission must find it; the
#: rental register's units are derived from the households the entities step just wrote.
STEPS: tuple[Step, ...] = (
    Step("entities", apply_submission),
    Step("rentals", rentals.apply_submission),
    Step("visits", record_visit),
)

#: PostgreSQL's deadlock and serialization failures (SQLSTATE): another worker's transaction.
CONCURRENT_STATES = ("40P01", "40001")

log = logging.getLogger(__name__)


def _zero() -> dict[str, int]:
    return {"done": 0, "error": 0, "skipped": 0}


def _concurrent(err: Exception) -> bool:
    """Worth one more try in a fresh savepoint at once: another worker's concurrent transaction
    created the same entity or version first (a unique constraint), or a deadlock was broken."""
    if isinstance(err, IntegrityError):
        return True
    return (isinstance(err, OperationalError)
            and getattr(err.orig, "sqlstate", None) in CONCURRENT_STATES)


def _run_steps(sub: Submission, read: bytes | None) -> tuple[str, Exception] | None:
    """Every step on one submission inside a savepoint; None, or (`step: why`, the error)."""
    failure = None
    for attempt in range(2):
        step = "read"
        savepoint = db.session.begin_nested()
        try:
            xml = storage.get(sub.storage_key, sub.xml_sha256, read)
            for step_ in STEPS:
                step = step_.name
                step_.run(sub, xml)
            savepoint.commit()
            return None
        except Exception as err:  # any processor failure is recorded, never lost
            savepoint.rollback()
            failure = (f"{step}: {err}", err)
            if attempt or not _concurrent(err):
                break
    return failure


def _process(sub: Submission, read: bytes | None = None) -> dict:
    """Run the steps; returns the submission's marks (written for the whole batch at once).
    `read`: its raw XML, fetched with the claim. A machine fault gets the time of its next
    automatic attempt (retry_delay)."""
    if sub.draft:  # a draft's test submission: never reaches the register or coverage
        return {"b_id": sub.id, "b_state": TEST_STATE, "b_error": None, "b_runs": 0,
                "b_at": sub.processed_at, "b_attempts": 0, "b_retry_at": None}
    failure = _run_steps(sub, read)
    now = utcnow()
    if failure is None:
        return {"b_id": sub.id, "b_state": "done", "b_error": None, "b_at": now, "b_runs": 1,
                "b_attempts": 0, "b_retry_at": None}
    message, err = failure
    attempts = sub.processing_attempts + 1
    retry_at = now + timedelta(seconds=retry_delay(attempts)) if faults.transient(err) else None
    log.warning("processing submission %s failed in %s%s", sub.id, message,
                f" (attempt {attempts}; retried at {retry_at:%H:%M:%S} UTC)" if retry_at else "")
    return {"b_id": sub.id, "b_state": "error", "b_error": message[:2000], "b_at": now,
            "b_runs": 1, "b_attempts": attempts, "b_retry_at": retry_at}


def retry_delay(attempt: int) -> float:
    """Seconds before the next attempt after `attempt` failed ones: doubling from
    PROCESSING_RETRY_FIRST_S up to PROCESSING_RETRY_MAX_S."""
    first = current_app.config["PROCESSING_RETRY_FIRST_S"]
    return min(first * 2 ** min(attempt - 1, 32), current_app.config["PROCESSING_RETRY_MAX_S"])


def next_retry_in() -> float | None:
    """Seconds until the next automatic retry is due (0 when overdue), None when none is."""
    due = db.session.scalar(sa.select(sa.func.min(Submission.processing_retry_at))
                            .where(Submission.processing_state == "error"))
    db.session.rollback()
    return None if due is None else max(0.0, (due - utcnow()).total_seconds())


_SUBS = Submission.__table__
#: One statement for the batch's marks (executemany): no ORM bookkeeping per submission.
_MARK = (sa.update(_SUBS).where(_SUBS.c.id == sa.bindparam("b_id"))
         .values(processing_state=sa.bindparam("b_state"),
                 processing_error=sa.bindparam("b_error"),
                 processed_at=sa.bindparam("b_at"),
                 processing_attempts=sa.bindparam("b_attempts"),
                 processing_retry_at=sa.bindparam("b_retry_at"),
                 processing_runs=_SUBS.c.processing_runs + sa.bindparam("b_runs")))
_COUNTED = {"done": "done", "error": "error", TEST_STATE: "skipped"}


def process_batch(size: int | None = None, only: int | None = None) -> dict[str, int]:
    """Claim a batch of pending submissions (or the one `only`), process each, commit once;
    returns counts by new state. The batch ends early after PROCESSING_BATCH_MS of work: what
    it claimed and did not reach stays pending."""
    config = current_app.config
    budget = config["PROCESSING_BATCH_MS"] / 1000
    counts = _zero()
    try:
        batch = queue.claim(size or config["PROCESSING_BATCH_SIZE"], only)
        if not batch:
            db.session.rollback()  # nothing to do: let go of the write lock
            return counts
        started = time.monotonic()
        marks = []
        for sub, read in batch:
            if marks and time.monotonic() - started > budget:
                break
            marks.append(_process(sub, read))
            counts[_COUNTED[marks[-1]["b_state"]]] += 1
        db.session.execute(_MARK, marks)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return counts


def process_one(submission_id: int) -> str:
    """Process (or replay) one submission in its own transaction; returns its new state, or
    "skipped" when it does not exist or another worker holds it."""
    counts = process_batch(only=submission_id)
    return next((state for state, n in counts.items() if n), "skipped")


def process_pending(limit: int | None = None) -> dict[str, int]:
    """Process pending submissions (and those due for a retry), batch after batch, until none
    is left (or `limit` were); returns counts by state. On PostgreSQL other workers may be
    taking batches meanwhile."""
    counts = _zero()
    size = current_app.config["PROCESSING_BATCH_SIZE"]
    while limit is None or sum(counts.values()) < limit:
        left = size if limit is None else min(size, limit - sum(counts.values()))
        got = process_batch(left)
        if not any(got.values()):
            break
        for state, n in got.items():
            counts[state] += n
    return counts


def reprocess(form_id: str | None = None, everything: bool = False) -> int:
    """Mark submissions pending again: those in error, or all with `everything`; by form."""
    query = (sa.update(Submission).where(Submission.draft.is_(False))
             .values(processing_state="pending", processing_error=None, processing_attempts=0,
                     processing_retry_at=None))
    if not everything:
        query = query.where(Submission.processing_state == "error")
    if form_id is not None:
        versions = (
            sa.select(FormVersion.id).join(Form).where(Form.xml_form_id == form_id)
        ).scalar_subquery()
        query = query.where(Submission.form_version_id.in_(versions))
    count = db.session.execute(query).rowcount
    db.session.commit()
    return count
