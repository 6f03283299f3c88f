"""The meetings' calendar: ten-day periods (旬) for the centre, ISO weeks for the stations.

A 旬 is days 1–10 (上旬), 11–20 (中旬) or 21 to the month's end (下旬), so the last one is 8 to 11
days long. A period is named by a key that pages, the CLI and the archive share:
`2016-10-1` … `2016-10-3` for a 旬, `2016-W41` for an ISO week.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta

from server.services.errors import ServiceError

KINDS = ("xun", "week")
_XUN = re.compile(r"^(\d{4})-(\d{2})-([123])$")
_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
_XUN_ZH = {1: "上旬", 2: "中旬", 3: "下旬"}
_XUN_EN = {1: "days 1–10", 2: "days 11–20", 3: "days 21–end"}


class PeriodError(ServiceError):
    """A period key or kind the calendar does not know."""

    code = "unknown_period"


@dataclass(frozen=True, slots=True, order=True)
class Period:
    """One meeting period: its first and last day (both included)."""

    start: date
    end: date
    kind: str

    @property
    def key(self) -> str:
        if self.kind == "week":
            year, week, _ = self.start.isocalendar()
            return f"{year}-W{week:02d}"
        return f"{self.start:%Y-%m}-{_third(self.start)}"

    def label(self, locale: str) -> str:
        """`2016年10月上旬` / `2016-10 days 1–10`; `2016年第41周` / `2016 week 41`."""
        zh = locale.startswith("zh")
        if self.kind == "week":
            year, week, _ = self.start.isocalendar()
            return f"{year}年第{week}周" if zh else f"{year} week {week}"
        n = _third(self.start)
        return (f"{self.start.year}年{self.start.month}月{_XUN_ZH[n]}" if zh
                else f"{self.start:%Y-%m} {_XUN_EN[n]}")

    def span(self) -> str:
        return f"{self.start.isoformat()} – {self.end.isoformat()}"

    def previous(self) -> Period:
        return containing(self.start - timedelta(days=1), self.kind)

    def next(self) -> Period:
        return containing(self.end + timedelta(days=1), self.kind)

    def holds(self, day: date) -> bool:
        return self.start <= day <= self.end


def _third(day: date) -> int:
    return 1 if day.day <= 10 else 2 if day.day <= 20 else 3


def check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise PeriodError("unknown period kind {kind!r}: choose one of {choices}", kind=kind,
                          choices=", ".join(KINDS))
    return kind


def containing(day: date, kind: str) -> Period:
    """The 旬 or ISO week holding `day`."""
    if check_kind(kind) == "week":
        start = day - timedelta(days=day.weekday())
        return Period(start, start + timedelta(days=6), "week")
    n = _third(day)
    first = date(day.year, day.month, 1 + 10 * (n - 1))
    last = (date(day.year, day.month, calendar.monthrange(day.year, day.month)[1]) if n == 3
            else first + timedelta(days=9))
    return Period(first, last, "xun")


def parse(key: str) -> Period:
    """A period from its key (`2016-10-2`, `2016-W41`); PeriodError names the forms."""
    text = (key or "").strip()
    try:
        if m := _XUN.match(text):
            return containing(date(int(m[1]), int(m[2]), 1 + 10 * (int(m[3]) - 1)), "xun")
        if m := _WEEK.match(text):
            return containing(date.fromisocalendar(int(m[1]), int(m[2]), 1), "week")
    except ValueError:
        pass
    raise PeriodError("{key!r} is not a period: write 2016-10-1 (days 1–10 of October 2016), "
                      "2016-10-2, 2016-10-3 or 2016-W41 (ISO week)", key=text)


def between(first: date, last: date, kind: str) -> list[Period]:
    """The periods of a kind that overlap [first, last], in order."""
    out: list[Period] = []
    if last < first:
        return out
    p = containing(first, kind)
    while p.start <= last:
        out.append(p)
        p = p.next()
    return out
