"""A day roll-up's moves, numbered in commit order, and the copies each process keeps of what
it read from the roll-up, moved by them instead of read again.

Both day roll-ups the report pages read (`coverage_day_counts`, timeline.py; `report_day_counts`,
report_days.py) are moved by each building's refresh. At the commit the same moves are written
to the roll-up's feed table (`coverage_day_moves`, `report_day_moves`) under the row lock of the
roll-ups' token (rollup_stamp.py, held until the commit), so their ids become visible in
increasing order. A process keeps what it built from a read of the roll-up with the last id it
has applied, and on the next request reads only the rows past it: after a processing batch a
report page adds a few hundred rows instead of reading the round again (843,415 and 437,566
rows at 1M buildings). A rewrite of a roll-up (the recompute, buildings moved between streets)
writes a row with no street: its round (without a round: every round) is read again. Old rows
are pruned; the random epoch in `data_versions` under the feed's name is then new, and every copy
is read again (a database made afresh under the same URL has an epoch of its own too).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import Session

from server.extensions import db
from server.models import DataVersion
from server.services.coverage import rollup_stamp
from server.services.coverage.store import fetch_tuples
from server.services.stamps import new_token

V = TypeVar("V")
KEEP = 200_000  # rows kept after a prune
#: Moves a copy takes in before it is read whole again: each one adds a row to its arrays
#: (0.84M at 1M buildings; a long push phase would otherwise grow them without end).
MAX_MOVES = 200_000
_VERSIONS = DataVersion.__table__
#: What a copy holds: the value, the last move applied, the epoch it was read under, and how
#: many moves it has taken in since.
Copy = tuple[V, int, int | None, int]


class MoveFeed(Generic[V]):
    """The feed table `table` (an id, `round_id`, `street_id` and the roll-up's other columns)
    and the copies kept from its roll-up."""

    def __init__(self, table: sa.Table, most: int = 8):
        self.table, self.name, self.most = table, table.name, most
        self._notes = f"doorstep_{self.name}"
        self._kept: dict[Hashable, Copy] = {}
        self._lock = threading.Lock()
        rollup_stamp.STAMP.at_commit.append(self._write)
        sa.event.listen(Session, "after_transaction_end", self._ended)

    # --- writing ------------------------------------------------------------------------------

    def note(self, rows: list[dict], session: Session | None = None) -> None:
        """The roll-up moved in this transaction by these rows (as upserted into it)."""
        session = session or db.session()
        session.info.setdefault(self._notes, []).extend(rows)
        rollup_stamp.note_changed(session)

    def note_rewritten(self, round_id: int | None, session: Session | None = None) -> None:
        """The round's rows (None: every round's) are rewritten in this transaction."""
        self.note([{"round_id": round_id, "street_id": None}], session)

    def write_rewritten(self, conn: sa.Connection, round_id: int | None) -> None:
        """`note_rewritten` on a connection of its own (the recompute's, a migration's), after
        it wrote the roll-ups' token (whose row lock it holds). Migrations that rebuild before
        the feed's table exists: no process can hold a copy then."""
        if sa.inspect(conn).has_table(self.name):
            conn.execute(sa.insert(self.table).values(round_id=round_id, street_id=None))

    def _write(self, session: Session) -> None:
        rows = session.info.pop(self._notes, None)
        if not rows:
            return
        conn = session.connection()
        for keys in sorted({tuple(sorted(r)) for r in rows}):  # (the markers have fewer keys)
            conn.execute(sa.insert(self.table), [r for r in rows if tuple(sorted(r)) == keys])
        t = self.table.c
        low, top = conn.execute(sa.select(sa.func.min(t.id), sa.func.max(t.id))).one()
        if top - low > 2 * KEEP:
            conn.execute(sa.delete(self.table).where(t.id <= top - KEEP))
            if not conn.execute(sa.update(_VERSIONS).where(_VERSIONS.c.name == self.name)
                                .values(version=new_token())).rowcount:
                conn.execute(sa.insert(_VERSIONS).values(name=self.name, version=new_token()))

    def _ended(self, session: Session, transaction) -> None:
        if transaction.parent is None and not transaction.nested:
            session.info.pop(self._notes, None)  # (rolled back: void)

    # --- reading ------------------------------------------------------------------------------

    def snapshot(self) -> tuple[sa.ColumnElement, sa.ColumnElement]:
        """(the last id, the epoch) as columns, for a statement that reads the roll-up too:
        all from one snapshot."""
        v = _VERSIONS.c
        return (sa.select(sa.func.coalesce(sa.func.max(self.table.c.id), 0)).scalar_subquery(),
                sa.select(v.version).where(v.name == self.name).scalar_subquery())

    def kept(self, key: Hashable, round_id: int, read: Callable[[], tuple[V, int, int | None]],
             move: Callable[[V, list[tuple]], V]) -> V:
        """The copy kept under `key`, moved by the rows since; or `read()` whole, with the
        feed's last id and epoch (the first time, after a rewrite of `round_id`, a prune or
        MAX_MOVES moves, and inside a transaction that moved the roll-ups itself: its moves
        are not committed). `move(value, rows)` returns a new value (the old one may be in use
        by another request); rows are the feed's columns but the id, of every round."""
        if rollup_stamp.STAMP.changed_here():
            return read()[0]
        key = (str(db.engine.url), key)
        found = self._kept.get(key)
        if found is not None:
            found = self._moved(found, round_id, move)
        if found is None:
            found = (*read(), 0)
        if found[2] is not None:
            with self._lock:  # (requests on other threads keep copies too)
                if key not in self._kept and len(self._kept) >= self.most:
                    self._kept.pop(next(iter(self._kept)))
                self._kept[key] = found
        return found[0]

    def _moved(self, found: Copy, round_id: int, move: Callable) -> Copy | None:
        """The epoch is read after the rows: a prune in between shows."""
        value, last, epoch, taken = found
        t = self.table.c
        rows = fetch_tuples(sa.select(*self.table.c).where(t.id > last).order_by(t.id)
                            .limit(MAX_MOVES - taken + 1))
        now = db.session.scalar(sa.select(_VERSIONS.c.version)
                                .where(_VERSIONS.c.name == self.name))
        if now != epoch or taken + len(rows) > MAX_MOVES:
            return None
        if any(r[2] is None and r[1] in (None, round_id) for r in rows):
            return None  # (columns: id, round_id, street_id, …) rewritten
        if not rows:
            return found
        moves = [r[1:] for r in rows if r[2] is not None]  # (another round's rewrite: none)
        return (move(value, moves) if moves else value), rows[-1][0], epoch, taken + len(rows)
