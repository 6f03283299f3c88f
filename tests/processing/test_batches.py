"""Processing in batches (issue 13, item 2): one transaction per batch, a failure confined to its
submission, a batch cut short by its time budget, and the backlog on /api/v1/health and the
admin's home page. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from server.extensions import db
from server.models import Role, Submission, Visit
from server.models._types import utcnow
from server.services import users
from server.services.processing import pipeline, queue
from server.services.processing.pipeline import Step
from tests.support.app import PASSWORD
from tests.support.processing import outcome, store


@pytest.fixture
def commits(placed) -> list[int]:
    """One entry per transaction committed on the app's engine."""
    seen: list[int] = []
    listener = lambda conn: seen.append(1)  # noqa: E731
    sa.event.listen(db.engine, "commit", listener)
    yield seen
    sa.event.remove(db.engine, "commit", listener)


def test_a_batch_is_one_transaction(placed, commits):
    store(25)
    commits.clear()
    assert pipeline.process_pending() == {"done": 25, "error": 0, "skipped": 0}
    assert len(commits) == 3  # batches of 10, 10 and 5
    assert outcome() == {"states": {"done": 25}, "runs": {1: 25}, "visits": 25, "doubled": 0}


def test_a_failure_stays_with_its_submission(placed, commits, monkeypatch):
    ids = store(5)
    bad = ids[2]

    def fail(sub, xml):
        if sub.id == bad:
            raise ValueError("no such street")

    monkeypatch.setattr(pipeline, "STEPS", (*pipeline.STEPS, Step("check", fail)))
    commits.clear()
    assert pipeline.process_pending() == {"done": 4, "error": 1, "skipped": 0}
    assert len(commits) == 1  # the four others committed with it, in one batch
    failed = db.session.get(Submission, bad)
    assert failed.processing_state == "error"
    assert failed.processing_error == "check: no such street"
    assert failed.processing_runs == 1
    visited = set(db.session.scalars(sa.select(Visit.submission_id)))
    assert visited == set(ids) - {bad}  # its visit was rolled back with its savepoint


def test_a_batch_stops_at_its_time_budget(placed, commits):
    store(3)
    placed.config["PROCESSING_BATCH_MS"] = 0
    commits.clear()
    assert pipeline.process_batch() == {"done": 1, "error": 0, "skipped": 0}
    assert outcome()["states"] == {"done": 1, "pending": 2}  # the rest wait for the next batch
    assert pipeline.process_pending()["done"] == 2
    assert len(commits) == 3


def test_a_replay_counts_another_run(placed):
    (sub_id,) = store(1)
    pipeline.process_pending()
    assert pipeline.process_one(sub_id) == "done"
    assert outcome() == {"states": {"done": 1}, "runs": {2: 1}, "visits": 1, "doubled": 0}


def test_the_backlog_is_counted_and_aged(placed):
    ids = store(3)
    db.session.execute(sa.update(Submission).where(Submission.id == ids[0]).values(
        received_at=utcnow() - timedelta(minutes=10)))
    db.session.commit()
    backlog = queue.backlog()
    assert backlog.pending == 3 and 600 <= backlog.oldest_age_s < 700
    health = placed.test_client().get("/api/v1/health")
    assert health.status_code == 200
    body = health.json
    assert body["status"] == "ok" and body["processing"]["pending"] == 3
    assert 600 <= body["processing"]["oldest_pending_age_s"] < 700
    assert body["worker"] == {"running": False, "processed": 0}  # tests drive processing

    pipeline.process_pending()
    assert placed.test_client().get("/api/v1/health").json["processing"] == {
        "pending": 0, "errors": 0, "oldest_pending_age_s": None}


@pytest.mark.parametrize(("role", "shown"), [(Role.ADMIN, True), (Role.SUPERVISOR, False)])
def test_the_admin_home_page_shows_the_backlog(placed, role, shown):
    store(2)
    user, _ = users.create_user("someone", role, password=PASSWORD)
    db.session.commit()
    client = placed.test_client()
    client.post("/login", data={"username": user.username, "password": PASSWORD})
    page = client.get("/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert ('id="processing-backlog"' in page) is shown
    if shown:
        assert "<strong>2</strong>" in page
