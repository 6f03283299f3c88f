"""The round's visits and submissions summed by the database per (street, person, day), so the
report pages add up a few rows per street and day instead of a Python object per visit.

The rules are facts.py's (a visit's street is its building's, a submission's day is its visit's,
a submission of no building in the round belongs to its records' street): each sum is what
tallying those facts one by one gives. Three kinds of rows:

- visits per (street, coordinator, day): visits to a building (not replaced) and suspect ones;
- counted visits per (street or coordinator, day, day of the previous counted visit of the same
  building by the same key): the buildings visited in a window [s, e] are the rows with a day in
  it whose previous day is before s (or none), one per building;
- submissions per (street, submitter, day, review state), for those placed on a street of the
  round by their visit; the others (no visit, a building outside the round: few) and the
  returned ones (their returns and corrections are needed one by one: few) as facts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import numpy as np
import sqlalchemy as sa

from server import localtime
from server.extensions import db
from server.models import Building, FormVersion, RoundForm, Submission, Visit
from server.models.submissions import RETURNED_STATES
from server.services.coverage.store import fetch_tuples, suspect_column
from server.services.coverage.timeline import _ordinal

NONE = -1  # the key of "no street" / "no coordinator" in the arrays


@dataclass
class Rows:
    """Columns of summed rows: `key` (street or person id, NONE for none), `day` (ordinal),
    and named integer columns."""

    key: np.ndarray
    day: np.ndarray
    values: dict[str, np.ndarray]

    @classmethod
    def of(cls, rows: list[tuple], names: tuple[str, ...]) -> Rows:
        n = len(rows)
        cols = list(zip(*rows, strict=True)) if rows else [()] * (2 + len(names))
        return cls(np.array(cols[0], np.int64).reshape(n), np.array(cols[1], np.int64).reshape(n),
                   {name: np.array(c, np.int64).reshape(n) for name, c in zip(
                       names, cols[2:], strict=True)})

    def window(self, start: date, end: date, prev_before: bool = False) -> dict[int, dict]:
        """Per key, each column summed over the rows of days in [start, end] (with
        `prev_before`: only rows whose "prev" column is a day before `start`)."""
        keep = (self.day >= start.toordinal()) & (self.day <= end.toordinal())
        if prev_before:
            keep &= self.values["prev"] < start.toordinal()
        keys = self.key[keep]
        if not len(keys):
            return {}
        uniq, inv = np.unique(keys, return_inverse=True)
        sums = {name: np.bincount(inv, weights=col[keep], minlength=len(uniq)).astype(np.int64)
                for name, col in self.values.items() if name != "prev"}
        return {int(k): {name: int(s[i]) for name, s in sums.items()}
                for i, k in enumerate(uniq.tolist())}


def _day(on, at) -> int:
    """A visit's day: its local day stored, else the local day of its time."""
    if on is not None:
        return _ordinal(on)
    return localtime.local_date(
        at if isinstance(at, datetime) else datetime.fromisoformat(str(at))).toordinal()


def _forms_filter(round_id: int):
    forms = list(db.session.scalars(sa.select(RoundForm.form_id).where(
        RoundForm.round_id == round_id)))
    if not forms:
        return sa.true()
    return Submission.form_version_id.in_(
        sa.select(FormVersion.id).where(FormVersion.form_id.in_(forms)))


def _key(street: int | None, streets: dict[int, str]) -> int:
    return street if street is not None and street in streets else NONE


def visit_rows(round_id: int, streets: dict[int, str]) -> tuple[Rows, Rows]:
    """(visits and suspect ones per street and per coordinator, as two Rows keyed by street and
    by coordinator). A building outside the round's streets counts under no street."""
    suspect = sa.case((suspect_column(), 1), else_=0)
    grouped = (
        sa.select(Building.street_id, Visit.coordinator_id, Visit.visited_on,
                  sa.func.count(), sa.func.sum(suspect))
        .join(Submission, Submission.id == Visit.submission_id)
        .join(Building, Building.id == Visit.building_id)
        .where(Visit.round_id == round_id, Submission.draft.is_(False),
               Submission.superseded.is_(False), Visit.visited_on.is_not(None))
        .group_by(Building.street_id, Visit.coordinator_id, Visit.visited_on))
    rows = [(s, c, _ordinal(on), n, k) for s, c, on, n, k in fetch_tuples(grouped)]
    rows += [(s, c, _day(None, at), 1, int(bool(k))) for s, c, at, k in db.session.execute(
        sa.select(Building.street_id, Visit.coordinator_id, Visit.visited_at, suspect_column())
        .join(Submission, Submission.id == Visit.submission_id)
        .join(Building, Building.id == Visit.building_id)
        .where(Visit.round_id == round_id, Submission.draft.is_(False),
               Submission.superseded.is_(False), Visit.visited_on.is_(None)))]
    by_street = Rows.of([(_key(s, streets), d, n, k) for s, _c, d, n, k in rows],
                        ("visits", "suspect_visits"))
    by_person = Rows.of([(NONE if c is None else c, d, n, k) for _s, c, d, n, k in rows],
                        ("visits", "suspect_visits"))
    return by_street, by_person


def first_visits(round_id: int, streets: dict[int, str]) -> tuple[Rows, Rows]:
    """Counted visits per (street, day, previous day of a counted visit of the building) and
    per (coordinator, day, previous day of that coordinator's counted visit of the building);
    "prev" is -1 for none. Days are read in Python (a visit without a stored day has its
    time's local day), so the previous day is found here, per building, in day order."""
    q = (sa.select(Visit.building_id, Building.street_id, Visit.coordinator_id, Visit.visited_on,
                   Visit.visited_at)
         .join(Submission, Submission.id == Visit.submission_id)
         .join(Building, Building.id == Visit.building_id)
         .where(Visit.round_id == round_id, Submission.draft.is_(False),
                Submission.superseded.is_(False), Submission.review_state != "rejected",
                _forms_filter(round_id)))
    raw = fetch_tuples(q)
    n = len(raw)
    cols = list(zip(*raw, strict=True)) if raw else [()] * 5
    b = np.array(cols[0], np.int64).reshape(n)
    street = np.array([_key(s, streets) for s in cols[1]], np.int64).reshape(n)
    person = np.array([NONE if c is None else c for c in cols[2]], np.int64).reshape(n)
    day = np.array([_day(on, at) for on, at in zip(cols[3], cols[4], strict=True)],
                   np.int64).reshape(n)
    return (_firsts(b, b * 0, street, day), _firsts(b, person, person, day))


def _firsts(b: np.ndarray, part: np.ndarray, key: np.ndarray, day: np.ndarray) -> Rows:
    """Rows (key, day, prev, n): the visits grouped by (key, day, the previous visit's day in
    the same (building, part))."""
    if not len(b):
        return Rows.of([], ("prev", "n"))
    order = np.lexsort((day, part, b))
    b, part, key, day = b[order], part[order], key[order], day[order]
    same = np.r_[False, (b[1:] == b[:-1]) & (part[1:] == part[:-1])]
    prev = np.where(same, np.r_[-1, day[:-1]], -1)
    table = np.stack([key, day, prev])
    uniq, counts = np.unique(table, axis=1, return_counts=True)
    return Rows(uniq[0], uniq[1], {"prev": uniq[2], "n": counts.astype(np.int64)})


def submission_rows(round_id: int, first: date, last: date, streets: dict[int, str],
                    in_round: set[int] | None) -> tuple[Rows, Rows, list[int]]:
    """Submissions of a visit in the round's days on a street of the round, summed per
    (street, day) and per (submitter, day) as approved / reviewed (not just received); and the
    ids of the returned ones among them (read one by one by facts.py)."""
    building = sa.func.coalesce(Visit.building_id, Visit.chosen_building_id)
    approved = sa.case((Submission.review_state == "approved", 1), else_=0)
    reviewed = sa.case((Submission.review_state != "received", 1), else_=0)
    placed = _placed(in_round)
    grouped = (
        sa.select(Building.street_id, Submission.submitter_id, Visit.visited_on,
                  sa.func.sum(approved), sa.func.sum(reviewed))
        .join(Visit, Visit.submission_id == Submission.id)
        .join(Building, Building.id == building)
        .where(Submission.draft.is_(False), Visit.visited_on.between(first, last), placed)
        .group_by(Building.street_id, Submission.submitter_id, Visit.visited_on))
    rows = [(s, w, _ordinal(on), a, r) for s, w, on, a, r in fetch_tuples(grouped)]
    by_street = Rows.of([(s, d, a, r) for s, _w, d, a, r in rows], ("approved", "reviewed"))
    by_person = Rows.of([(NONE if w is None else w, d, a, r) for _s, w, d, a, r in rows],
                        ("approved", "reviewed"))
    returned = list(db.session.scalars(
        sa.select(Submission.id)
        .join(Visit, Visit.submission_id == Submission.id)
        .join(Building, Building.id == building)
        .where(Submission.draft.is_(False), Visit.visited_on.between(first, last), placed,
               Submission.review_state.in_(sorted(RETURNED_STATES)))))
    return by_street, by_person, returned


def _placed(in_round: set[int] | None):
    """The building's street is one of the round's (None: any street)."""
    if in_round is None:
        return Building.street_id.is_not(None)
    return Building.street_id.in_(sorted(in_round))


def unplaced(in_round: set[int] | None):
    """The submissions `submission_rows` leaves out: no visit, no stored day, no building, or
    a building not on a street of the round (a WHERE clause on the outer-joined Building)."""
    return sa.or_(Visit.visited_on.is_(None), Building.id.is_(None), ~_placed(in_round))
