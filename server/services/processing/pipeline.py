"""Processing of stored submissions: the ordered steps that derive entities, visits, coverage.

A submission is answered 201 once its raw record is durable; processing runs afterwards, off the
request path (server.services.processing.worker), and every step is idempotent so that any
submission can be replayed. The steps run in the order of STEPS inside one transaction per
submission; a failure rolls all of them back and records the step and reason. A failure
caused by the machine, not the submission (a full disk, the database gone: services.faults),
is retried by itself with backoff; any other stays `error` until `doorstep submissions
reprocess` replays it after a fix.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from server.extensions import db
from server.models import Form, FormVersion, Submission
from server.models._types import utcnow
from server.models.submissions import TEST_STATE
from server.services import faults, storage
from server.services.coverage.visits import record_visit
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


log = logging.getLogger(__name__)


def process_one(submission_id: int) -> str:
    """Run every processor on one submission in its own transaction; returns the new state.

    A failing processor rolls the whole transaction back (nothing half-derived remains) and
    the submission is marked `error` with the reason, to be replayed after a fix; when the
    reason is a machine fault, with the time of its next automatic attempt (retry_delay).
    """
    query = sa.select(Submission).where(Submission.id == submission_id)
    if db.engine.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    sub = db.session.scalar(query)
    if sub is None:
        db.session.rollback()
        return "skipped"
    if sub.draft:  # a draft's test submission: never reaches the register or coverage
        sub.processing_state = TEST_STATE
        sub.processing_error = None
        db.session.commit()
        return "skipped"
    step = "read"
    attempts = sub.processing_attempts + 1
    try:
        xml = storage.get(sub.storage_key, sub.xml_sha256)
        for step_ in STEPS:
            step = step_.name
            step_.run(sub, xml)
        sub.processing_state = "done"
        sub.processing_error = None
        sub.processed_at = utcnow()
        sub.processing_attempts = 0
        sub.processing_retry_at = None
        db.session.commit()
        return "done"
    except Exception as err:  # any processor failure is recorded, never lost
        db.session.rollback()
        now = utcnow()
        retry_at = now + timedelta(seconds=retry_delay(attempts)) if faults.transient(err) else None
        log.warning("processing submission %s failed in %s: %s%s", submission_id, step, err,
                    f" (attempt {attempts}; retried at {retry_at:%H:%M:%S} UTC)" if retry_at
                    else "")
        db.session.execute(
            sa.update(Submission)
            .where(Submission.id == submission_id)
            .values(processing_state="error", processing_error=f"{step}: {err}"[:2000],
                    processed_at=now, processing_attempts=attempts,
                    processing_retry_at=retry_at)
        )
        db.session.commit()
        return "error"


def retry_delay(attempt: int) -> float:
    """Seconds before the next attempt after `attempt` failed ones: doubling from
    PROCESSING_RETRY_FIRST_S up to PROCESSING_RETRY_MAX_S."""
    first = current_app.config["PROCESSING_RETRY_FIRST_S"]
    return min(first * 2 ** min(attempt - 1, 32), current_app.config["PROCESSING_RETRY_MAX_S"])


def _due() -> sa.ColumnElement[bool]:
    """Pending, or interrupted by a machine fault and due for its next attempt."""
    return sa.or_(
        Submission.processing_state == "pending",
        sa.and_(Submission.processing_state == "error",
                Submission.processing_retry_at <= utcnow()),
    )


def next_retry_in() -> float | None:
    """Seconds until the next automatic retry is due (0 when overdue), None when none is."""
    due = db.session.scalar(sa.select(sa.func.min(Submission.processing_retry_at))
                            .where(Submission.processing_state == "error"))
    db.session.rollback()
    return None if due is None else max(0.0, (due - utcnow()).total_seconds())


def process_pending(limit: int | None = None) -> dict[str, int]:
    """Process pending submissions (and those due for a retry) in the order they were
    received; returns counts by state."""
    counts = {"done": 0, "error": 0, "skipped": 0}
    last_id = 0
    while limit is None or sum(counts.values()) < limit:
        batch = db.session.scalars(
            sa.select(Submission.id)
            .where(_due(), Submission.id > last_id)
            .order_by(Submission.id)
            .limit(100)
        ).all()
        db.session.rollback()  # end the read before writing (SQLite lock upgrade)
        if not batch:
            break
        for submission_id in batch:
            counts[process_one(submission_id)] += 1
            last_id = submission_id
            if limit is not None and sum(counts.values()) >= limit:
                break
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
