"""Each building's coverage state day by day in a round, summed per street and day, so that the
reports read "how many buildings were visited / complete as of day D" without replaying visits.

`coverage_steps` holds, per building, the days on which its state changed (its counted visits
replayed day by day with the rule of refresh.py: the state at a day's end is the state of all
counted visits up to that day). `coverage_day_counts` holds per street and day the net number of
buildings entering (+1) and leaving (-1) each state, so the count as of D is a sum over days
<= D. Both move in the transaction that refreshes a building (refresh.py, `refresh`: the
building's old steps against its new ones), are rewritten by the full recompute (`rebuild`),
and the per-street sums are re-added when buildings change streets (`resum`).
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime

import numpy as np
import sqlalchemy as sa

from gis.coverage import OUTCOMES, STATES, state_codes, visit_bit
from server import localtime
from server.extensions import db
from server.models import Building, CoverageDayCount, CoverageStep, Submission
from server.models import Visit as VisitRow
from server.services.coverage import day_moves, rollup_stamp
from server.services.coverage.store import (
    counted,
    fetch_tuples,
    form_counts,
    state_code_column,
    suspect_column,
)

CHUNK = 500
BATCH = 50_000
_STEPS = CoverageStep.__table__
_DAYS = CoverageDayCount.__table__

Step = tuple[date, str]  # (day, state at its end)


def _visits_query(round_id):
    """(building, expected units, day, time, outcome, units, suspect) of the counted visits."""
    return (
        sa.select(VisitRow.building_id, Building.expected_units, VisitRow.visited_on,
                  VisitRow.visited_at, VisitRow.outcome, VisitRow.units_recorded,
                  suspect_column())
        .join(Submission, Submission.id == VisitRow.submission_id)
        .join(Building, Building.id == VisitRow.building_id)
        .where(VisitRow.round_id == round_id, counted(), form_counts(round_id))
    )  # fmt: skip


def steps_of(rows: Iterable[tuple]) -> dict[int, list[Step]]:
    """Per building, the (day, state) on each day its state changed, from the rows of
    `_visits_query` (any order)."""
    per: dict[int, list[tuple]] = defaultdict(list)
    for b, expected, on, at, outcome, units, suspect in rows:
        per[b].append((on or localtime.local_date(at), outcome, units, bool(suspect),
                       expected or 0))
    keys, bits, added, expect = [], [], [], []
    for b, visits in per.items():
        visits.sort(key=lambda v: v[0])
        bit, units = 0, 0
        for k, (day, outcome, n, suspect, expected) in enumerate(visits):
            vb, more = visit_bit(outcome, suspect, n)
            bit, units = bit | vb, units + more
            if k + 1 == len(visits) or visits[k + 1][0] != day:  # the state as of the day
                keys.append((b, day))
                bits.append(bit)
                added.append(units)
                expect.append(expected)
    codes = state_codes(np.array(bits, np.int64), np.array(added, np.int64),
                        np.array(expect, np.int64)).tolist()
    out: dict[int, list[Step]] = defaultdict(list)
    for (b, day), code in zip(keys, codes, strict=True):
        mine = out[b]
        if not mine or mine[-1][1] != STATES[code]:
            mine.append((day, STATES[code]))
    return dict(out)


def _moves(steps: list[Step]) -> Iterable[tuple[date, str, int]]:
    """A building's (day, state, +1 entering / -1 leaving) from its steps."""
    was = None
    for day, state in steps:
        if was is not None:
            yield day, was, -1
        yield day, state, 1
        was = state


def _rows(round_id: int, b: int, steps: list[Step]) -> list[dict]:
    was, out = None, []
    for day, state in steps:
        out.append({"round_id": round_id, "building_id": b, "day": day, "state": state,
                    "was": was})
        was = state
    return out


def _insert(dialect: str):
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    stmt = insert(_DAYS)
    return stmt.on_conflict_do_update(
        index_elements=[_DAYS.c.round_id, _DAYS.c.street_id, _DAYS.c.day, _DAYS.c.state],
        set_={"buildings": _DAYS.c.buildings + stmt.excluded.buildings},
    )


_DELETE = sa.delete(_STEPS).where(_STEPS.c.round_id == sa.bindparam("r"),
                                  _STEPS.c.building_id == sa.bindparam("b"))


def refresh(pairs: Iterable[tuple[int, int]]) -> None:
    """Re-derive the steps of these (building, round) pairs from their stored visits and move
    the per-street day counts by the difference (no commit; after refresh.py's upsert)."""
    conn = db.session.connection()
    per_round: dict[int, list[int]] = defaultdict(list)
    for b, r in sorted(set(pairs)):
        per_round[r].append(b)
    moves = _Moves()
    for r, buildings in per_round.items():
        for start in range(0, len(buildings), CHUNK):
            part = buildings[start:start + CHUNK]
            streets = dict(conn.execute(sa.select(
                Building.id, sa.func.coalesce(Building.street_id, 0)).where(
                Building.id.in_(part))).all())
            old: dict[int, list[Step]] = defaultdict(list)
            for b, day, state in conn.execute(
                    sa.select(_STEPS.c.building_id, _STEPS.c.day, _STEPS.c.state)
                    .where(_STEPS.c.round_id == r, _STEPS.c.building_id.in_(part))
                    .order_by(_STEPS.c.building_id, _STEPS.c.day)):
                old[b].append((day, state))
            new = steps_of(conn.execute(
                _visits_query(r).where(VisitRow.building_id.in_(part))))
            for b in part:
                if b in streets:
                    moves.add(r, b, streets[b], old.get(b, []), new.get(b, []))
    moves.write(conn)


_ONE_STEPS = (sa.select(_STEPS.c.day, _STEPS.c.state)
              .where(_STEPS.c.round_id == sa.bindparam("r"),
                     _STEPS.c.building_id == sa.bindparam("b"))
              .order_by(_STEPS.c.day))


def refresh_one(round_id: int, building_id: int, street_id: int, visits: Iterable[tuple]) -> None:
    """`refresh` of one building whose street and counted visits (day, time, outcome, units,
    suspect, expected units) the caller has just read: one indexed read of its steps instead
    of three statements built anew (refresh.py, a submission's refresh; no commit)."""
    conn = db.session.connection()
    before = [tuple(row) for row in conn.execute(_ONE_STEPS, {"r": round_id, "b": building_id})]
    after = steps_of((building_id, expected, on, at, outcome, units, suspect)
                     for on, at, outcome, units, suspect, expected in visits)
    moves = _Moves()
    moves.add(round_id, building_id, street_id, before, after.get(building_id, []))
    moves.write(conn)


class _Moves:
    """Buildings' steps replaced (old ones deleted, new ones inserted) and the day counts of
    their streets moved by the difference, written in three statements at most."""

    def __init__(self) -> None:
        self.deltas: dict[tuple, int] = defaultdict(int)
        self.gone: list[dict] = []
        self.new_rows: list[dict] = []

    def add(self, r: int, b: int, street: int, before: list[Step], after: list[Step]) -> None:
        if before == after:
            return
        for day, state, n in _moves(before):
            self.deltas[(r, street, day, state)] -= n
        for day, state, n in _moves(after):
            self.deltas[(r, street, day, state)] += n
        self.gone.append({"r": r, "b": b})
        self.new_rows.extend(_rows(r, b, after))

    def write(self, conn: sa.Connection) -> None:
        if self.gone or self.new_rows or self.deltas:
            rollup_stamp.note_changed()
        if self.gone:
            conn.execute(_DELETE, self.gone)
        if self.new_rows:
            conn.execute(sa.insert(_STEPS), self.new_rows)
        moved = [{"round_id": r, "street_id": s, "day": d, "state": st, "buildings": n}
                 for (r, s, d, st), n in sorted(self.deltas.items()) if n]
        if moved:
            conn.execute(_insert(conn.dialect.name), moved)
            day_moves.note_moves(moved)  # (each process's copy moves by them: day_moves.py)


def rebuild(round_id: int, conn: sa.Connection | None = None) -> int:
    """Make a round's steps those of all its counted visits, then rewrite its day counts (no
    commit); returns how many steps changed. Unchanged steps are left alone (a recompute that
    moves nothing writes no step). `conn`: the migration's connection."""
    conn = conn if conn is not None else db.session.connection()
    r = int(round_id)
    b, day, code, was = _steps_arrays(_visit_arrays(r, conn))
    new = set(zip(b.tolist(), day.tolist(), code.tolist(), was.tolist(), strict=True))
    s = _STEPS.c
    stored = {(sb, _ordinal(sd), sc, sw) for sb, sd, sc, sw in fetch_tuples(
        sa.select(s.building_id, s.day, state_code_column(s.state, -1),
                  state_code_column(s.was, -1)).where(s.round_id == r), conn)}
    gone = [{"r": r, "b": sb, "d": date.fromordinal(sd)} for sb, sd, _c, _w in stored - new]
    if gone:
        conn.execute(_DELETE_DAY, gone)
    added = [{"round_id": r, "building_id": nb, "day": date.fromordinal(nd),
              "state": STATES[nc], "was": STATES[nw] if nw >= 0 else None}
             for nb, nd, nc, nw in new - stored]
    for start in range(0, len(added), BATCH):
        conn.execute(sa.insert(_STEPS), added[start:start + BATCH])
    resum(r, conn)
    return len(gone) + len(added)


_DELETE_DAY = _DELETE.where(_STEPS.c.day == sa.bindparam("d"))


@functools.lru_cache(maxsize=64)
def _day_ordinal(text: str) -> int:
    return date.fromisoformat(text[:10]).toordinal()


def _ordinal(value) -> int:
    """A stored day (a date, or SQLite's text) as its ordinal."""
    return value.toordinal() if isinstance(value, date) else _day_ordinal(str(value))


def _visit_arrays(round_id: int, conn: sa.Connection) -> tuple[np.ndarray, ...]:
    """The round's counted visits as arrays: building, day (ordinal), outcome (index into
    OUTCOMES), units, suspect, expected units of the building."""
    outcome = sa.case({name: k for k, name in enumerate(OUTCOMES)}, value=VisitRow.outcome,
                      else_=-1)
    q = _visits_query(round_id).with_only_columns(
        VisitRow.building_id, VisitRow.visited_on, VisitRow.visited_at, outcome,
        sa.func.coalesce(VisitRow.units_recorded, 0), sa.case((suspect_column(), 1), else_=0),
        sa.func.coalesce(Building.expected_units, 0))
    rows = fetch_tuples(q, conn)
    n = len(rows)
    cols = list(zip(*rows, strict=True)) if rows else [()] * 7
    days = np.array([_ordinal(on) if on is not None else localtime.local_date(
        at if isinstance(at, datetime) else datetime.fromisoformat(str(at))).toordinal()
        for on, at in zip(cols[1], cols[2], strict=True)], np.int64).reshape(n)
    codes = np.array(cols[3], np.int64).reshape(n)
    if (codes < 0).any():
        raise ValueError(f"a visit's outcome is not one of {', '.join(OUTCOMES)}")
    return (np.array(cols[0], np.int64).reshape(n), days, codes,
            np.array(cols[4], np.int64).reshape(n), np.array(cols[5], np.int64).reshape(n),
            np.array(cols[6], np.int64).reshape(n))


def _steps_arrays(visits: tuple[np.ndarray, ...]) -> tuple[np.ndarray, ...]:
    """`steps_of` for a whole round at once: (building, day, state code, code before or -1)
    of every step, from `_visit_arrays` (states as of each day by segmented running sums)."""
    b, day, outcome, units, suspect, expected = visits
    lut = np.array([[visit_bit(o, s, 1)[0] for s in (False, True)] for o in OUTCOMES], np.int64)
    done = visit_bit("done", False, 0)[0]
    order = np.lexsort((day, b))
    b, day, expected = b[order], day[order], expected[order]
    bit = lut[outcome[order], suspect[order]]
    add = np.where(bit == done, units[order], 0)
    if not len(b):
        return b, day, b, b
    first = np.r_[True, b[1:] != b[:-1]]
    seg = np.cumsum(first) - 1
    starts = np.flatnonzero(first)
    acc = np.zeros(len(b), np.int64)
    for k in range(int(lut.max()).bit_length()):  # a running OR, bit by bit, per building
        flag = (bit >> k) & 1
        cs = np.cumsum(flag)
        acc |= ((cs - (cs - flag)[starts][seg]) > 0).astype(np.int64) << k
    cu = np.cumsum(add)
    total = cu - (cu - add)[starts][seg]
    last = np.r_[(b[1:] != b[:-1]) | (day[1:] != day[:-1]), True]  # a building's day's end
    bb, dd = b[last], day[last]
    codes = state_codes(acc[last], total[last], expected[last]).astype(np.int64)
    new_b = np.r_[True, bb[1:] != bb[:-1]]
    keep = new_b | np.r_[True, codes[1:] != codes[:-1]]
    was = np.r_[-1, codes[:-1]]
    was[new_b] = -1
    return bb[keep], dd[keep], codes[keep], was[keep]


def resum(round_id: int | None = None, conn: sa.Connection | None = None) -> None:
    """Rewrite the day counts of a round (None: every round) from the stored steps and the
    buildings' streets now (no commit): after a rebuild, or when buildings changed streets."""
    if conn is None:
        conn = db.session.connection()
        day_moves.note_rewritten(round_id)
    else:
        rollup_stamp.write_token(conn)
        day_moves.write_rewritten(conn, round_id)
    b, s = Building.__table__.c, _STEPS.c
    street = sa.func.coalesce(b.street_id, 0).label("street_id")
    joined = _STEPS.join(Building.__table__, b.id == s.building_id)
    entering = (sa.select(s.round_id, street, s.day, s.state, sa.literal(1).label("n"))
                .select_from(joined))
    leaving = (sa.select(s.round_id, street, s.day, s.was.label("state"),
                         sa.literal(-1).label("n"))
               .select_from(joined).where(s.was.is_not(None)))
    if round_id is not None:
        entering = entering.where(s.round_id == int(round_id))
        leaving = leaving.where(s.round_id == int(round_id))
    u = sa.union_all(entering, leaving).subquery()
    total = sa.func.sum(u.c.n)
    grouped = (sa.select(u.c.round_id, u.c.street_id, u.c.day, u.c.state, total)
               .group_by(u.c.round_id, u.c.street_id, u.c.day, u.c.state)
               .having(total != 0))
    delete = sa.delete(_DAYS)
    if round_id is not None:
        delete = delete.where(_DAYS.c.round_id == int(round_id))
    conn.execute(delete)
    conn.execute(sa.insert(_DAYS).from_select(
        ["round_id", "street_id", "day", "state", "buildings"], grouped))
