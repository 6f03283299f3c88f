"""Re-deriving what a round change touches, as a job the processing worker runs.

Creating, editing or closing a round queues a RoundJob (never work in the request). The worker
(server/services/processing/worker.py) claims it and
1. re-assigns the round of every visit on the job's days (the old and the new dates) and of
   every visit the round held, with rounds.round_for() — the rule the visits step applies;
2. recomputes the coverage of every round whose visits changed, and of the round itself (its
   thresholds or forms may have changed), each with its own thresholds.
Progress (`done` of `total` steps, and a message) is committed as it goes, so the round page
can show it. Jobs are claimed atomically: with several processes each job runs once.
"""

from __future__ import annotations

import logging
from datetime import date

import sqlalchemy as sa

from server.extensions import db
from server.models import Area, Building, RoundJob, Visit
from server.models._types import utcnow
from server.services.coverage import rounds
from server.services.ingest.accept import NEW_SUBMISSION

CHUNK = 20_000
log = logging.getLogger(__name__)


def queue(round_id: int, action: str, from_day: date, to_day: date) -> RoundJob:
    """Add a job to the session (it commits with the change that asked for it)."""
    job = RoundJob(round_id=round_id, action=action, from_day=from_day, to_day=to_day,
                   state="queued", total=0, done=0, moved=0, message="")
    db.session.add(job)
    return job


def wake() -> None:
    """Wake this process's worker now (other processes' workers poll within seconds)."""
    NEW_SUBMISSION.set()


def latest(round_id: int) -> RoundJob | None:
    return db.session.scalar(sa.select(RoundJob).where(RoundJob.round_id == round_id)
                             .order_by(RoundJob.id.desc()).limit(1))


def pending() -> bool:
    return db.session.scalar(
        sa.select(RoundJob.id).where(RoundJob.state.in_(("queued", "running"))).limit(1)
    ) is not None


def claim(job_id: int) -> bool:
    """Take a queued job (True), unless another worker took it first."""
    taken = db.session.execute(
        sa.update(RoundJob).where(RoundJob.id == job_id, RoundJob.state == "queued")
        .values(state="running", started_at=utcnow(), message="starting")
    ).rowcount
    db.session.commit()
    return taken == 1


def run_pending() -> int:
    """Run every queued job, oldest first; returns how many ran."""
    ran = 0
    while True:
        job_id = db.session.scalar(sa.select(RoundJob.id).where(RoundJob.state == "queued")
                                   .order_by(RoundJob.id).limit(1))
        db.session.rollback()
        if job_id is None:
            return ran
        if claim(job_id):
            run(job_id)
            ran += 1


def _progress(job: RoundJob, message: str, done: int | None = None) -> None:
    job.message = message
    if done is not None:
        job.done = done
    db.session.commit()


def run(job_id: int) -> RoundJob:
    """Run a claimed job to its end; a failure is recorded on the job, never raised."""
    job = db.session.get(RoundJob, job_id)
    try:
        _run(job)
    except Exception as err:  # recorded for the round page; the worker keeps going
        db.session.rollback()
        log.exception("round job %s failed", job_id)
        job = db.session.get(RoundJob, job_id)
        job.state, job.message, job.finished_at = "error", str(err)[:2000], utcnow()
        db.session.commit()
    return job


def _candidates(job: RoundJob) -> list[tuple[int, int | None, date, str | None]]:
    """(visit, its round, its day, its building's street) for the visits the job may move."""
    building = sa.func.coalesce(Visit.chosen_building_id, Visit.building_id)
    return [tuple(r) for r in db.session.execute(
        sa.select(Visit.id, Visit.round_id, Visit.visited_on, Area.code)
        .outerjoin(Building, Building.id == building)
        .outerjoin(Area, Area.id == Building.street_id)
        .where(Visit.visited_on.is_not(None))
        .where(sa.or_(Visit.visited_on.between(job.from_day, job.to_day),
                      Visit.round_id == job.round_id))
        .order_by(Visit.id)
    )]  # fmt: skip


def _run(job: RoundJob) -> None:
    rounds.forget()
    spans = rounds.spans()
    rows = _candidates(job)
    chunks = max(1, -(-len(rows) // CHUNK))
    job.total = chunks + 1  # and one step per round recomputed, added below
    _progress(job, f"re-assigning {len(rows)} visits", 0)
    touched = {job.round_id}
    moved = 0
    for k in range(chunks):
        changes = []
        for vid, old, day, street in rows[k * CHUNK:(k + 1) * CHUNK]:
            new = rounds.round_for(day, street, spans)
            if new != old:
                changes.append({"vid": vid, "rid": new})
                touched.update(r for r in (old, new) if r is not None)
        if changes:
            db.session.execute(
                sa.update(Visit.__table__).where(Visit.__table__.c.id == sa.bindparam("vid"))
                .values(round_id=sa.bindparam("rid")), changes)
        moved += len(changes)
        job.moved = moved
        _progress(job, f"re-assigned {min((k + 1) * CHUNK, len(rows))} of {len(rows)} visits",
                  k + 1)
    # The engine with numpy (~0.15 s) loads when a job runs, not when a command or page that
    # only plans rounds queues one (`doorstep phases list` imports this module).
    from server.services.coverage import recompute

    existing = {s.id for s in spans}
    order = sorted(r for r in touched if r in existing)
    job.total = chunks + len(order)
    for n, round_id in enumerate(order, 1):
        _progress(job, f"recomputing the coverage of round {round_id} ({n} of {len(order)})")
        try:
            recompute.recompute(round_id)
        except RuntimeError:  # visits changed meanwhile (another process): once more
            db.session.rollback()
            recompute.recompute(round_id)
        job = db.session.get(RoundJob, job.id)
        job.done = chunks + n
    job.state, job.finished_at = "done", utcnow()
    job.message = f"{moved} visits changed round; coverage of {len(order)} rounds recomputed"
    db.session.commit()
