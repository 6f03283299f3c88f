"""The coverage change feed: which buildings' states changed, numbered in commit order.

A refresh that changes a building's state notes (round, building) on the session; the full
recompute notes its round as rewritten (building None). Just before the commit the notes are
written to `coverage_changes` under the row lock of `data_versions` 'coverage_changes', and the
ids are drawn only after that lock is held: two transactions write their rows one after the
other, so the ids become visible in increasing order (PostgreSQL commits can otherwise expose a
higher id before a lower one). A process that has read the feed up to id N then needs only the
rows after N to be exact (source.py patches its states array and tiles.py drops the tiles that
hold a changed building). Old rows are pruned; the lock row's version says up to which id, and
a reader behind it reloads the whole round.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from server.models import CoverageChange, DataVersion
from server.services.coverage import store as coverage

NAME = "coverage_changes"
KEEP = 200_000  # rows kept after a prune (a reader further behind reloads the round)
MAX_PATCH = 20_000  # more changed buildings than this since the last read: reload the round
_NOTES = "doorstep_coverage_changes"


def note_changed(session: Session, round_id: int, building_id: int) -> None:
    """A building's state changed in this transaction (written at commit)."""
    session.info.setdefault(_NOTES, set()).add((int(round_id), int(building_id)))


def note_rewritten(session: Session, round_id: int) -> None:
    """The round's rows were rewritten (full recompute): every reader reloads it."""
    session.info.setdefault(_NOTES, set()).add((int(round_id), None))


def _write(session: Session) -> None:
    notes = session.info.pop(_NOTES, None)
    if not notes:
        return
    conn = session.connection()
    v = DataVersion.__table__
    lock = sa.update(v).where(v.c.name == NAME).values(version=v.c.version)  # the row lock
    if not conn.execute(lock).rowcount:
        conn.execute(sa.insert(v).values(name=NAME, version=0))
    conn.execute(sa.insert(CoverageChange.__table__),
                 [{"round_id": r, "building_id": b} for r, b in sorted(notes, key=str)])
    top = conn.execute(sa.select(sa.func.max(CoverageChange.id))).scalar() or 0
    pruned = conn.execute(sa.select(v.c.version).where(v.c.name == NAME)).scalar() or 0
    if top - pruned > 2 * KEEP:
        t = CoverageChange.__table__
        conn.execute(sa.delete(t).where(t.c.id <= top - KEEP))
        conn.execute(sa.update(v).where(v.c.name == NAME).values(version=top - KEEP))


def _written(session: Session) -> None:
    if session.info.pop(_NOTES + "_w", None):
        coverage.coverage_changed()  # this process probes at once (the others within theirs)


def _before_commit(session: Session) -> None:
    if session.info.get(_NOTES) and not session.in_nested_transaction():  # (savepoints: later)
        session.info[_NOTES + "_w"] = True
        _write(session)


def _ended(session: Session, transaction) -> None:
    """The whole transaction is over: notes it did not write (a rollback) are void. A
    savepoint's end keeps them (a rolled back savepoint's notes are written anyway: harmless)."""
    if transaction.parent is None and not transaction.nested:
        session.info.pop(_NOTES, None)


sa.event.listen(Session, "before_commit", _before_commit)
sa.event.listen(Session, "after_commit", _written)
sa.event.listen(Session, "after_transaction_end", _ended)


def probe() -> tuple[int, int]:
    """(highest id in the feed, id up to which rows were pruned): one cheap read."""
    v = DataVersion.__table__
    top, pruned = coverage.fetch_tuples(sa.select(
        sa.select(sa.func.max(CoverageChange.id)).scalar_subquery(),
        sa.select(v.c.version).where(v.c.name == NAME).scalar_subquery(),
    ))[0]  # fmt: skip
    return top or 0, pruned or 0


def changed(round_id: int, after: int, upto: int) -> list[int] | None:
    """The buildings of a round changed in (after, upto], ascending; None: reload the round
    (it was rewritten, or too many changed)."""
    t = CoverageChange.__table__.c
    rows = coverage.fetch_tuples(
        sa.select(t.building_id).distinct()
        .where(t.round_id == int(round_id), t.id > int(after), t.id <= int(upto))
        .limit(MAX_PATCH + 1)
    )  # fmt: skip
    ids = [r[0] for r in rows]
    if len(ids) > MAX_PATCH or any(b is None for b in ids):
        return None
    return sorted(ids)
