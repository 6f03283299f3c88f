"""Processing of stored submissions: the ordered steps that derive entities, visits, coverage.

A submission is answered 201 once its raw record is durable; processing runs afterwards, off the
request path (server.services.processing.worker), and every step is idempotent so that any
submission can be replayed. Submissions are processed in batches, one transaction per batch like
ingest (server.services.processing.queue claims them): each submission's steps run in order in a
SAVEPOINT of their own, so a failure rolls back only that submission's derived rows and records
the step and reason on it, while the rest of the batch commits. A worker killed mid-batch
commits nothing of it: its submissions are still pending for the next worker.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError, OperationalError

from server.extensions import db
from server.models import Form, FormVersion, Submission
from server.models._types import utcnow
from server.models.submissions import TEST_STATE
from server.services import storage
from server.services.coverage.visits import record_visit
from server.services.processing import queue
from server.services.register.entities import apply_submission


@dataclass(frozen=True)
class Step:
    name: str
    run: Callable[[Submission, bytes], None]  # (submission, its raw XML)


#: The pipeline, in order. Entities first: a building listed in the field is created by its
#: submission's `buildings` entity, and the visit of that same submission must find it.
STEPS: tuple[Step, ...] = (
    Step("entities", apply_submission),
    Step("visits", record_visit),
)

#: Failures worth one more try in a fresh savepoint: another worker's concurrent transaction
#: created the same entity or version first (a unique constraint), or a deadlock was broken.
RETRIED = (IntegrityError, OperationalError)

log = logging.getLogger(__name__)


def _zero() -> dict[str, int]:
    return {"done": 0, "error": 0, "skipped": 0}


def _run_steps(sub: Submission, read: bytes | None) -> str | None:
    """Every step on one submission inside a savepoint; None, or the failure as `step: why`."""
    error = None
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
            error = f"{step}: {err}"
            if attempt or not isinstance(err, RETRIED):
                break
    log.warning("processing submission %s failed in %s", sub.id, error)
    return error


def _process(sub: Submission, read: bytes | None = None) -> dict:
    """Run the steps; returns the submission's marks (written for the whole batch at once).
    `read`: its raw XML, fetched with the claim."""
    if sub.draft:  # a draft's test submission: never reaches the register or coverage
        return {"b_id": sub.id, "b_state": TEST_STATE, "b_error": None,
                "b_at": sub.processed_at, "b_runs": 0}
    error = _run_steps(sub, read)
    return {"b_id": sub.id, "b_state": "error" if error else "done",
            "b_error": error[:2000] if error else None, "b_at": utcnow(), "b_runs": 1}


_SUBS = Submission.__table__
#: One statement for the batch's marks (executemany): no ORM bookkeeping per submission.
_MARK = (sa.update(_SUBS).where(_SUBS.c.id == sa.bindparam("b_id"))
         .values(processing_state=sa.bindparam("b_state"),
                 processing_error=sa.bindparam("b_error"),
                 processed_at=sa.bindparam("b_at"),
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
    """Process pending submissions, batch after batch, until none is left (or `limit` were);
    returns counts by state. On PostgreSQL other workers may be taking batches meanwhile."""
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
             .values(processing_state="pending", processing_error=None))
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
