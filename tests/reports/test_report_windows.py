"""A meeting report tallies each window once: its period, the round to date and the previous
period come back in its trend, and are counted from the facts already tallied
(metrics.table keeps them with the request's facts)."""

from __future__ import annotations

import pytest

from server.services.reports import meeting, metrics, periods


@pytest.mark.parametrize(("kind", "period"), [("xun", "2016-10-3"), ("week", "2016-W42")])
def test_a_report_tallies_each_window_once(plan, monkeypatch, kind, period):
    tallied = []
    count = metrics._table

    def counted(f, start, end, by):
        tallied.append((start, end, by))
        return count(f, start, end, by)

    monkeypatch.setattr(metrics, "_table", counted)
    report = meeting.build(None, kind, periods.parse(period), meeting.area_for(None, "T", kind))
    assert len(report.trend) >= 3  # the trend repeats the period and the ones before it
    assert len(tallied) == len(set(tallied)), sorted(tallied)
    # each trend period and its to-date (the first period's is itself), and the assessment's
    # table of the period by coordinator
    assert len(tallied) == (2 * len(report.trend) - 1) + 1
