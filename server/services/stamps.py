"""Tokens that change whenever some shared data changes, so each process keeps what it built
from that data (`Stamp.kept`) until it does: the day roll-ups the report pages read
(server/services/coverage/rollup_stamp.py), the register's versions and held registrations
(server/services/register/stamp.py).

A change through the session is noted and the new token written just before the commit, so the
row lock of its `data_versions` row is held only through the commit (concurrent processing
batches queue there briefly, as at the coverage feed's lock); the full recompute and
migrations, on their own connection, write it at once. A random token, not a counter: a rolled
back change, or a database made afresh under the same URL, never meets a token a kept copy was
built under. A transaction that has changed the data and not committed yet reads around the
kept copies.
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

V = TypeVar("V")
_ALL: list[Stamp] = []


def new_token() -> int:
    return secrets.randbelow(2**31 - 1) + 1


class Stamp:
    """The token of `data_versions` row `name`, and the values kept per process under it."""

    def __init__(self, name: str, most: int = 16):
        self.name = name
        self._note = f"doorstep_{name}_changed"
        self._kept: versions.Kept = versions.Kept(most)
        #: Called with the session after its new token is written, the token's row lock held
        #: until the commit: what they write is numbered in commit order (day_moves.py).
        self.at_commit: list[Callable[[Session], None]] = []
        _ALL.append(self)

    def note_changed(self, session: Session | None = None) -> None:
        """The session's transaction changed the data (a new token at its commit)."""
        (session or db.session).info[self._note] = True

    def changed_here(self, session: Session | None = None) -> bool:
        return bool((session or db.session).info.get(self._note))

    def write_token(self, conn: sa.Connection) -> None:
        """A new token now, in `conn`'s transaction (the recompute's or a migration's)."""
        t = DataVersion.__table__
        if not conn.execute(sa.update(t).where(t.c.name == self.name)
                            .values(version=new_token())).rowcount:
            conn.execute(sa.insert(t).values(name=self.name, version=new_token()))

    def kept(self, key: Hashable, build: Callable[[], V], *also: Stamp) -> V:
        """`build()`'s value kept per process while the token (and those of `also`) holds
        (read before building: a change committed in between leaves a newer value under the
        older token, read again)."""
        stamps = (self, *also)
        if any(s.changed_here() for s in stamps):
            return build()
        return self._kept.get(key, _tokens(stamps), build)


def _tokens(stamps: tuple[Stamp, ...]) -> tuple[int | None, ...]:
    """The stamps' tokens, in their order, read in one query."""
    found = dict(db.session.execute(sa.select(DataVersion.name, DataVersion.version).where(
        DataVersion.name.in_([s.name for s in stamps]))).all())
    return tuple(found.get(s.name) for s in stamps)


def _before_commit(session: Session) -> None:
    if session.in_nested_transaction():  # (savepoints: at the real commit)
        return
    if session.new or session.dirty or session.deleted:
        session.flush()  # (the commit's own flush comes after this hook: its changes noted)
    # Rows locked in one order in every process (the stamps' import order differs): two
    # processing batches on PostgreSQL never wait for each other's second row.
    for stamp in sorted(_ALL, key=lambda s: s.name):
        if session.info.pop(stamp._note, None):
            stamp.write_token(session.connection())
            for write in stamp.at_commit:
                write(session)


def _ended(session: Session, transaction) -> None:
    if transaction.parent is None and not transaction.nested:
        for stamp in _ALL:
            session.info.pop(stamp._note, None)


sa.event.listen(Session, "before_commit", _before_commit)
sa.event.listen(Session, "after_transaction_end", _ended)
