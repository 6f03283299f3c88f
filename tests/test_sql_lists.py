"""A set computed in Python reaches the database as one parameter, on both databases, at any
size: past SQLite's stock limit (32,766) and PostgreSQL's protocol limit (65,535)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from server.extensions import db
from server.models import Area
from server.services.sql_lists import one_of

STREETS = 70_000


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def streets(request) -> list[tuple[int, str]]:
    """STREETS areas (id, code), on the database the parameter names."""
    request.getfixturevalue("stock_sqlite" if request.param == "sqlite" else "postgres_app")
    db.session.execute(sa.insert(Area), [
        {"code": f"S{i:05d}", "name_zh": f"{i}组", "name_en": f"Group {i}", "level": "street",
         "path": f"S{i:05d}"} for i in range(STREETS)])
    db.session.commit()
    return list(db.session.execute(sa.select(Area.id, Area.code).order_by(Area.id)).all())


def _bound(condition: sa.ColumnElement[bool]) -> int:
    statement = sa.select(Area.id).where(condition)
    return len(statement.compile(db.session.get_bind()).params)


@pytest.mark.parametrize(("column", "pick"), [
    ("id", lambda rows: [i for i, _ in rows[1::2]]),  # every other street, by id
    ("code", lambda rows: [c for _, c in rows[:STREETS - 3]] + ["no such street"]),
])
def test_a_set_of_any_size_is_one_parameter(streets, column, pick):
    values = pick(streets)
    condition = one_of(getattr(Area, column), set(values))
    found = db.session.scalars(sa.select(getattr(Area, column)).where(condition)).all()
    assert sorted(found) == sorted(v for v in values if v != "no such street")
    assert _bound(condition) == 1


def test_an_empty_set_matches_nothing(streets):
    assert db.session.scalars(sa.select(Area.id).where(one_of(Area.id, set()))).all() == []


def test_the_column_in_list_it_replaces_fails_past_the_limit(streets):
    """What the helper is for: one parameter per value is refused at this size."""
    with pytest.raises(sa.exc.DBAPIError):
        db.session.scalars(sa.select(Area.id).where(
            Area.id.in_([i for i, _ in streets]))).all()
    db.session.rollback()
