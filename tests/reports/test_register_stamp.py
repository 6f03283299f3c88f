"""A round's register versions and held registrations are read once per process and kept while
the register's token holds (server/services/register/stamp.py): a record moved, a version
written or a held registration decided, here or in another process, gives a new token and the
next report reads them again; a change not committed yet is read around the kept copies."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from server.extensions import db
from server.models import Area, DataVersion, Entity, RegisterConflict
from server.services import stamps
from server.services.register import stamp
from server.services.reports import facts
from tests.support.elsewhere import run_in_another_process


def _token() -> int | None:
    return db.session.scalar(sa.select(DataVersion.version).where(
        DataVersion.name == stamp.NAME))


def _person_and_another_street(plan) -> tuple[Entity, int]:
    person = db.session.scalar(sa.select(Entity).where(Entity.dataset == "persons")
                               .order_by(Entity.id))
    other = db.session.scalar(sa.select(Area.id).where(
        Area.level == "street", Area.id != person.area_id).order_by(Area.id))
    return person, other


def _streets_of(f: facts.Facts, entity_id: int) -> set[int | None]:
    return {v.street_id for v in f.versions if v.entity_id == entity_id}


def test_the_versions_are_kept_until_the_register_changes(plan):
    first, again = facts.load(plan.round), facts.load(plan.round)
    assert again.versions is first.versions and again.conflicts is first.conflicts
    person, other = _person_and_another_street(plan)
    token = _token()
    person.area_id = other
    db.session.commit()  # (no flush before: the commit's own flush is noted)
    assert _token() != token
    moved = facts.load(plan.round)
    assert moved.versions is not first.versions
    assert _streets_of(moved, person.id) == {other}


def test_a_held_registration_decided_moves_the_token(plan):
    facts.load(plan.round)
    token = _token()
    held = db.session.scalar(sa.select(RegisterConflict))
    held.state = "rejected"
    db.session.commit()
    assert _token() != token
    assert [row[3] for row in facts.load(plan.round).conflicts] == [0]  # none still open


def test_an_uncommitted_change_is_read_around_and_rolled_back_with_its_transaction(plan):
    kept = facts.load(plan.round)
    person, other = _person_and_another_street(plan)
    before = _streets_of(kept, person.id)
    person.area_id = other
    db.session.flush()
    assert _streets_of(facts.load(plan.round), person.id) == {other}
    db.session.rollback()
    assert facts.load(plan.round).versions is kept.versions
    assert _streets_of(facts.load(plan.round), person.id) == before


def test_a_change_committed_by_another_process_is_seen(plan, app):
    facts.load(plan.round)
    person, other = _person_and_another_street(plan)
    run_in_another_process(app, f"""
        db.session.get(Entity, {person.id}).area_id = {other}
        db.session.commit()
    """, imports="""
        from server.extensions import db
        from server.models import Entity
    """)
    db.session.expire_all()
    assert _streets_of(facts.load(plan.round), person.id) == {other}


@pytest.mark.parametrize("backwards", [False, True])
def test_the_tokens_are_written_in_one_order_whatever_the_import_order(plan, monkeypatch,
                                                                       backwards):
    """Two processing batches on PostgreSQL lock the same rows in the same order."""
    order = sorted(stamps._ALL, key=lambda s: s.name, reverse=backwards)
    monkeypatch.setattr(stamps, "_ALL", order)
    written: list[str] = []

    def keep(conn, cursor, statement, parameters, context, executemany):
        if statement.startswith("UPDATE data_versions"):
            written.append(next(p for p in parameters if isinstance(p, str)))

    for stamp_ in order:
        stamp_.note_changed()
    sa.event.listen(db.engine, "before_cursor_execute", keep)
    try:
        db.session.commit()
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", keep)
    assert written == ["register", "report_days"]
