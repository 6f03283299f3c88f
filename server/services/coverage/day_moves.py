"""The day counts per street of a round (`coverage_day_counts`, timeline.py) as arrays, kept per
process and moved by the rows of their feed, `coverage_day_moves` (how: move_feed.py).
"""

from __future__ import annotations

from datetime import date

import numpy as np
import sqlalchemy as sa

from gis.coverage import STATES
from server.models import CoverageDayCount, CoverageDayMove
from server.services.coverage.move_feed import MoveFeed
from server.services.coverage.store import fetch_tuples

FEED: MoveFeed[StreetDays] = MoveFeed(CoverageDayMove.__table__)
_DAYS = CoverageDayCount.__table__
_EPOCH_1970 = date(1970, 1, 1).toordinal()
_CODE = {name: k for k, name in enumerate(STATES)}

note_moves = FEED.note  # the day counts moved in this transaction (timeline.py)
note_rewritten = FEED.note_rewritten
write_rewritten = FEED.write_rewritten


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

    def _set(self, street, day, state, n) -> None:
        self.street, self.day, self.state, self.n = street, day, state, n
        self.size = int(street.max()) + 1 if len(street) else 1

    def moved(self, rows: list[tuple]) -> StreetDays:
        """A new copy with these moves added (this one may be in use by another request)."""
        more = StreetDays(rows)
        out = StreetDays.__new__(StreetDays)
        out._set(*(np.concatenate([a, b]) for a, b in zip(
            (self.street, self.day, self.state, self.n),
            (more.street, more.day, more.state, more.n), strict=True)))
        return out

    def as_of(self, day: date) -> np.ndarray:
        """Buildings per (street id, state) as of the end of `day` (row 0: no street; the
        unvisited column counts only buildings with visits: the caller knows the rest)."""
        keep = self.day <= day.toordinal()
        flat = np.bincount(self.street[keep] * len(STATES) + self.state[keep],
                           weights=self.n[keep], minlength=self.size * len(STATES))
        return flat.astype(np.int64).reshape(self.size, len(STATES))


def street_days(round_id: int) -> StreetDays:
    """The round's day counts: this process's copy moved by the rows since, or read whole."""
    def move(days: StreetDays, rows: list[tuple]) -> StreetDays:
        mine = [(s, d, st, n) for r, s, d, st, n in rows if r == round_id and n]
        return days.moved(mine) if mine else days

    return FEED.kept(("street_days", int(round_id)), int(round_id), lambda: read(round_id),
                     move)


def read(round_id: int) -> tuple[StreetDays, int, int | None]:
    """The round's counts whole, with the feed's last id and epoch: one statement, so that
    all three come from one snapshot."""
    c = _DAYS.c
    top, epoch = FEED.snapshot()
    rows = fetch_tuples(sa.union_all(
        sa.select(c.street_id, c.day, c.state, c.buildings)
        .where(c.round_id == int(round_id), c.buildings != 0),
        sa.select(sa.null(), sa.null(), sa.cast(epoch, sa.String), top)))
    _none, _day, epoch_text, last = next(r for r in rows if r[0] is None)
    return (StreetDays([r for r in rows if r[0] is not None]), last,
            None if epoch_text is None else int(epoch_text))
