"""Incremental coverage: one building's row in one round, re-derived from its stored visits.

A processed submission (or a review decision) refreshes only the buildings it touched. The row
is derived from *all* the building's counted visits in that round (not rejected, not replaced,
from a form the round counts), not patched from the previous
row, so order, edits and replays cannot drift from a full recompute. Two statements per
building: one indexed read (`ix_visits_building_round`) and one upsert or delete.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

import sqlalchemy as sa

from gis.coverage import state_of_building
from server.extensions import db
from server.models import Building, BuildingCoverage, Submission
from server.models import Visit as VisitRow
from server.models._types import utcnow
from server.services.coverage.store import (
    SUSPECT_FLAGS,
    counted,
    coverage_changed,
    form_counts,
)


def building_state(expected_units: int | None, visits: Iterable[tuple[str, int, list]]) -> tuple:
    """(state, visits, units) of one building from its stored (outcome, units, flags) visits."""
    return state_of_building(
        ((outcome, any(f in SUSPECT_FLAGS for f in flags or ()), units)
         for outcome, units, flags in visits),
        expected_units,
    )  # fmt: skip


@lru_cache(maxsize=4)
def _upsert_statement(dialect: str):
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    table = BuildingCoverage.__table__
    stmt = insert(table)
    return stmt.on_conflict_do_update(
        index_elements=[table.c.building_id, table.c.round_id],
        set_={
            c: stmt.excluded[c] for c in ("state", "visits", "units_recorded", "updated_at")
        },
    )


def upsert(rows: list[dict]) -> None:
    """Insert coverage rows, replacing those already there (SQLite and PostgreSQL)."""
    if rows:
        db.session.connection().execute(_upsert_statement(db.engine.dialect.name), rows)


DELETE = sa.delete(BuildingCoverage.__table__).where(
    BuildingCoverage.__table__.c.building_id == sa.bindparam("b"),
    BuildingCoverage.__table__.c.round_id == sa.bindparam("r"),
)


_EXPECTED = sa.select(Building.expected_units).where(Building.id == sa.bindparam("b"))
_VISITS = (
    sa.select(
        VisitRow.outcome, VisitRow.units_recorded, VisitRow.flags, _EXPECTED.scalar_subquery()
    )
    .join(Submission, Submission.id == VisitRow.submission_id)
    .where(VisitRow.building_id == sa.bindparam("b"), VisitRow.round_id == sa.bindparam("r"))
    .where(counted(), form_counts(sa.bindparam("r")))
)


# PostgreSQL: two workers' batches adding visits to one building at once would each count
# only their own; the second waits here for the first to commit, then reads both.
_LOCK = (sa.select(Building.id).where(Building.id == sa.bindparam("b"))
         .with_for_update(key_share=True))


def refresh_building(building_id: int, round_id: int) -> str:
    """Recompute one building's row in one round from its stored visits (no commit)."""
    db.session.flush()  # pending ORM changes (a review decision) must be read
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.connection().execute(_LOCK, {"b": building_id})
    rows = db.session.connection().execute(_VISITS, {"b": building_id, "r": round_id}).all()
    coverage_changed()
    if not rows:
        db.session.connection().execute(DELETE, {"b": building_id, "r": round_id})
        return "unvisited"
    state, n, units = building_state(rows[0][3], (r[:3] for r in rows))
    upsert([{"building_id": building_id, "round_id": round_id, "state": state, "visits": n,
             "units_recorded": units, "updated_at": utcnow()}])  # fmt: skip
    return state
