"""What per-process copies of the areas and the staff's assignments compare, read once a request.

The map's count poll and its tiles keep, per process, the area tree, each user's streets and
every coordinator's streets; each copy is valid while the signature it was built under holds.
`stamp()` reads every such signature in one statement, once per request (a flush or an
INSERT/UPDATE/DELETE in the request forgets it: the request may have changed what it names),
so a request that uses several copies pays one round trip, and every process sees a change on
its next request.

`staff` changes whenever an assignment is added, removed or moved, or a user is added, removed,
renamed, (de)activated or given another role: ORM events set a new token in `data_versions`
inside the flush that made the change (a token, not a counter: a rolled back change can never
leave a token that a later change reuses).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Hashable
from typing import Generic, NamedTuple, TypeVar

import sqlalchemy as sa
from flask import has_request_context, request
from sqlalchemy.orm import Session

from server.extensions import db
from server.models import Area, Assignment, DataVersion, Round, User

STAFF = "staff"
_FLAG = "doorstep_staff_changed"
_MEMO = "doorstep.stamp"
_USER_FIELDS = ("username", "role", "active")


class Stamp(NamedTuple):
    """Signatures of the shared data a request's caches were built from."""

    areas: tuple  # (highest area id, areas, `areas` version): scope.areas_signature()
    staff: int | None  # the `staff` token: assignments and users' names, roles, activity
    rounds: tuple  # rounds_signature_columns(): the rounds' spans


_QUERY: list = []
V = TypeVar("V")


class Kept(Generic[V]):
    """Values built per process, per database and key, each kept while the signature it was
    built under holds (the stamp, or the part of it the value depends on); past `most` keys
    all are dropped. Callers get the kept value itself: copy it before changing it."""

    def __init__(self, most: int) -> None:
        self._most = most
        self._values: dict[tuple, tuple[Hashable, V]] = {}

    def get(self, key: Hashable, signature: Hashable, build: Callable[[], V]) -> V:
        full = (db.engine.url, key)
        hit = self._values.get(full)
        if hit is not None and hit[0] == signature:
            return hit[1]
        value = build()
        if len(self._values) >= self._most:
            self._values.clear()
        self._values[full] = (signature, value)
        return value


def rounds_signature_columns() -> list:
    """Scalar subqueries whose values change when the rounds' spans must be re-read (rounds.py
    compares them; the visits step reads them in its one lookup round trip)."""
    return [
        sa.select(sa.func.max(Round.updated_at)).scalar_subquery(),
        sa.select(sa.func.count(Round.id)).scalar_subquery(),
        sa.select(sa.func.max(Area.id)).scalar_subquery(),
    ]


def stamp() -> Stamp:
    """The signatures now: read once per request (and again after a flush in it)."""
    if has_request_context() and (memo := request.environ.get(_MEMO)) is not None:
        return memo
    if not _QUERY:
        _QUERY.append(sa.select(
            sa.select(sa.func.max(Area.id)).scalar_subquery(),
            sa.select(sa.func.count(Area.id)).scalar_subquery(),
            sa.select(DataVersion.version).where(DataVersion.name == "areas").scalar_subquery(),
            sa.select(DataVersion.version).where(DataVersion.name == STAFF).scalar_subquery(),
            *rounds_signature_columns()))  # fmt: skip
    top, n, areas, staff, *spans = db.session.execute(_QUERY[0]).one()
    found = Stamp((top, n, areas), staff, tuple(spans))
    if has_request_context():  # (not g: an app context can outlive a request, in tests)
        request.environ[_MEMO] = found
    return found


def forget() -> None:
    """Read the signatures again on the next stamp() (this request changed one)."""
    if has_request_context():
        request.environ.pop(_MEMO, None)


def _dml(state) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        forget()


def _changed(_mapper, _connection, target) -> None:
    session = sa.orm.object_session(target)
    if session is not None:
        session.info[_FLAG] = True


def _user_changed(_mapper, _connection, target: User) -> None:
    state = sa.inspect(target)
    if any(state.attrs[name].history.has_changes() for name in _USER_FIELDS):
        _changed(_mapper, _connection, target)


def _after_flush(session: Session, _context) -> None:
    forget()
    if not session.info.pop(_FLAG, False):
        return
    t = DataVersion.__table__
    conn = session.connection()
    token = secrets.randbelow(2**31 - 1) + 1
    if not conn.execute(sa.update(t).where(t.c.name == STAFF).values(version=token)).rowcount:
        conn.execute(sa.insert(t).values(name=STAFF, version=token))


for _event in ("after_insert", "after_update", "after_delete"):
    sa.event.listen(Assignment, _event, _changed)
for _event in ("after_insert", "after_delete"):
    sa.event.listen(User, _event, _changed)
sa.event.listen(User, "after_update", _user_changed)
sa.event.listen(Session, "after_flush", _after_flush)
sa.event.listen(Session, "do_orm_execute", _dml)
