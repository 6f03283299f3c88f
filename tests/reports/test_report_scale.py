"""The report pages tally many windows (each period of the trend, to date, the period before)
from one round's facts: each building's visits are replayed once, not once per window (at
200,000 buildings a page did not finish in 20 minutes)."""

from __future__ import annotations

from datetime import date, timedelta

from gis import coverage
from server.services.reports import facts, metrics


def test_visits_are_replayed_once_however_many_windows(plan, monkeypatch):
    f = facts.load(plan.round)
    calls = []
    real = coverage.visit_bit
    monkeypatch.setattr(coverage, "visit_bit", lambda *a: calls.append(a) or real(*a))
    first = date(2016, 10, 1)
    for k in range(10):
        metrics.tally(f, first, first + timedelta(days=3 * k))
    counted = sum(1 for v in f.visits if v.counted)
    assert 0 < len(calls) <= counted
