"""Times in the township's zone: stored in UTC, shown in TIMEZONE.

The database holds naive UTC datetimes (server.models._types.utcnow), so a server abroad, a
backup restored elsewhere and PostgreSQL's session zone never shift anything. People read local
time: every page (the `localtime` Jinja filter), export and report converts here, and a
calendar day someone types (a date filter) means the township's day, not UTC's.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import Flask, current_app

from server.config import StartupError

PAGE_FORMAT = "%Y-%m-%d %H:%M"


@cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def zone() -> ZoneInfo:
    """The township's zone (setting TIMEZONE)."""
    return _zone(current_app.config["TIMEZONE"])


def local(moment: datetime) -> datetime:
    """A stored time (naive means UTC) as an aware datetime in the township's zone."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(zone())


def fmt(moment: datetime | None, pattern: str = PAGE_FORMAT) -> str:
    """For pages: local time in `pattern`; nothing for no time."""
    return "" if moment is None else local(moment).strftime(pattern)


def export_text(moment: datetime | None) -> str | None:
    """For exports and JSON: local time with its offset, `2026-12-01 01:30:00+08:00`."""
    return None if moment is None else local(moment).isoformat(sep=" ", timespec="seconds")


def local_date(moment: datetime) -> date:
    """The township's calendar day of a stored time."""
    return local(moment).date()


def today() -> date:
    return datetime.now(zone()).date()


def utc_start_of(day: date) -> datetime:
    """The stored (naive UTC) time at which the township's `day` begins."""
    start = datetime.combine(day, time.min, tzinfo=zone())
    return start.astimezone(UTC).replace(tzinfo=None)


def utc_end_of(day: date) -> datetime:
    """The stored time at which the township's `day` ends (the next day's start)."""
    return utc_start_of(day + timedelta(days=1))


def check(name: str) -> None:
    """A zone name that zoneinfo cannot load stops start-up with one line."""
    try:
        _zone(name)
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise StartupError(
            f"TIMEZONE={name!r} is not a time zone name (for example Asia/Shanghai): {err}"
        ) from err


def init_app(app: Flask) -> None:
    check(app.config["TIMEZONE"])
    app.jinja_env.filters["localtime"] = fmt
    app.jinja_env.globals["timezone_name"] = lambda: app.config["TIMEZONE"]
