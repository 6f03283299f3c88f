"""The report pages' visits and submissions as arrays of the roll-up's rows (server/services/
coverage/report_days.py: per street, person and day of the round), so a window's figures are
sums over a few rows per street and day instead of a Python object per visit.

The rules are facts.py's (a visit's street is its building's, a submission's day is its visit's,
a submission of no building in the round belongs to its records' street):

- visits per (street, coordinator, day): visits to a building (not replaced) and suspect ones;
- counted visits per (street or coordinator, day, day of the previous counted visit of the same
  building by the same key): the buildings visited in a window [s, e] are the rows with a day in
  it whose previous day is before s (or none), one per building;
- submissions of a visit to a building of the round's streets per (street, submitter, day):
  approved, reviewed; the others (no visit, no building, no round: few) and the returned ones
  (their returns and corrections are needed one by one: few) are read by facts.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import sqlalchemy as sa

from server import localtime
from server.extensions import db
from server.models import Building, Submission, Visit
from server.models.submissions import RETURNED_STATES
from server.services import sql_lists
from server.services.coverage import report_days
from server.services.coverage.store import fetch_tuples, form_counts
from server.services.reports import periods

NONE = -1  # the key of "no street" / "no coordinator" in the arrays


@dataclass
class Rows:
    """Columns of summed rows: `key` (street or person id, NONE for none), `day` (ordinal),
    and named integer columns."""

    key: np.ndarray
    day: np.ndarray
    values: dict[str, np.ndarray]

    def columns(self, start: date, end: date) -> dict[str, np.ndarray]:
        """Each column summed over the rows of days in [start, end], as an array indexed by
        key (index 0 for NONE)."""
        keep = (self.day >= start.toordinal()) & (self.day <= end.toordinal())
        keys = np.maximum(self.key[keep], 0)
        return {name: np.bincount(keys, weights=col[keep]).astype(np.int64)
                for name, col in self.values.items()}


def _mapped(ids: np.ndarray, keep: set[int] | None) -> np.ndarray:
    """Street ids as keys: NONE for 0 (no street) and, given `keep`, for a street not in it."""
    out = np.where(ids > 0, ids, NONE)
    if keep is not None and len(ids):
        allowed = np.zeros(int(max(ids.max(), max(keep, default=0))) + 1, bool)
        allowed[sorted(keep)] = True
        out = np.where(allowed[np.maximum(ids, 0)], out, NONE)
    return out


def _array(rows: list[tuple], width: int) -> np.ndarray:
    return np.array(rows, np.int64).reshape(len(rows), width)


def aligned(round_start: date, start: date, end: date) -> str | None:
    """Which mark counts the buildings visited in [start, end] (report_days.py): "round" from
    the round's first day, "xun" / "week" within one 旬 / ISO week from its first day; None
    for any other window (counted from the visits, `visited_buildings`)."""
    xun, week = report_days.period_starts(start.toordinal())
    if start == round_start:
        return "round"
    if start.toordinal() == xun and periods.containing(start, "xun").end >= end:
        return "xun"
    if start.toordinal() == week and periods.containing(start, "week").end >= end:
        return "week"
    return None


Sums = tuple[tuple[Rows, Rows], tuple[Rows, Rows], tuple[Rows, Rows]]


def visit_rows(round_id: int, first: date, last: date, streets: dict[int, str],
               in_round: set[int] | None) -> Sums:
    """From the roll-up (server/services/coverage/report_days.py): (visits and suspect ones,
    first counted visits in the round / 旬 / week, submissions approved / reviewed), each per
    street and per person. A street not of the round counts as none for visits; submissions
    on it are left to facts.py (like those of no street). Kept per process and moved by the
    roll-up's moves since (server/services/coverage/move_feed.py)."""
    def read() -> tuple[Sums, int, int | None]:
        visits, subs, top, epoch = report_days.read(round_id, first, last)
        return _sums(visits, subs, streets, in_round), top, epoch

    def move(sums: Sums, rows: list[tuple]) -> Sums:
        a = _array(rows, 14)  # round, street, person, day, COLUMNS
        mine = a[a[:, 0] == round_id]
        visits = mine[np.any(mine[:, 4:12] != 0, axis=1)][:, 1:12]
        in_days = (a[:, 3] >= first.toordinal()) & (a[:, 3] <= last.toordinal())
        subs = a[in_days & np.any(a[:, 12:14] != 0, axis=1)][:, [1, 2, 3, 12, 13]]
        more = _sums(visits, subs, streets, in_round)
        return tuple(tuple(_joined(x, y) for x, y in zip(old, new, strict=True))
                     for old, new in zip(sums, more, strict=True))

    key = ("report_rows", round_id, first, last, tuple(sorted(streets)), in_round is None)
    return report_days.FEED.kept(key, round_id, read, move)


def _joined(a: Rows, b: Rows) -> Rows:
    return Rows(np.concatenate([a.key, b.key]), np.concatenate([a.day, b.day]),
                {k: np.concatenate([a.values[k], b.values[k]]) for k in a.values})


def _sums(v: np.ndarray, s: np.ndarray, streets: dict[int, str],
          in_round: set[int] | None) -> Sums:
    """The arrays of `visit_rows` from rows with visits (n x 11) and with submissions (n x 5)."""
    street, person = _mapped(v[:, 0], set(streets)), np.where(v[:, 1] > 0, v[:, 1], NONE)
    day = v[:, 2]

    def rows(key: np.ndarray, **cols: np.ndarray) -> Rows:
        keep = np.zeros(len(key), bool)
        for c in cols.values():
            keep |= c != 0
        return Rows(key[keep], day[keep], {k: c[keep] for k, c in cols.items()})

    marks = ("round", "xun", "week")
    out_v = (rows(street, visits=v[:, 3], suspect_visits=v[:, 4]),
             rows(person, visits=v[:, 3], suspect_visits=v[:, 4]))
    out_f = (rows(street, **{m: v[:, 5 + i] for i, m in enumerate(marks)}),
             rows(person, **{m: v[:, 8 + i] for i, m in enumerate(marks)}))
    placed = _mapped(s[:, 0], in_round) != NONE
    names = ("approved", "reviewed")
    out_s = (Rows(s[placed, 0], s[placed, 2], {k: s[placed, 3 + i] for i, k in enumerate(names)}),
             Rows(np.where(s[placed, 1] > 0, s[placed, 1], NONE), s[placed, 2],
                  {k: s[placed, 3 + i] for i, k in enumerate(names)}))
    return out_v, out_f, out_s


def visited_buildings(round_id: int, start: date, end: date, streets: dict[int, str],
                      by_street: bool) -> dict[int, int]:
    """Buildings with a counted visit in [start, end] per street (or coordinator), counted
    from the visits: for a window the marks do not cover (not a period of the reports)."""
    q = (sa.select(Visit.building_id, Building.street_id, Visit.coordinator_id,
                   Visit.visited_on, Visit.visited_at)
         .join(Submission, Submission.id == Visit.submission_id)
         .join(Building, Building.id == Visit.building_id)
         .where(Visit.round_id == round_id, Submission.draft.is_(False),
                Submission.superseded.is_(False), Submission.review_state != "rejected",
                form_counts(round_id)))
    seen: dict[int, set[int]] = {}
    for b, street, who, on, at in db.session.execute(q):
        day = on or localtime.local_date(at)
        if start <= day <= end:
            key = (street if street in streets else NONE) if by_street else (who or NONE)
            seen.setdefault(key, set()).add(b)
    return {k: len(v) for k, v in seen.items()}


def returned_ids(first: date, last: date, in_round: set[int] | None) -> list[int]:
    """The returned submissions the roll-up summed (read one by one by facts.py), found from
    the index of those sent back (literal states: the partial index applies)."""
    building = sa.func.coalesce(Visit.building_id, Visit.chosen_building_id)
    return [i for (i,) in fetch_tuples(
        sa.select(Submission.id)
        .join(Visit, Visit.submission_id == Submission.id)
        .join(Building, Building.id == building)
        .where(Submission.review_state.in_(RETURNED_STATES), Submission.draft.is_(False),
               Visit.visited_on.between(first, last), _placed(in_round)))]


def _placed(in_round: set[int] | None):
    """The submissions the roll-up sums: a visit to a building, in a round, with its day,
    the building's street one of the round's (None: any street)."""
    on_street = (Building.street_id.is_not(None) if in_round is None
                 else sql_lists.one_of(Building.street_id, in_round))
    return sa.and_(Visit.building_id.is_not(None), Visit.round_id.is_not(None),
                   Visit.visited_on.is_not(None), on_street)
