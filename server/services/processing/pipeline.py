"""Processing of stored submissions: the ordered steps that derive entities, visits, coverage.

A submission is answered 201 once its raw record is durable; processing runs afterwards, off the
request path (server.services.processing.worker), and every step is idempotent so that any
submission can be replayed. Submissions are processed in batches, one transaction per batch like
ingest (server.services.processing.queue claims them). The steps of a batch share its parsed
instances and read what they look up for the whole batch at once (server.services.step_batch):
each step's `prepare` before the submissions, its `run` on each in order, its `finish` writing
what the runs collected, all in one SAVEPOINT. A submission that fails rolls the group back to
it; the submissions before it are run again, it is marked with the step and reason, and those
after it go on in a group of their own, so nothing is lost and the rest of the batch commits. A
failure no submission can be named for (the group's writes) is isolated by running each alone.
A worker killed mid-batch commits nothing of it: its submissions are still pending for the next
worker. A failure caused by the machine, not the submission (a full disk, the database gone:
services.faults), is retried by itself with backoff; any other stays `error` until `doorstep
submissions reprocess` replays it after a fix.
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
from server.services import faults, step_batch, storage
from server.services.coverage import visits
from server.services.processing import queue
from server.services.register import entities
from server.services.rentals import derive as rentals
from server.services.step_batch import Batch


@dataclass(frozen=True)
class Step:
    name: str
    run: Callable[[Submission, bytes], None]  # (submission, its raw XML)
    prepare: Callable[[Batch], None] | None = None  # the batch's lookups, before any run
    finish: Callable[[Batch], None] | None = None  # the batch's writes, after every run


#: The pipeline, in order. Entities first: a building listed in the field is created by its
#: submission's `buildings` entity, and the visit of that same submission must find it; the
#: rental register's units are derived from the households the entities step just wrote.
STEPS: tuple[Step, ...] = (
    Step("entities", entities.apply_submission, entities.prepare_batch, entities.finish_batch),
    Step("rentals", rentals.apply_submission, rentals.prepare_batch, rentals.finish_batch),
    Step("visits", visits.record_visit, visits.prepare_batch, visits.finish_batch),
)

#: PostgreSQL's deadlock and serialization failures (SQLSTATE): another worker's transaction.
CONCURRENT_STATES = ("40P01", "40001")

log = logging.getLogger(__name__)

Item = tuple[Submission, bytes]


def _zero() -> dict[str, int]:
    return {"done": 0, "error": 0, "skipped": 0}


def _concurrent(err: Exception) -> bool:
    """Worth one more try in a fresh savepoint at once: another worker's concurrent transaction
    created the same entity or version first (a unique constraint), or a deadlock was broken."""
    if isinstance(err, IntegrityError):
        return True
    return (isinstance(err, OperationalError)
            and getattr(err.orig, "sqlstate", None) in CONCURRENT_STATES)


@dataclass(frozen=True)
class _Failure:
    index: int | None  # the submission of the group that failed; None: the group's writes
    message: str  # "step: why"
    error: Exception


def _run_group(items: list[Item], deadline: float | None) -> tuple[int, _Failure | None]:
    """Every step over `items`, in order, inside one savepoint: (how many were run, None), or
    (0, the failure) with the savepoint rolled back. Past `deadline` (after one at least) the
    rest is not reached."""
    savepoint = db.session.begin_nested()
    group = Batch(items)
    token = step_batch.enter(group)
    step, index, ran = "prepare", (None if len(items) > 1 else 0), 0
    try:
        for step_ in STEPS:
            if step_.prepare is not None:
                step = step_.name
                step_.prepare(group)
        for index, (sub, xml) in enumerate(items):  # noqa: B007
            if ran and deadline is not None and time.monotonic() > deadline:
                break
            for step_ in STEPS:
                step = step_.name
                step_.run(sub, xml)
            ran += 1
        index = None if len(items) > 1 else 0
        group.items = items[:ran]
        for step_ in STEPS:
            if step_.finish is not None:
                step = step_.name
                step_.finish(group)
        savepoint.commit()
        return ran, None
    except Exception as err:  # any processor failure is recorded, never lost
        savepoint.rollback()
        return 0, _Failure(index, f"{step}: {err}", err)
    finally:
        step_batch.leave(token)


def _failed(sub: Submission, message: str, err: Exception) -> dict:
    """The marks of a failed submission; a machine fault gets the time of its next automatic
    attempt (retry_delay)."""
    now = utcnow()
    attempts = sub.processing_attempts + 1
    retry_at = now + timedelta(seconds=retry_delay(attempts)) if faults.transient(err) else None
    log.warning("processing submission %s failed in %s%s", sub.id, message,
                f" (attempt {attempts}; retried at {retry_at:%H:%M:%S} UTC)" if retry_at else "")
    return {"b_id": sub.id, "b_state": "error", "b_error": message[:2000], "b_at": now,
            "b_runs": 1, "b_attempts": attempts, "b_retry_at": retry_at}


def _done(sub: Submission) -> dict:
    return {"b_id": sub.id, "b_state": "done", "b_error": None, "b_at": utcnow(), "b_runs": 1,
            "b_attempts": 0, "b_retry_at": None}


def _process_items(batch: list[tuple[Submission, bytes | None]],
                   deadline: float | None = None) -> list[dict]:
    """Process claimed submissions (each with its raw XML when fetched with the claim); returns
    the marks of those reached, in claim order (the rest stay pending)."""
    marks: dict[int, dict] = {}
    items: list[Item] = []
    for sub, read in batch:
        if sub.draft:  # a draft's test submission: never reaches the register or coverage
            marks[sub.id] = {"b_id": sub.id, "b_state": TEST_STATE, "b_error": None,
                             "b_runs": 0, "b_at": sub.processed_at, "b_attempts": 0,
                             "b_retry_at": None}
            continue
        try:
            items.append((sub, storage.get(sub.storage_key, sub.xml_sha256, read)))
        except Exception as err:  # its raw XML unreadable: only it fails
            marks[sub.id] = _failed(sub, f"read: {err}", err)
    groups, retried = [items], set()
    while groups:
        group = groups.pop(0)
        if not group:
            continue
        if marks and deadline is not None and time.monotonic() > deadline:
            break
        ran, failure = _run_group(group, deadline)
        if failure is None:
            marks.update((sub.id, _done(sub)) for sub, _xml in group[:ran])
            if ran < len(group):
                break  # the time budget is spent: the rest waits for the next batch
            continue
        if failure.index is None:  # the group's writes failed: find who, one at a time
            groups[0:0] = [[item] for item in group]
            continue
        sub = group[failure.index][0]
        if _concurrent(failure.error) and sub.id not in retried:
            retried.add(sub.id)  # another worker's transaction got there first: once more
            groups.insert(0, group)
            continue
        marks[sub.id] = _failed(sub, failure.message, failure.error)
        groups[0:0] = [group[:failure.index], group[failure.index + 1:]]
    order = {sub.id: k for k, (sub, _read) in enumerate(batch)}
    return sorted(marks.values(), key=lambda m: order[m["b_id"]])


def _process(sub: Submission, read: bytes | None = None) -> dict:
    """Process one claimed submission on its own; returns its marks."""
    return _process_items([(sub, read)])[0]


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


#: Seconds of processing per submission as this process last measured them (a moving average):
#: a batch claims about twice what its time budget fits, so that what the steps read for the
#: whole batch in advance is mostly used, and not fewer than FEWEST (a batch's own cost, its
#: few statements, is then shared by enough submissions even on a machine short of CPU).
_PACE = [0.0]
FEWEST = 10


def _fitting(size: int, budget_s: float) -> int:
    pace = _PACE[0]
    return size if pace <= 0 else min(size, max(FEWEST, int(2 * budget_s / pace)))


def _measured(seconds: float, n: int) -> None:
    if n:
        _PACE[0] = seconds / n if _PACE[0] <= 0 else (_PACE[0] + seconds / n) / 2


def process_batch(size: int | None = None, only: int | None = None) -> dict[str, int]:
    """Claim a batch of pending submissions (or the one `only`), process them, commit once;
    returns counts by new state. The batch ends early after PROCESSING_BATCH_MS of work: what
    it claimed and did not reach stays pending; it claims about what that budget fits at the
    pace of the batches before it."""
    config = current_app.config
    budget = config["PROCESSING_BATCH_MS"] / 1000
    counts = _zero()
    try:
        batch = queue.claim(_fitting(size or config["PROCESSING_BATCH_SIZE"], budget), only)
        if not batch:
            db.session.rollback()  # nothing to do: let go of the write lock
            return counts
        started = time.monotonic()
        marks = _process_items(batch, started + budget)
        _measured(time.monotonic() - started, len(marks))
        for mark in marks:
            counts[_COUNTED[mark["b_state"]]] += 1
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
