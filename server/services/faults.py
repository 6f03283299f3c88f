"""Faults of the machine, not of the request: the disk is full, the database cannot be reached.

Such a fault must never look like success (no 201 while nothing could be stored) nor like a bug
(a 500): every surface answers it in its own format — 507 Insufficient Storage for a full disk,
503 with Retry-After for a database that is gone or saturated — and the processing worker
retries the submissions it interrupted (server.services.processing.pipeline). The handlers are
registered once, by server.web, for any exception that reaches Flask; ingest maps its own.

A full disk shows up as OSError ENOSPC (EDQUOT over a quota; EFBIG past a file-size limit,
RLIMIT_FSIZE), as SQLite's "database or disk is full", or as PostgreSQL's SQLSTATE 53100.
"""

from __future__ import annotations

import errno
from collections.abc import Iterator

from sqlalchemy import exc as sa_exc

from server.services.errors import ServiceError

#: errno values of a write refused for lack of space.
DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})
#: SQLite's messages (SQLITE_FULL, then BUSY/LOCKED, IOERR, CANTOPEN): a machine's state, not
#: a mistake in a statement ("no such column" is an OperationalError too, and is a bug).
_SQLITE_FULL = "database or disk is full"
_SQLITE_TRANSIENT = ("database is locked", "database table is locked", "disk i/o error",
                     "unable to open database file")
#: PostgreSQL's disk_full; its other class-53 states (out of memory, connections) are 503s.
_PG_DISK_FULL = "53100"


class InsufficientStorage(ServiceError):
    """The disk (or the database's disk) is full: nothing was stored (507)."""

    status = 507
    code = "insufficient_storage"


class DatabaseUnavailable(ServiceError):
    """The database cannot be reached or is saturated: nothing was stored; retry (503)."""

    status = 503
    code = "database_unavailable"


def _causes(err: BaseException) -> Iterator[BaseException]:
    """The error, the driver's error inside a SQLAlchemy one, and what it was raised from."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [err]
    while todo and len(seen) < 16:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo += [getattr(current, "orig", None), current.__cause__, current.__context__]


def _sqlite_message(err: BaseException) -> str:
    return str(err).lower() if type(err).__module__.startswith("sqlite3") else ""


def disk_full(err: BaseException) -> bool:
    """Was a write refused for lack of space (disk, quota, file-size limit)?"""
    for cause in _causes(err):
        if isinstance(cause, OSError) and cause.errno in DISK_FULL_ERRNOS:
            return True
        if _SQLITE_FULL in _sqlite_message(cause):
            return True
        if getattr(cause, "sqlstate", None) == _PG_DISK_FULL:
            return True
    return False


def database_unavailable(err: BaseException) -> bool:
    """Is the database gone (connection refused or lost), locked or out of connections?"""
    for cause in _causes(err):
        if isinstance(cause, (sa_exc.TimeoutError, sa_exc.DisconnectionError)):
            return True
        if isinstance(cause, sa_exc.DBAPIError) and cause.connection_invalidated:
            return True
        if any(text in _sqlite_message(cause) for text in _SQLITE_TRANSIENT):
            return True
        if _is_psycopg_operational(cause):
            return True
    return False


def _is_psycopg_operational(err: BaseException) -> bool:
    """psycopg's OperationalError and its subclasses (AdminShutdown, CannotConnectNow …)."""
    return any(cls.__module__.startswith("psycopg") and cls.__name__ in (
        "OperationalError", "InterfaceError") for cls in type(err).__mro__)


def transient(err: BaseException) -> bool:
    """A fault that goes away by itself (space freed, database back): worth retrying."""
    return disk_full(err) or database_unavailable(err)


def as_service_error(err: BaseException) -> ServiceError | None:
    """The answer a machine fault deserves, or None when `err` is something else (a bug)."""
    answer: ServiceError
    if disk_full(err):
        answer = InsufficientStorage("The server's disk is full: nothing was stored. "
                                     "Try again later.")
    elif database_unavailable(err):
        answer = DatabaseUnavailable("The database cannot be reached just now: nothing was "
                                     "changed. Try again in a moment.")
    else:
        return None
    answer.__cause__ = err
    return answer
