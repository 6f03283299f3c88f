"""The moves of the day counts per street (`coverage_day_counts`), numbered in commit order, and
each process's copy of a round's counts, moved by them.

A building's refresh moves its street's day counts (timeline.py); at the commit the same moves
are written to `coverage_day_moves`, under the row lock of the day roll-ups' token
(rollup_stamp.py, held until the commit), so their ids become visible in increasing order. A
process keeps a round's counts as arrays (`StreetDays`) with the last id it applied, and on the
next request reads only the rows past it: after a processing batch a report page adds a few
hundred rows instead of reading the round's counts again (843,415 rows at 1M buildings). A
rewrite of the counts (the recompute, buildings moved between streets: `timeline.resum`) writes
a row without a street: its round (or, without a round, every round) is read again. Old rows
are pruned; the random epoch in `data_versions` 'coverage_day_moves' is then new, and so is
every copy (a database made afresh under the same URL has an epoch of its own too).
"""

from __future__ import annotations

from datetime import date

import numpy as np
import sqlalchemy as sa
from sqlalchemy.orm import Session

from gis.coverage import STATES
from server.extensions import db
from server.models import CoverageDayCount, CoverageDayMove, DataVersion
from server.services.coverage import rollup_stamp
from server.services.coverage.store import fetch_tuples
from server.services.stamps import new_token

NAME = "coverage_day_moves"
KEEP = 200_000  # rows kept after a prune
MAX_MOVES = 50_000  # more rows than this past a copy: read its round again
_NOTES = "doorstep_coverage_day_moves"
_MOVES = CoverageDayMove.__table__
_DAYS = CoverageDayCount.__table__
_VERSIONS = DataVersion.__table__
_EPOCH_1970 = date(1970, 1, 1).toordinal()
_CODE = {name: k for k, name in enumerate(STATES)}


def note_moves(rows: list[dict], session: Session | None = None) -> None:
    """Day counts moved in this transaction (rows as upserted into `coverage_day_counts`)."""
    session = session or db.session()
    session.info.setdefault(_NOTES, []).extend(rows)
    rollup_stamp.note_changed(session)


def note_rewritten(round_id: int | None, session: Session | None = None) -> None:
    """The round's day counts (None: every round's) are rewritten in this transaction."""
    note_moves([{"round_id": round_id, "street_id": None, "day": None, "state": None,
                 "buildings": 0}], session)


def write_rewritten(conn: sa.Connection, round_id: int | None) -> None:
    """`note_rewritten` on a connection of its own (the recompute's, a migration's), after it
    wrote the roll-ups' token (whose row lock it holds). Migration 0019 rebuilds before this
    table exists: no process can hold a copy then."""
    if sa.inspect(conn).has_table(NAME):
        conn.execute(sa.insert(_MOVES).values(round_id=round_id, buildings=0))


def _write(session: Session) -> None:
    rows = session.info.pop(_NOTES, None)
    if not rows:
        return
    conn = session.connection()
    conn.execute(sa.insert(_MOVES), rows)
    low, top = conn.execute(sa.select(sa.func.min(_MOVES.c.id), sa.func.max(_MOVES.c.id))).one()
    if top - low > 2 * KEEP:
        conn.execute(sa.delete(_MOVES).where(_MOVES.c.id <= top - KEEP))
        if not conn.execute(sa.update(_VERSIONS).where(_VERSIONS.c.name == NAME)
                            .values(version=new_token())).rowcount:
            conn.execute(sa.insert(_VERSIONS).values(name=NAME, version=new_token()))


def _ended(session: Session, transaction) -> None:
    if transaction.parent is None and not transaction.nested:
        session.info.pop(_NOTES, None)  # (rolled back: void)


rollup_stamp.STAMP.at_commit.append(_write)
sa.event.listen(Session, "after_transaction_end", _ended)


def _ordinals(days: list) -> np.ndarray:
    """Stored days (dates, or SQLite's ISO text) as ordinals, parsed by numpy at once."""
    return np.array([str(d)[:10] for d in days], "datetime64[D]").astype(np.int64) + _EPOCH_1970


class StreetDays:
    """A round's day counts in arrays: per street, buildings in each state as of any day."""

    def __init__(self, rows: list[tuple]) -> None:
        """`rows`: (street id, day, state, buildings)."""
        self._set(np.array([r[0] for r in rows], np.int64), _ordinals([r[1] for r in rows]),
                  np.array([_CODE[r[2]] for r in rows], np.int64),
                  np.array([r[3] for r in rows], np.int64))
        self._summed = len(self.n)

    def _set(self, street, day, state, n, size: int = 1) -> None:
        self.street, self.day, self.state, self.n = street, day, state, n
        self.size = max(size, int(street.max()) + 1 if len(street) else 1)

    def moved(self, rows: list[tuple]) -> StreetDays:
        """A new copy with these moves added (this one may be in use by another request)."""
        more = StreetDays(rows)
        out = StreetDays.__new__(StreetDays)
        out._set(*(np.concatenate([a, b]) for a, b in zip(
            (self.street, self.day, self.state, self.n),
            (more.street, more.day, more.state, more.n), strict=True)))
        out._summed = self._summed
        if len(out.n) > max(2 * out._summed, 100_000):  # a long push phase: sum the moves in
            out._sum()
        return out

    def _sum(self) -> None:
        key = (self.street << 24) | (self.day << 4) | self.state  # (day < 2^20: year 2871)
        cells, where = np.unique(key, return_inverse=True)
        n = np.bincount(where, weights=self.n).astype(np.int64)
        keep = n != 0
        cells = cells[keep]
        self._set(cells >> 24, (cells >> 4) & ((1 << 20) - 1), cells & 15, n[keep], self.size)
        self._summed = len(self.n)

    def as_of(self, day: date) -> np.ndarray:
        """Buildings per (street id, state) as of the end of `day` (row 0: no street; the
        unvisited column counts only buildings with visits: the caller knows the rest)."""
        keep = self.day <= day.toordinal()
        flat = np.bincount(self.street[keep] * len(STATES) + self.state[keep],
                           weights=self.n[keep], minlength=self.size * len(STATES))
        return flat.astype(np.int64).reshape(self.size, len(STATES))


#: (database URL, round) -> (its counts, the last move applied, the epoch they were read under)
_KEPT: dict[tuple[str, int], tuple[StreetDays, int, int]] = {}
_MOST_KEPT = 8


def street_days(round_id: int) -> StreetDays:
    """The round's day counts: this process's copy moved by the rows since, or read whole (the
    first time, after a rewrite or a prune, and inside a transaction that moved them itself:
    its own moves are not committed)."""
    if rollup_stamp.STAMP.changed_here():
        return read(round_id)[0]
    key = (str(db.engine.url), int(round_id))
    kept = _KEPT.get(key)
    found = _moved(kept, int(round_id)) if kept is not None else None
    if found is None:
        found = read(round_id)
    if found[2] is not None:
        if key not in _KEPT and len(_KEPT) >= _MOST_KEPT:
            _KEPT.pop(next(iter(_KEPT)))
        _KEPT[key] = found
    return found[0]


def read(round_id: int) -> tuple[StreetDays, int, int | None]:
    """The round's counts whole, with the last move's id and the epoch: one statement, so
    that all three come from one snapshot."""
    c, m, v = _DAYS.c, _MOVES.c, _VERSIONS.c
    epoch = sa.cast(sa.select(v.version).where(v.name == NAME).scalar_subquery(), sa.String)
    rows = fetch_tuples(sa.union_all(
        sa.select(c.street_id, c.day, c.state, c.buildings)
        .where(c.round_id == int(round_id), c.buildings != 0),
        sa.select(sa.null(), sa.null(), epoch, sa.func.coalesce(sa.func.max(m.id), 0))))
    _none, _day, epoch_text, top = next(r for r in rows if r[0] is None)
    return (StreetDays([r for r in rows if r[0] is not None]), top,
            None if epoch_text is None else int(epoch_text))


def _moved(kept: tuple[StreetDays, int, int], round_id: int
           ) -> tuple[StreetDays, int, int] | None:
    """The copy moved by the rows past its last id, or None: read the round again. The epoch
    is read after the rows: a prune in between shows."""
    days, last, epoch = kept
    m = _MOVES.c
    rows = fetch_tuples(sa.select(m.id, m.round_id, m.street_id, m.day, m.state, m.buildings)
                        .where(m.id > last).order_by(m.id).limit(MAX_MOVES + 1))
    now = db.session.scalar(sa.select(_VERSIONS.c.version).where(_VERSIONS.c.name == NAME))
    if now != epoch or len(rows) > MAX_MOVES:
        return None
    mine = []
    for _id, r, street, day, state, n in rows:
        if street is None and r in (None, round_id):
            return None  # rewritten
        if r == round_id and n:
            mine.append((street, day, state, n))
    return (days.moved(mine) if mine else days), (rows[-1][0] if rows else last), epoch
