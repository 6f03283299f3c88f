"""The meetings' calendar: 旬 (days 1–10, 11–20, 21–end) and ISO weeks, by their keys."""

from __future__ import annotations

from datetime import date

import pytest

from server.services.reports import periods
from server.services.reports.periods import PeriodError


@pytest.mark.parametrize(
    ("day", "kind", "key", "first", "last", "zh"),
    [
        (date(2016, 10, 1), "xun", "2016-10-1", date(2016, 10, 1), date(2016, 10, 10),
         "2016年10月上旬"),
        (date(2016, 10, 20), "xun", "2016-10-2", date(2016, 10, 11), date(2016, 10, 20),
         "2016年10月中旬"),
        (date(2016, 10, 31), "xun", "2016-10-3", date(2016, 10, 21), date(2016, 10, 31),
         "2016年10月下旬"),
        (date(2016, 2, 29), "xun", "2016-02-3", date(2016, 2, 21), date(2016, 2, 29),
         "2016年2月下旬"),  # a leap year's February: 9 days
        (date(2017, 2, 21), "xun", "2017-02-3", date(2017, 2, 21), date(2017, 2, 28),
         "2017年2月下旬"),
        (date(2016, 10, 16), "week", "2016-W41", date(2016, 10, 10), date(2016, 10, 16),
         "2016年第41周"),
        (date(2016, 1, 2), "week", "2015-W53", date(2015, 12, 28), date(2016, 1, 3),
         "2015年第53周"),  # ISO: the year's first days may belong to last year's week
    ],
)
def test_periods_by_hand(day, kind, key, first, last, zh):
    p = periods.containing(day, kind)
    assert (p.key, p.start, p.end, p.label("zh_CN")) == (key, first, last, zh)
    assert periods.parse(key) == p


def test_previous_next_and_between():
    p = periods.parse("2016-11-1")
    assert p.previous().key == "2016-10-3" and p.next().key == "2016-11-2"
    assert periods.parse("2016-W01").previous().key == "2015-W53"
    keys = [x.key for x in periods.between(date(2016, 10, 1), date(2016, 11, 30), "xun")]
    assert keys == ["2016-10-1", "2016-10-2", "2016-10-3", "2016-11-1", "2016-11-2",
                    "2016-11-3"]
    assert periods.between(date(2016, 10, 5), date(2016, 10, 4), "week") == []
    assert periods.parse("2016-10-2").label("en") == "2016-10 days 11–20"


@pytest.mark.parametrize("key", ["2016-10-4", "2016-13-1", "2016-W54", "2016/10/1", "", "x"])
def test_a_key_that_is_no_period_is_refused_naming_the_forms(key):
    with pytest.raises(PeriodError, match="is not a period: write 2016-10-1"):
        periods.parse(key)


def test_an_unknown_kind_is_refused():
    with pytest.raises(PeriodError, match="unknown period kind 'month'"):
        periods.containing(date(2016, 10, 1), "month")
