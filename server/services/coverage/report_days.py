"""The report pages' roll-up: per street, person and day of a round, the visits, suspect ones,
the buildings visited and the submissions of those visits approved and reviewed
(docs/ARCHITECTURE.md, "Report roll-ups").

"Buildings visited in a window" counts each building once: a counted visit adds to the window
when the building had no counted visit earlier in it. The windows the reports ask for start on
the round's first day, a 旬's first day or a Monday (server/services/reports/periods.py) and end
within that 旬 or week, so each counted visit carries three marks: first of the building in the
round, in its 旬, in its ISO week; by street (anyone's earlier visit) and by person (the same
coordinator's). A window's count is then a sum over its days.

Kept like timeline.py's day counts: `report_marks` holds what each building's visits in a round
add (its rows), `report_day_counts` the sums per street. A building's refresh (refresh.py, in
the transaction that refreshes its coverage; review decisions too) derives its rows again from
all its stored visits and moves the sums by the difference; the full recompute rewrites a
round's rows and sums (`rebuild`); an import that moves buildings between streets re-sums them
(`resum`). A visit of no building or no round, and a submission of no visit, are left to the
reports (server/services/reports/facts.py reads those few one by one).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime

import numpy as np
import sqlalchemy as sa

from server import localtime
from server.extensions import db
from server.models import Building, ReportDayCount, ReportDayMove, ReportMark, Submission
from server.models import Visit as VisitRow
from server.services.coverage import rollup_stamp
from server.services.coverage.move_feed import MoveFeed
from server.services.coverage.store import fetch_tuples, form_counts, suspect_column

COLUMNS = ("visits", "suspect_visits", "street_round", "street_xun", "street_week",
           "person_round", "person_xun", "person_week", "approved", "reviewed")
CHUNK = 500
_MARKS = ReportMark.__table__
_DAYS = ReportDayCount.__table__
#: The moves of `report_day_counts`, which each process's copies follow (daysums.visit_rows).
FEED: MoveFeed = MoveFeed(ReportDayMove.__table__)
Key = tuple[int, int]  # (person id or 0, day ordinal)


def _query(round_id):
    """(building, coordinator, submitter, day, time, suspect, review state, replaced, form
    counts) of every visit to a building in the round, drafts aside."""
    return (
        sa.select(VisitRow.building_id, VisitRow.coordinator_id, Submission.submitter_id,
                  VisitRow.visited_on, VisitRow.visited_at, sa.case((suspect_column(), 1), else_=0),
                  Submission.review_state, Submission.superseded,
                  sa.case((form_counts(round_id), 1), else_=0))
        .join(Submission, Submission.id == VisitRow.submission_id)
        .where(VisitRow.round_id == round_id, VisitRow.building_id.is_not(None),
               Submission.draft.is_(False))
    )  # fmt: skip


def _ordinal(value) -> int:
    if isinstance(value, date):
        return value.toordinal()
    return date.fromisoformat(str(value)[:10]).toordinal()


def _local(at) -> int:
    at = at if isinstance(at, datetime) else datetime.fromisoformat(str(at))
    return localtime.local_date(at).toordinal()


def period_starts(day: int) -> tuple[int, int]:
    """The first day (ordinals) of the 旬 (days 1, 11, 21) and of the ISO week holding `day`:
    periods.py's calendar (tests/reports/test_report_days.py holds them together)."""
    d = date.fromordinal(day)
    return date(d.year, d.month, 1 + 10 * min((d.day - 1) // 10, 2)).toordinal(), day - d.weekday()


def marks_of(rows: Iterable[tuple]) -> dict[int, dict[Key, list[int]]]:
    """Per building, its rows: (person, day) -> the COLUMNS it adds. A visit's day is its stored
    local day, else its time's; its submission counts on its stored day (facts.py)."""
    per: dict[int, list[tuple]] = defaultdict(list)
    for row in rows:
        per[row[0]].append(row)
    out: dict[int, dict[Key, list[int]]] = {}
    for b, visits in per.items():
        mine: dict[Key, list[int]] = defaultdict(lambda: [0] * len(COLUMNS))
        counted = []
        for _b, who, sender, on, at, suspect, review, superseded, form in visits:
            day = _ordinal(on) if on is not None else _local(at)
            who = who or 0
            if not superseded:
                cell = mine[(who, day)]
                cell[0] += 1
                cell[1] += int(suspect)
                if review != "rejected" and form:
                    counted.append((day, who))
            if on is not None:
                cell = mine[(sender or 0, day)]
                cell[8] += review == "approved"
                cell[9] += review != "received"
        counted.sort()
        last: dict[int, int] = {}
        for k, (day, who) in enumerate(counted):
            xun, week = period_starts(day)
            cell = mine[(who, day)]
            for col, prev in ((2, counted[k - 1][0] if k else 0), (5, last.get(who, 0))):
                cell[col] += prev == 0
                cell[col + 1] += prev < xun
                cell[col + 2] += prev < week
            last[who] = day
        out[b] = {key: cell for key, cell in mine.items() if any(cell)}
    return out


def _encode(marks: dict[Key, list[int]]) -> str:
    return json.dumps(sorted([*key, *cell] for key, cell in marks.items()),
                      separators=(",", ":"))


def _decode(text: str | None) -> dict[Key, list[int]]:
    return {tuple(row[:2]): row[2:] for row in json.loads(text)} if text else {}


def _upsert(dialect: str, table: sa.Table, keys: list[str], add: bool):
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    stmt = insert(table)
    cols = COLUMNS if add else ("marks",)
    return stmt.on_conflict_do_update(index_elements=[table.c[k] for k in keys], set_={
        c: (table.c[c] + stmt.excluded[c]) if add else stmt.excluded[c] for c in cols})


class _Moves:
    """Buildings' marks replaced and the sums of their streets moved by the difference."""

    def __init__(self) -> None:
        self.deltas: dict[tuple, list[int]] = defaultdict(lambda: [0] * len(COLUMNS))
        self.marks: list[dict] = []
        self.gone: list[dict] = []

    def add(self, r: int, b: int, street: int, before: dict, after: dict) -> None:
        if before == after:
            return
        for sign, marks in ((-1, before), (1, after)):
            for (who, day), cell in marks.items():
                moved = self.deltas[(r, street, who, day)]
                for i, n in enumerate(cell):
                    moved[i] += sign * n
        if after:
            self.marks.append({"round_id": r, "building_id": b, "marks": _encode(after)})
        else:
            self.gone.append({"r": r, "b": b})

    def write(self, conn: sa.Connection) -> None:
        if self.gone or self.marks or self.deltas:
            rollup_stamp.note_changed()
        if self.gone:
            conn.execute(sa.delete(_MARKS).where(_MARKS.c.round_id == sa.bindparam("r"),
                                                 _MARKS.c.building_id == sa.bindparam("b")),
                         self.gone)
        if self.marks:
            conn.execute(_upsert(conn.dialect.name, _MARKS, ["round_id", "building_id"], False),
                         self.marks)
        rows = [{"round_id": r, "street_id": s, "person_id": w, "day": d,
                 **dict(zip(COLUMNS, cell, strict=True))}
                for (r, s, w, d), cell in sorted(self.deltas.items()) if any(cell)]
        if rows:
            conn.execute(_upsert(conn.dialect.name, _DAYS,
                                 ["round_id", "street_id", "person_id", "day"], True), rows)
            FEED.note(rows)  # (each process's copy moves by them: move_feed.py)


def refresh(pairs: Iterable[tuple[int, int]]) -> None:
    """Derive the marks of these (building, round) pairs again from their stored visits and
    move the sums by the difference (no commit; beside timeline.refresh)."""
    conn = db.session.connection()
    per_round: dict[int, list[int]] = defaultdict(list)
    for b, r in sorted(set(pairs)):
        per_round[r].append(b)
    moves = _Moves()
    for r, buildings in per_round.items():
        for start in range(0, len(buildings), CHUNK):
            part = buildings[start:start + CHUNK]
            if conn.dialect.name == "postgresql":  # as refresh.py: one refresh at a time
                conn.execute(sa.select(Building.id).where(Building.id.in_(part))
                             .order_by(Building.id).with_for_update(key_share=True)).all()
            streets = dict(conn.execute(sa.select(
                Building.id, sa.func.coalesce(Building.street_id, 0)).where(
                Building.id.in_(part))).all())
            old = dict(conn.execute(sa.select(_MARKS.c.building_id, _MARKS.c.marks).where(
                _MARKS.c.round_id == r, _MARKS.c.building_id.in_(part))).all())
            new = marks_of(conn.execute(_query(r).where(VisitRow.building_id.in_(part))))
            for b in part:
                if b in streets:
                    moves.add(r, b, streets[b], _decode(old.get(b)), new.get(b, {}))
    moves.write(conn)


_ONE = sa.select(_MARKS.c.marks).where(_MARKS.c.round_id == sa.bindparam("r"),
                                       _MARKS.c.building_id == sa.bindparam("b"))


def refresh_one(round_id: int, building_id: int, street_id: int, visits: list[tuple]) -> None:
    """`refresh` of one building whose visits (the rows of `_query`) and street the caller has
    just read (refresh.py, a submission's refresh): one read of its marks by key (no commit)."""
    conn = db.session.connection()
    old = conn.execute(_ONE, {"r": round_id, "b": building_id}).scalar()
    moves = _Moves()
    moves.add(round_id, building_id, street_id, _decode(old),
              marks_of(visits).get(building_id, {}))
    moves.write(conn)


def refresh_submission(submission_id: int) -> None:
    """A review decision changed a submission: its visit's building (no commit)."""
    db.session.flush()
    found = db.session.execute(sa.select(VisitRow.building_id, VisitRow.round_id).where(
        VisitRow.submission_id == submission_id, VisitRow.building_id.is_not(None),
        VisitRow.round_id.is_not(None))).all()
    if found:
        refresh([(b, r) for b, r in found])


def rebuild(round_id: int, conn: sa.Connection | None = None) -> int:
    """Make a round's marks those of all its visits and rewrite its sums (no commit); returns
    how many buildings' marks changed. `conn`: the migration's connection."""
    conn = conn if conn is not None else db.session.connection()
    r = int(round_id)
    new = {b: _encode(m) for b, m in marks_of(fetch_tuples(_query(r), conn)).items() if m}
    stored = dict(fetch_tuples(sa.select(_MARKS.c.building_id, _MARKS.c.marks).where(
        _MARKS.c.round_id == r), conn))
    gone = [{"r": r, "b": b} for b in stored if b not in new]
    if gone:
        conn.execute(sa.delete(_MARKS).where(_MARKS.c.round_id == sa.bindparam("r"),
                                             _MARKS.c.building_id == sa.bindparam("b")), gone)
    changed = [{"round_id": r, "building_id": b, "marks": m} for b, m in new.items()
               if stored.get(b) != m]
    for start in range(0, len(changed), 20_000):
        conn.execute(_upsert(conn.dialect.name, _MARKS, ["round_id", "building_id"], False),
                     changed[start:start + 20_000])
    resum(r, conn)
    return len(gone) + len(changed)


def resum(round_id: int | None = None, conn: sa.Connection | None = None) -> None:
    """Rewrite the sums of a round (None: every round) from the stored marks and the buildings'
    streets now (no commit): after a rebuild, or when buildings changed streets."""
    if conn is None:
        conn = db.session.connection()
        FEED.note_rewritten(round_id)
    else:
        rollup_stamp.write_token(conn)
        FEED.write_rewritten(conn, round_id)
    q = (sa.select(_MARKS.c.round_id, sa.func.coalesce(Building.street_id, 0), _MARKS.c.marks)
         .join(Building, Building.id == _MARKS.c.building_id))
    delete = sa.delete(_DAYS)
    if round_id is not None:
        q = q.where(_MARKS.c.round_id == int(round_id))
        delete = delete.where(_DAYS.c.round_id == int(round_id))
    sums: dict[tuple, list[int]] = defaultdict(lambda: [0] * len(COLUMNS))
    for r, street, text in fetch_tuples(q, conn):
        for (who, day), cell in _decode(text).items():
            total = sums[(r, street, who, day)]
            for i, n in enumerate(cell):
                total[i] += n
    conn.execute(delete)
    rows = [{"round_id": r, "street_id": s, "person_id": w, "day": d,
             **dict(zip(COLUMNS, cell, strict=True))}
            for (r, s, w, d), cell in sorted(sums.items()) if any(cell)]
    for start in range(0, len(rows), 20_000):
        conn.execute(sa.insert(_DAYS), rows[start:start + 20_000])


def read(round_id: int, first: date, last: date
         ) -> tuple[np.ndarray, np.ndarray, int, int | None]:
    """The round's rows with visits (street, person, day, COLUMNS but the submissions'),
    every round's rows with submissions reviewed on days in [first, last] (street, person,
    day, approved, reviewed), and FEED's last move and epoch: one statement, one snapshot."""
    c, zero = _DAYS.c, sa.literal(0)
    top, epoch = FEED.snapshot()
    visits = (sa.select(zero, c.street_id, c.person_id, c.day, *(c[k] for k in COLUMNS[:8]),
                        zero, zero)
              .where(c.round_id == int(round_id), sa.or_(
                  c.visits != 0, c.street_round != 0, c.street_xun != 0, c.street_week != 0,
                  c.person_xun != 0, c.person_week != 0)))
    subs = (sa.select(sa.literal(1), c.street_id, c.person_id, c.day, *[zero] * 8,
                      sa.func.sum(c.approved), sa.func.sum(c.reviewed))
            .where(c.reviewed != 0, c.day >= first.toordinal(), c.day <= last.toordinal())
            .group_by(c.street_id, c.person_id, c.day))
    snapshot = sa.select(sa.literal(2), top, sa.func.coalesce(epoch, 0), *[zero] * 11)
    rows = fetch_tuples(sa.union_all(visits, subs, snapshot))
    a = np.array(rows, np.int64).reshape(len(rows), 14)
    kind = a[:, 0]
    last_id, epoch_found = (int(x) for x in a[kind == 2][0, 1:3])
    return (a[kind == 0][:, 1:12], a[kind == 1][:, [1, 2, 3, 12, 13]], last_id,
            epoch_found or None)
