"""Incremental coverage: one building's row in one round, re-derived from its stored visits.

A processed submission (or a review decision) refreshes only the buildings it touched. The row
is derived from *all* the building's counted visits in that round (not rejected, not replaced,
from a form the round counts), not patched from the previous row, so order, edits and replays
cannot drift from a full recompute. Three reads per building, each one indexed (its street and
stored state; its visits by `ix_visits_building_round`, which also give its steps by day in
timeline.py; its stored steps), and one upsert or delete. When its state changes, the street's
counts in `coverage_counts` move with it (old state -1, new +1) in the same transaction, so the
roll-ups never read the buildings; the building's row is locked first on PostgreSQL, so two
processes refreshing one building count it once.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

import sqlalchemy as sa

from gis.coverage import state_of_building
from server.extensions import db
from server.models import Building, BuildingCoverage, CoverageCount, Submission
from server.models import Visit as VisitRow
from server.models._types import utcnow
from server.services.coverage import feed, report_days, timeline
from server.services.coverage.store import (
    SUSPECT_FLAGS,
    counted,
    coverage_changed,
    form_counts,
)


def _suspect(flags) -> bool:
    return any(f in SUSPECT_FLAGS for f in flags or ())


def building_state(expected_units: int | None, visits: Iterable[tuple[str, int, list]]) -> tuple:
    """(state, visits, units) of one building from its stored (outcome, units, flags) visits."""
    return state_of_building(
        ((outcome, _suspect(flags), units) for outcome, units, flags in visits),
        expected_units,
    )  # fmt: skip


def _insert(dialect: str, table: sa.Table):
    """The dialect's INSERT, which knows ON CONFLICT (both databases speak it)."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table)


@lru_cache(maxsize=4)
def _upsert_statement(dialect: str):
    table = BuildingCoverage.__table__
    stmt = _insert(dialect, table)
    return stmt.on_conflict_do_update(
        index_elements=[table.c.building_id, table.c.round_id],
        set_={
            c: stmt.excluded[c] for c in ("state", "visits", "units_recorded", "updated_at")
        },
    )


@lru_cache(maxsize=4)
def _count_statement(dialect: str):
    table = CoverageCount.__table__
    stmt = _insert(dialect, table)
    return stmt.on_conflict_do_update(
        index_elements=[table.c.round_id, table.c.street_id, table.c.state],
        set_={"buildings": table.c.buildings + stmt.excluded.buildings},
    )


def move_count(round_id: int, street_id: int, old: str | None, new: str | None) -> None:
    """One building of a street went from state `old` to `new` (None: no row, unvisited)."""
    rows = [{"round_id": round_id, "street_id": street_id, "state": st, "buildings": n}
            for st, n in ((old, -1), (new, 1)) if st is not None and st != "unvisited"]
    if old != new and rows:
        db.session.connection().execute(_count_statement(db.engine.dialect.name), rows)


def upsert(rows: list[dict]) -> None:
    """Insert coverage rows, replacing those already there (SQLite and PostgreSQL)."""
    if rows:
        db.session.connection().execute(_upsert_statement(db.engine.dialect.name), rows)


DELETE = sa.delete(BuildingCoverage.__table__).where(
    BuildingCoverage.__table__.c.building_id == sa.bindparam("b"),
    BuildingCoverage.__table__.c.round_id == sa.bindparam("r"),
)


_EXPECTED = sa.select(Building.expected_units).where(Building.id == sa.bindparam("b"))
_VISITS = (  # every visit of the building in the round; those that count are picked in Python
    sa.select(
        VisitRow.outcome, VisitRow.units_recorded, VisitRow.flags, _EXPECTED.scalar_subquery(),
        VisitRow.visited_on, VisitRow.visited_at, VisitRow.coordinator_id,
        Submission.submitter_id, Submission.review_state, Submission.superseded,
        Submission.draft, sa.case((form_counts(sa.bindparam("r")), True), else_=False),
    )
    .join(Submission, Submission.id == VisitRow.submission_id)
    .where(VisitRow.building_id == sa.bindparam("b"), VisitRow.round_id == sa.bindparam("r"))
)


# PostgreSQL: two workers' batches adding visits to one building at once would each count
# only their own; the second waits here for the first to commit, then reads both.
_LOCK = (sa.select(Building.id).where(Building.id == sa.bindparam("b"))
         .with_for_update(key_share=True))


_OLD = sa.select(
    sa.func.coalesce(Building.street_id, 0),
    sa.select(BuildingCoverage.state).where(
        BuildingCoverage.building_id == sa.bindparam("b"),
        BuildingCoverage.round_id == sa.bindparam("r"),
    ).scalar_subquery(),
).where(Building.id == sa.bindparam("b"))


def refresh_building(building_id: int, round_id: int) -> str:
    """Recompute one building's row in one round from its stored visits (no commit)."""
    db.session.flush()  # pending ORM changes (a review decision) must be read
    conn, params = db.session.connection(), {"b": building_id, "r": round_id}
    if conn.dialect.name == "postgresql":
        conn.execute(_LOCK, params)
    before = conn.execute(_OLD, params).first()  # (street id, stored state) or no building
    every = conn.execute(_VISITS, params).all()
    rows = [r for r in every if r[8] != "rejected" and not r[9] and r[11]]  # store.counted()
    coverage_changed()
    if before is not None:  # the reports' states by day and sums, in step (from the rows read)
        timeline.refresh_one(round_id, building_id, before[0], (
            (on, at, outcome, units, _suspect(flags), expected)
            for outcome, units, flags, expected, on, at, *_ in rows))
        report_days.refresh_one(round_id, building_id, before[0], [
            (building_id, who, sender, on, at, _suspect(flags), review, superseded, form)
            for _o, _u, flags, _e, on, at, who, sender, review, superseded, draft, form in every
            if not draft])
    if not rows:
        conn.execute(DELETE, params)
        if before is not None:
            move_count(round_id, before[0], before[1], None)
            if before[1] not in (None, "unvisited"):
                feed.note_changed(db.session(), round_id, building_id)
        return "unvisited"
    state, n, units = building_state(rows[0][3], (r[:3] for r in rows))
    upsert([{"building_id": building_id, "round_id": round_id, "state": state, "visits": n,
             "units_recorded": units, "updated_at": utcnow()}])  # fmt: skip
    if before is not None:
        move_count(round_id, before[0], before[1], state)
        if (before[1] or "unvisited") != state:
            feed.note_changed(db.session(), round_id, building_id)
    return state


def refresh_many(pairs: set[tuple[int, int]]) -> None:
    """`refresh_building` for every (building, round) pair at once: a processed batch's. The
    same rows and counts as one refresh after another (each row is derived from all stored
    visits, the counts move from the state before to the state after), in a few statements."""
    if not pairs:
        return
    db.session.flush()
    conn = db.session.connection()
    ordered = sorted(pairs)
    buildings = sorted({b for b, _r in ordered})
    rounds = sorted({r for _b, r in ordered})
    streets: dict[int, int] = {}
    before: dict[tuple[int, int], str] = {}
    found: dict[tuple[int, int], list] = {}
    expected: dict[int, int | None] = {}
    for start in range(0, len(buildings), 500):
        part = buildings[start:start + 500]
        if conn.dialect.name == "postgresql":  # in id order: two batches never deadlock
            conn.execute(sa.select(Building.id).where(Building.id.in_(part))
                         .order_by(Building.id).with_for_update(key_share=True)).all()
        streets.update(conn.execute(sa.select(
            Building.id, sa.func.coalesce(Building.street_id, 0)).where(Building.id.in_(part))
        ).all())
        for b, r, state in conn.execute(sa.select(
            BuildingCoverage.building_id, BuildingCoverage.round_id, BuildingCoverage.state
        ).where(BuildingCoverage.building_id.in_(part), BuildingCoverage.round_id.in_(rounds))):
            before[(b, r)] = state
        for b, r, outcome, units, flags, exp in conn.execute(
            sa.select(VisitRow.building_id, VisitRow.round_id, VisitRow.outcome,
                      VisitRow.units_recorded, VisitRow.flags, Building.expected_units)
            .join(Submission, Submission.id == VisitRow.submission_id)
            .outerjoin(Building, Building.id == VisitRow.building_id)
            .where(VisitRow.building_id.in_(part), VisitRow.round_id.in_(rounds))
            .where(counted(), form_counts(VisitRow.round_id))
        ):
            found.setdefault((b, r), []).append((outcome, units, flags))
            expected[b] = exp
    coverage_changed()
    timeline.refresh(ordered)  # the reports' states by day, in step
    report_days.refresh(ordered)
    now, upserts, deletes, moves = utcnow(), [], [], {}
    for b, r in ordered:
        rows = found.get((b, r))
        state = None
        if rows:
            state, n, units = building_state(expected[b], rows)
            upserts.append({"building_id": b, "round_id": r, "state": state, "visits": n,
                            "units_recorded": units, "updated_at": now})
        else:
            deletes.append({"b": b, "r": r})
        old = before.get((b, r))
        if b in streets and (old or "unvisited") != (state or "unvisited"):
            feed.note_changed(db.session(), r, b)  # as refresh_building: the tiles' change feed
        if b in streets and old != state:
            for st, n in ((old, -1), (state, 1)):
                if st is not None and st != "unvisited":
                    k = (r, streets[b], st)
                    moves[k] = moves.get(k, 0) + n
    if deletes:
        conn.execute(DELETE, deletes)
    upsert(upserts)
    rows = [{"round_id": r, "street_id": s, "state": st, "buildings": n}
            for (r, s, st), n in sorted(moves.items()) if n]
    if rows:
        conn.execute(_count_statement(db.engine.dialect.name), rows)
