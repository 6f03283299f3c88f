"""A batch's cost does not grow with its size in round trips (issue 13, item 2): the steps read
what the whole batch looks up in a few set-based queries and write it in a few statements; a
submission that fails is isolated without a savepoint of its own, and nothing of the others is
lost. On SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import datetime

import pytest
import sqlalchemy as sa

from forms import convert_xlsform
from server.extensions import db
from server.models import BuildingCoverage, Entity, EntityVersion, Submission, Visit
from server.services.ingest import accept
from server.services.processing import pipeline
from server.services.processing.pipeline import Step
from tests.support.coverage_scenario import ensure_areas, install_forms, instance_xml
from tests.support.paths import TOWNSHIP
from tests.support.processing import outcome, store


@pytest.fixture
def township(placed) -> dict:
    """The township's household form beside the placed one, and its streets."""
    c = convert_xlsform((TOWNSHIP / "household.xlsx").read_bytes(), "household.xlsx")
    versions = install_forms({"household": (c.xform, c.version)})
    ensure_areas()
    db.session.commit()
    return versions


def _store_mixed(versions: dict, n: int) -> list[int]:
    """n submissions: a township household (an entity, a chosen building) and a geotagged
    household of the placed form, in turn."""
    version = versions["household"].version
    today = datetime.now().astimezone().isoformat(timespec="seconds")
    ids = []
    for k in range(n):
        if k % 2:
            ids += store(1)
            continue
        xml = instance_xml("household", version, f"uuid:{uuid.uuid4()}", building="B1",
                           start=today, location=(102.60005, 24.60005, 5.0))
        result = accept.ingest(None, xml, [])
        assert result.status == 201, result.message
        ids.append(result.submission.id)
    db.session.commit()
    return ids


def _statements_of_a_batch(versions: dict, n: int) -> int:
    """Statements sent to the database while one batch of n submissions is processed."""
    _store_mixed(versions, n)
    seen: list[str] = []

    def count(conn, cursor, statement, *args):
        seen.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", count)
    try:
        counts = pipeline.process_batch(n)
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", count)
    assert counts == {"done": n, "error": 0, "skipped": 0}
    return len(seen)


def test_a_batch_costs_the_same_statements_whatever_its_size(township):
    small = _statements_of_a_batch(township, 5)
    large = _statements_of_a_batch(township, 50)
    assert large <= small + 2, (small, large)  # not 10 times as many
    assert outcome() == {"states": {"done": 55}, "runs": {1: 55}, "visits": 55, "doubled": 0}
    households = db.session.scalar(sa.select(sa.func.count(Entity.id)))
    assert households == 28  # one per township household submission
    row = db.session.scalar(sa.select(BuildingCoverage))
    assert row.visits == 55  # every visit of the batch counted on the building


def test_a_bad_submission_fails_alone_and_the_batch_goes_on(township, monkeypatch):
    ids = _store_mixed(township, 10)
    bad = {ids[2], ids[7]}

    def check(sub, xml):
        if sub.id in bad:
            raise ValueError("no such street")

    monkeypatch.setattr(pipeline, "STEPS", (*pipeline.STEPS, Step("check", check)))
    assert pipeline.process_pending() == {"done": 8, "error": 2, "skipped": 0}
    db.session.rollback()
    failed = db.session.scalars(sa.select(Submission).where(Submission.id.in_(bad))).all()
    assert {s.processing_error for s in failed} == {"check: no such street"}
    assert set(db.session.scalars(sa.select(Visit.submission_id))) == set(ids) - bad
    written = list(db.session.scalars(sa.select(EntityVersion.submission_id)))
    assert sorted(written) == sorted({ids[0], ids[4], ids[6], ids[8]})  # once each, not 2 or 7
    assert db.session.scalar(sa.select(BuildingCoverage.visits)) == 8


def test_a_failure_in_the_batch_writes_is_found_one_by_one(township, monkeypatch):
    ids = store(6)
    bad = ids[3]

    def writes(group):
        if any(sub.id == bad for sub in group.subs):
            raise ValueError("disk says no")

    monkeypatch.setattr(pipeline, "STEPS", (*pipeline.STEPS,
                                            Step("check", lambda s, x: None, finish=writes)))
    assert pipeline.process_pending() == {"done": 5, "error": 1, "skipped": 0}
    db.session.rollback()
    assert db.session.get(Submission, bad).processing_error == "check: disk says no"
    assert set(db.session.scalars(sa.select(Visit.submission_id))) == set(ids) - {bad}
    assert db.session.scalar(sa.select(BuildingCoverage.visits)) == 5
