"""A token that changes whenever the day roll-ups the report pages read change
(`report_day_counts`, report_days.py; `coverage_day_counts`, timeline.py), so each process keeps
a round's arrays read from them until it does: at 200,000 buildings reading them again was two
thirds of a report page (tests/bench/RESULTS.md, "Report pages at a million buildings").

A change through the session is noted and the new token written just before the commit, so the
row lock of `data_versions` 'report_days' is held only through the commit (concurrent
processing batches queue there briefly, as at the coverage feed's lock); the full recompute
and migrations, on their own connection, write it at once. A random token, not a counter: a
rolled back change, or a database made afresh under the same URL, never meets a token a kept
copy was built under. A transaction that has changed the roll-ups and not committed yet
reads around the kept copies.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Hashable
from typing import TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import Session

from server.extensions import db
from server.models import DataVersion
from server.services import versions

NAME = "report_days"
_NOTE = "doorstep_day_rollups_changed"
_KEPT: versions.Kept = versions.Kept(16)
V = TypeVar("V")


def new_token() -> int:
    return secrets.randbelow(2**31 - 1) + 1


def note_changed() -> None:
    """The session's transaction changed the day roll-ups (a new token at its commit)."""
    db.session.info[_NOTE] = True


def write_token(conn: sa.Connection) -> None:
    """A new token now, in `conn`'s transaction (the recompute's or a migration's)."""
    t = DataVersion.__table__
    if not conn.execute(sa.update(t).where(t.c.name == NAME)
                        .values(version=new_token())).rowcount:
        conn.execute(sa.insert(t).values(name=NAME, version=new_token()))


def kept(key: Hashable, build: Callable[[], V]) -> V:
    """`build()`'s value kept per process while the token holds (read before building: a
    change committed in between leaves a newer value under the older token, read again)."""
    if db.session.info.get(_NOTE):
        return build()
    token = db.session.scalar(sa.select(DataVersion.version).where(DataVersion.name == NAME))
    return _KEPT.get(key, token, build)


def _before_commit(session: Session) -> None:
    if session.info.get(_NOTE) and not session.in_nested_transaction():  # (savepoints: later)
        del session.info[_NOTE]
        write_token(session.connection())


def _ended(session: Session, transaction) -> None:
    if transaction.parent is None and not transaction.nested:
        session.info.pop(_NOTE, None)


sa.event.listen(Session, "before_commit", _before_commit)
sa.event.listen(Session, "after_transaction_end", _ended)
