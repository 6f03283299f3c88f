"""Processing of stored submissions: the derived data (entities, visits, coverage).

A submission is answered 201 once its raw record is durable; processing runs afterwards, off the
request path, and must be idempotent so that any submission can be replayed. Each feature
registers a processor; they run in registration order inside one transaction per submission.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import click
import sqlalchemy as sa
from flask import Flask
from flask.cli import with_appcontext

from server.extensions import db
from server.models import Form, FormVersion, Submission
from server.models._types import utcnow
from server.models.submissions import TEST_STATE
from server.services import storage

# (name, function(submission, xml_bytes)) pairs.
Processor = Callable[[Submission, bytes], None]
PROCESSORS: list[tuple[str, Processor]] = []


def register_processor(name: str, processor: Processor) -> None:
    if any(existing == name for existing, _ in PROCESSORS):
        return  # module imported again (several apps in one process): keep one
    PROCESSORS.append((name, processor))


log = logging.getLogger(__name__)


def process_one(submission_id: int) -> str:
    """Run every processor on one submission in its own transaction; returns the new state.

    A failing processor rolls the whole transaction back (nothing half-derived remains) and
    the submission is marked `error` with the reason, to be replayed after a fix.
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
    try:
        xml = storage.get(sub.storage_key, sub.xml_sha256)
        for name, processor in PROCESSORS:
            step = name
            processor(sub, xml)
        sub.processing_state = "done"
        sub.processing_error = None
        sub.processed_at = utcnow()
        db.session.commit()
        return "done"
    except Exception as err:  # any processor failure is recorded, never lost
        db.session.rollback()
        log.warning("processing submission %s failed in %s: %s", submission_id, step, err)
        db.session.execute(
            sa.update(Submission)
            .where(Submission.id == submission_id)
            .values(processing_state="error", processing_error=f"{step}: {err}"[:2000],
                    processed_at=utcnow())
        )
        db.session.commit()
        return "error"


def process_pending(limit: int | None = None) -> dict[str, int]:
    """Process pending submissions in the order they were received; returns counts by state."""
    counts = {"done": 0, "error": 0, "skipped": 0}
    last_id = 0
    while limit is None or sum(counts.values()) < limit:
        batch = db.session.scalars(
            sa.select(Submission.id)
            .where(Submission.processing_state == "pending", Submission.id > last_id)
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


class Worker:
    """The embedded worker: one daemon thread processing pending submissions as they arrive."""

    def __init__(self, app: Flask, idle_wait_s: float = 5.0):
        self.app = app
        self.idle_wait_s = idle_wait_s
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="doorstep-processing", daemon=True)

    def start(self) -> Worker:
        self.thread.start()
        return self

    def _run(self) -> None:
        from server.services.submissions import NEW_SUBMISSION

        while not self.stop.is_set():
            NEW_SUBMISSION.clear()
            try:
                with self.app.app_context():
                    process_pending()
                    db.session.remove()
            except Exception:  # keep the worker alive; the next round retries
                log.exception("processing worker round failed")
            NEW_SUBMISSION.wait(self.idle_wait_s)


def start_worker(app: Flask) -> Worker | None:
    """Started when serving (server.cli.serve) unless PROCESS_IN_BACKGROUND is off."""
    with app.app_context():
        storage.sweep_temporary()
    if not app.config["PROCESS_IN_BACKGROUND"]:
        return None
    worker = Worker(app).start()
    app.extensions["doorstep.worker"] = worker
    return worker


@click.group("submissions", help="Stored submissions: processing and replay.")
def submissions_cli() -> None:
    pass


@submissions_cli.command("reprocess")
@click.option("--form", "form_id", default=None, help="Only this form (its XML form id).")
@click.option("--all", "everything", is_flag=True,
              help="Replay every submission, not only those whose processing failed.")
@with_appcontext
def reprocess_command(form_id: str | None, everything: bool) -> None:
    """Replay processing (entities, visits …) from the stored raw submissions."""
    marked = reprocess(form_id, everything)
    counts = process_pending()
    click.echo(f"marked {marked}; processed: {counts['done']} done, {counts['error']} errors")


def init_app(app: Flask) -> None:
    app.cli.add_command(submissions_cli)
    app.extensions.setdefault("doorstep.serve_hooks", []).append(start_worker)
