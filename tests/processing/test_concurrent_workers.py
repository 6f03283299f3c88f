"""Several workers on one PostgreSQL database (issue 13, item 2): batches claimed with
`FOR UPDATE SKIP LOCKED` are disjoint, and two batches adding visits to one building at once
both count (the second waits for the first's commit before it re-derives the building)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
import sqlalchemy as sa
from flask import Flask

from server.extensions import db
from server.models import BuildingCoverage
from server.services.processing import pipeline, queue
from tests.support.processing import outcome, store

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg(pg_placed: Flask) -> Flask:
    return pg_placed


def _in_thread(app: Flask, work: Callable[[], object]) -> tuple[threading.Thread, list]:
    """Run `work` in another thread with its own app context (its own session, connection)."""
    result: list = []

    def run():
        with app.app_context():
            try:
                result.append(work())
            finally:
                db.session.remove()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, result


def test_two_workers_claim_disjoint_batches(pg):
    ids = store(12)
    mine = [s.id for s, _xml in queue.claim(5)]  # held: this transaction stays open
    thread, theirs = _in_thread(pg, lambda: [s.id for s, _xml in queue.claim(5)])
    thread.join(10)
    assert not thread.is_alive(), "the second claim waited for the first"
    assert mine == ids[:5] and theirs == [ids[5:10]]
    db.session.rollback()


def test_a_batch_skips_what_another_worker_holds(pg):
    ids = store(6)
    held = queue.claim(2)
    thread, counts = _in_thread(pg, pipeline.process_pending)
    thread.join(60)
    assert counts == [{"done": 4, "error": 0, "skipped": 0}]
    assert [s.id for s, _xml in held] == ids[:2]
    db.session.rollback()  # the holder dies: its rows are pending again
    assert pipeline.process_pending()["done"] == 2
    assert outcome() == {"states": {"done": 6}, "runs": {1: 6}, "visits": 6, "doubled": 0}


def test_two_batches_visiting_one_building_both_count(pg):
    store(2)
    first = queue.claim(1)
    marks = pipeline._process(*first[0])
    assert marks["b_state"] == "done"
    db.session.execute(pipeline._MARK, [marks])  # as process_batch does, not committed yet
    thread, counts = _in_thread(pg, pipeline.process_batch)
    time.sleep(1.0)
    assert thread.is_alive(), "the second batch must wait to re-derive the same building"
    db.session.commit()
    thread.join(30)
    assert counts == [{"done": 1, "error": 0, "skipped": 0}]
    db.session.rollback()
    row = db.session.scalar(sa.select(BuildingCoverage))
    assert row.visits == 2
